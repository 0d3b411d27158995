#!/usr/bin/env python3
"""Build Polychrome's one-folder PyInstaller bundle for one onnxruntime flavour, from a clean virtual environment.

    python3 packaging/build.py --flavour cpu                      # Linux/macOS CPU build
    python3 packaging/build.py --flavour cuda                     # Linux/Windows, onnxruntime-gpu
    py -3.11 packaging\\build.py --flavour directml --package     # Windows: bundle + Inno Setup installer
    python3 packaging/build.py --flavour coreml --package         # macOS: Polychrome.app + .dmg
    python3 packaging/build.py --flavour cpu --with-training      # + CPU PyTorch for the training wizard

Steps: (1) make ``build/venv-<flavour>[-train]`` with the interpreter running this script (``--fresh`` deletes it
first; it is reused while the requirement list is unchanged), (2) install the project's runtime dependencies from
``pyproject.toml`` (core + ``gui`` extra, ``train`` extra with ``--with-training``) with exactly one onnxruntime
package for the flavour, plus PyInstaller, (3) check the environment holds exactly that onnxruntime and no torch
unless training was asked for, (4) run ``packaging/polychrome.spec`` into ``dist/<flavour>[-train]/``, (5) with
``--package``, make the platform's installer: a ``.tar.gz`` on Linux, ``Polychrome-<v>.dmg`` on macOS
(``packaging/macos/make_dmg.sh``), the Inno Setup installer on Windows (``ISCC.exe`` on PATH or
``$ISCC``). Prints the bundle's size.

Polychrome itself is not installed into the build environment: the spec analyses ``app/polychrome`` from this
checkout, so what is bundled is exactly the working tree.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SPEC = HERE / "polychrome.spec"
PYINSTALLER = "pyinstaller>=6.10"

ORT_PACKAGE = {  # the one onnxruntime distribution per flavour
    "cpu": "onnxruntime",
    "coreml": "onnxruntime",  # the macOS wheels carry the CoreML execution provider
    "cuda": "onnxruntime-gpu",
    "directml": "onnxruntime-directml",
}
ORT_DISTS = ("onnxruntime", "onnxruntime-gpu", "onnxruntime-directml")
FLAVOURS_BY_PLATFORM = {
    "linux": ("cpu", "cuda"),
    "win32": ("directml", "cpu", "cuda"),
    "darwin": ("coreml", "cpu"),
}


def platform_key() -> str:
    return "win32" if sys.platform == "win32" else "darwin" if sys.platform == "darwin" else "linux"


def project_version() -> str:
    text = (ROOT / "app" / "polychrome" / "__init__.py").read_text(encoding="utf-8")
    return re.search(r'^__version__\s*=\s*"([^"]+)"', text, re.M).group(1)


def _pyproject() -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _name(req: str) -> str:
    return re.split(r"[\s<>=!~;\[(]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def requirements(flavour: str, with_training: bool) -> list:
    """pip requirement strings: pyproject's dependencies and extras with the flavour's onnxruntime."""
    proj = _pyproject()["project"]
    reqs = [r for r in proj["dependencies"] if not _name(r).startswith("onnxruntime")]
    reqs += proj["optional-dependencies"]["gui"]
    if with_training:
        reqs += [r for r in proj["optional-dependencies"]["train"] if _name(r) != "torch"]
    reqs.append(ORT_PACKAGE[flavour] + ">=1.17")
    return reqs


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def run(cmd, **kw) -> None:
    print("+ " + " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, **kw)


def make_venv(venv: Path, flavour: str, with_training: bool, fresh: bool, constraint: Path | None) -> Path:
    reqs = requirements(flavour, with_training)
    torch_spec = os.environ.get("TORCH_SPEC", "torch==2.13.0")
    torch_index = os.environ.get("TORCH_INDEX_URL", "")
    stamp_text = json.dumps([sys.version, reqs, PYINSTALLER, with_training and [torch_spec, torch_index],
                             constraint and hashlib.sha1(constraint.read_bytes()).hexdigest()])
    stamp = venv / ".polychrome-build"
    if fresh and venv.exists():
        shutil.rmtree(venv)
    if venv.exists() and not (stamp.is_file() and stamp.read_text() == stamp_text):
        print(f"{venv}: requirements changed, making it again", flush=True)
        shutil.rmtree(venv)
    py = venv_python(venv)
    if not venv.exists():
        run([sys.executable, "-m", "venv", venv])
        pip = [py, "-m", "pip", "install", "--disable-pip-version-check"]
        pin = ["-c", constraint] if constraint else []
        run(pip + ["-q", "--upgrade", "pip"])
        if with_training:
            # The CPU build first: a plain 'torch' requirement would pull the CUDA build (several GB).
            run(pip + [torch_spec] + (["--index-url", torch_index] if torch_index else []) + pin)
        run(pip + reqs + [PYINSTALLER] + pin)
        stamp.write_text(stamp_text)
    return py


def check_venv(py: Path, flavour: str, with_training: bool) -> dict:
    """The environment holds exactly the flavour's onnxruntime, and torch only for a training build."""
    code = (
        "import json, importlib.metadata as m\n"
        "d = {x.metadata['Name'].lower().replace('_', '-'): x.version for x in m.distributions()}\n"
        "print(json.dumps(d))\n"
    )
    dists = json.loads(subprocess.run([str(py), "-c", code], check=True, capture_output=True, text=True).stdout)
    orts = [d for d in ORT_DISTS if d in dists]
    if orts != [ORT_PACKAGE[flavour]]:
        sys.exit(f"build environment has {orts or 'no onnxruntime'}; the {flavour} flavour needs exactly "
                 f"{ORT_PACKAGE[flavour]} (use --fresh)")
    if ("torch" in dists) != with_training:
        sys.exit("build environment " + ("lacks" if with_training else "has") + " torch (use --fresh)")
    return dists


def dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def mib(n: int) -> str:
    return f"{n / 2 ** 20:.1f} MiB"


def package(bundle: Path, dist: Path, work: Path, tag: str) -> Path | None:
    version = project_version()
    plat = platform_key()
    if plat == "linux":
        import platform

        out = dist / f"polychrome-{version}-linux-{platform.machine()}-{tag}.tar.gz"
        print(f"writing {out}", flush=True)
        top = f"polychrome-{version}"
        with tarfile.open(out, "w:gz", compresslevel=6) as tar:
            tar.add(bundle, arcname=top)
            for extra in ("polychrome.desktop", "install-desktop-entry.sh"):
                tar.add(HERE / "linux" / extra, arcname=f"{top}/{extra}")
        return out
    if plat == "darwin":
        out = dist / f"Polychrome-{version}-macos-{tag}.dmg"
        run(["bash", HERE / "macos" / "make_dmg.sh", dist / "Polychrome.app", out, version])
        return out
    iscc = os.environ.get("ISCC") or shutil.which("ISCC") or shutil.which("iscc")
    if not iscc:
        default = Path(os.environ.get("ProgramFiles(x86)", r"C:\Program Files (x86)")) / "Inno Setup 6" / "ISCC.exe"
        iscc = str(default) if default.is_file() else None
    if not iscc:
        sys.exit("Inno Setup's ISCC.exe was not found (install Inno Setup 6 or set ISCC)")
    ico = work / "polychrome.ico"  # written by the spec
    run([iscc, f"/DAppVersion={version}", f"/DSourceDir={bundle}", f"/DOutputDir={dist}", f"/DFlavour={tag}"]
        + ([f"/DIconFile={ico}"] if ico.is_file() else []) + [HERE / "windows" / "polychrome.iss"])
    return dist / f"Polychrome-{version}-windows-{tag}-setup.exe"


def main(argv=None) -> int:
    plat = platform_key()
    p = argparse.ArgumentParser(description="Build the Polychrome bundle (PyInstaller, one folder).")
    p.add_argument("--flavour", choices=sorted(ORT_PACKAGE), default=FLAVOURS_BY_PLATFORM[plat][0],
                   help=f"onnxruntime flavour (here: {', '.join(FLAVOURS_BY_PLATFORM[plat])}; "
                        f"default {FLAVOURS_BY_PLATFORM[plat][0]})")
    p.add_argument("--with-training", action="store_true", help="bundle CPU PyTorch for the training wizard")
    p.add_argument("--venv", type=Path, help="build environment (default build/venv-<flavour>[-train])")
    p.add_argument("--dist", type=Path, help="output folder (default dist/<flavour>[-train])")
    p.add_argument("--work", type=Path, help="PyInstaller's work folder (default build/pyi-<flavour>[-train])")
    p.add_argument("--fresh", action="store_true", help="make the build environment again from nothing")
    p.add_argument("--constraint", type=Path, help="pip constraints file pinning the bundled versions")
    p.add_argument("--package", action="store_true", help="also make the platform's installer or archive")
    p.add_argument("--require-model", action="store_true", help="fail when models/ holds no .onnx (releases)")
    p.add_argument("--venv-only", action="store_true", help="only prepare the build environment")
    a = p.parse_args(argv)
    if a.flavour not in FLAVOURS_BY_PLATFORM[plat]:
        p.error(f"flavour {a.flavour} cannot be built on {plat} (choose from {FLAVOURS_BY_PLATFORM[plat]})")
    tag = a.flavour + ("-train" if a.with_training else "")
    venv = (a.venv or ROOT / "build" / f"venv-{tag}").resolve()
    dist = (a.dist or ROOT / "dist" / tag).resolve()
    work = (a.work or ROOT / "build" / f"pyi-{tag}").resolve()

    t0 = time.monotonic()
    py = make_venv(venv, a.flavour, a.with_training, a.fresh, a.constraint and a.constraint.resolve())
    dists = check_venv(py, a.flavour, a.with_training)
    print(f"build environment {venv} ready in {time.monotonic() - t0:.0f} s "
          f"({ORT_PACKAGE[a.flavour]} {dists[ORT_PACKAGE[a.flavour]]}, pyinstaller {dists.get('pyinstaller')}"
          f"{', torch ' + dists['torch'] if 'torch' in dists else ''})", flush=True)
    if a.venv_only:
        return 0

    env = dict(os.environ, POLYCHROME_BUILD_FLAVOUR=a.flavour,
               POLYCHROME_BUILD_TRAINING="1" if a.with_training else "0",
               POLYCHROME_BUILD_REQUIRE_MODEL="1" if a.require_model else "0")
    env.pop("PYTHONPATH", None)
    t1 = time.monotonic()
    run([py, "-m", "PyInstaller", SPEC, "--noconfirm", "--clean", "--log-level", "WARN",
         "--distpath", dist, "--workpath", work], env=env, cwd=ROOT)
    bundle = dist / "Polychrome"
    print(f"\nbundle: {bundle} ({mib(dir_size(bundle))}) built in {time.monotonic() - t1:.0f} s", flush=True)
    if plat == "darwin" and (dist / "Polychrome.app").is_dir():
        print(f"app:    {dist / 'Polychrome.app'} ({mib(dir_size(dist / 'Polychrome.app'))})")
    if a.package:
        out = package(bundle, dist, work, tag)
        if out and out.is_file():
            print(f"package: {out} ({mib(out.stat().st_size)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
