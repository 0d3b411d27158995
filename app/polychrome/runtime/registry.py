"""Where models live: the shipped ``models/`` folder and a per-user models folder.

Search order: folders in ``$POLYCHROME_MODEL_PATH`` (os.pathsep-separated), the per-user folder
(``platformdirs.user_data_dir("Polychrome")/models``, or ``$POLYCHROME_USER_MODELS``), the models inside the
installed package, and the source checkout's ``models/``. The default model is ``$POLYCHROME_DEFAULT_MODEL`` if
set, else the shipped model named in ``models/DEFAULT`` (or the first shipped one), else the first user model.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

import platformdirs

from ..core.errors import ModelError
from .manifest import ModelManifest
from .session import file_sha256, read_manifest

SUMS_NAME = "SHA256SUMS"  # beside the models: "<sha256>  <file name>" lines, as `sha256sum *.onnx` writes them
WRITE_SUMS_HINT = "polychrome models --write-sums {folder}"

_PKG_ROOT = Path(__file__).resolve().parent.parent  # .../polychrome
NO_MODEL_MESSAGE = (
    "No colorization model is installed. Polychrome's default model has not been added to this installation yet; "
    "copy a Polychrome .onnx model into {user_dir} or pass --model PATH."
)


@dataclass
class ModelEntry:
    path: Path
    source: str  # "shipped", "user" or "path"
    manifest: Optional[ModelManifest] = None
    error: Optional[str] = None
    verified: Optional[bool] = None  # True: matches the SHA256SUMS beside it; None: no sums listed for it
    warnings: List[str] = field(default_factory=list)  # e.g. its name is found twice

    @property
    def name(self) -> str:
        return self.manifest.name if self.manifest else self.path.stem

    @property
    def ok(self) -> bool:
        return self.manifest is not None and self.error is None

    @property
    def sha256(self) -> str:
        return file_sha256(self.path)

    @property
    def short_sha(self) -> str:
        return self.sha256[:12]


# -- checksums ----------------------------------------------------------------------------------------------------

_SUM_LINE = re.compile(r"^([0-9a-fA-F]{64}) [ *](.+)$")


def read_sums(folder: Path) -> Optional[Dict[str, str]]:
    """{file name: sha256} from ``folder``/SHA256SUMS, or None when there is no such file."""
    path = Path(folder) / SUMS_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the checksums: {exc.strerror or exc}") from None
    sums: Dict[str, str] = {}
    for line in text.splitlines():
        m = _SUM_LINE.match(line.strip())
        if m:
            sums[Path(m.group(2)).name] = m.group(1).lower()
    return sums


def write_sums(folder: Union[str, Path]) -> Path:
    """Write ``folder``/SHA256SUMS for every .onnx model in it (atomically; `sha256sum -c` reads it too)."""
    from ..core.fileops import atomic_write_bytes

    folder = Path(folder)
    models = sorted(folder.glob("*.onnx"))
    if not models:
        raise ModelError(f"{folder}: no .onnx models to list")
    text = "".join(f"{file_sha256(m)}  {m.name}\n" for m in models)
    return atomic_write_bytes(folder / SUMS_NAME, text.encode("utf-8"))


def verify(path: Path) -> Tuple[Optional[bool], Optional[str]]:
    """Check a model against the SHA256SUMS beside it: (True, None) it matches; (None, None) no sums list it;
    (False, reason) it does not match — damaged or replaced."""
    sums = read_sums(path.parent)
    if sums is None or path.name not in sums:
        return None, None
    actual = file_sha256(path)
    if actual == sums[path.name]:
        return True, None
    return False, (
        f"{path}: checksum mismatch: its sha256 is {actual[:12]}…, {path.parent / SUMS_NAME} says "
        f"{sums[path.name][:12]}… — the file is damaged or was replaced; reinstall it (or, if it was replaced on "
        f"purpose, run `{WRITE_SUMS_HINT.format(folder=path.parent)}`)"
    )


def _entry(f: Path, source: str) -> ModelEntry:
    try:
        entry = ModelEntry(f, source, read_manifest(f))
    except ModelError as exc:
        return ModelEntry(f, source, None, str(exc))
    try:
        entry.verified, entry.error = verify(f)
    except (ModelError, OSError) as exc:
        entry.error = str(exc)
    return entry


def user_models_dir(create: bool = False) -> Path:
    env = os.environ.get("POLYCHROME_USER_MODELS")
    d = Path(env) if env else Path(platformdirs.user_data_dir("Polychrome", appauthor=False)) / "models"
    if create:
        d.mkdir(parents=True, exist_ok=True)
    return d


def shipped_model_dirs() -> List[Path]:
    dirs = [_PKG_ROOT / "_shipped_models", _PKG_ROOT.parent.parent / "models"]
    frozen = getattr(__import__("sys"), "_MEIPASS", None)
    if frozen:
        dirs.insert(0, Path(frozen) / "models")
    return [d for d in dirs if d.is_dir()]


def search_dirs() -> List[Tuple[Path, str]]:
    out: List[Tuple[Path, str]] = []
    for p in filter(None, os.environ.get("POLYCHROME_MODEL_PATH", "").split(os.pathsep)):
        out.append((Path(p), "path"))
    out.append((user_models_dir(), "user"))
    for d in shipped_model_dirs():
        out.append((d, "shipped"))
    return out


def list_models() -> List[ModelEntry]:
    """Every .onnx file in the search folders, with its manifest or the reason it was refused."""
    seen = set()
    entries: List[ModelEntry] = []
    for d, source in search_dirs():
        if not d.is_dir():
            continue
        for f in sorted(d.glob("*.onnx")):
            key = f.resolve()
            if key in seen:
                continue
            seen.add(key)
            entries.append(_entry(f, source))
    _name_clashes(entries)
    return entries


def _name_clashes(entries: List[ModelEntry]) -> None:
    """A name (manifest name or file stem) found in two files: each such entry gets a warning naming both; the
    first in search order is the one a name selects."""
    by_name: Dict[str, List[ModelEntry]] = {}
    for e in entries:
        for name in {e.name, e.path.stem}:
            by_name.setdefault(name, []).append(e)
    for name, group in by_name.items():
        if len(group) < 2:
            continue
        first, others = group[0], group[1:]
        for o in others:
            text = (f"model name {name!r} found twice: {first.path} [{first.source}] is used, "
                    f"{o.path} [{o.source}] is ignored")
            for e in (first, o):
                if text not in e.warnings:
                    e.warnings.append(text)


def default_model() -> ModelEntry:
    """The model used when none is chosen; raises ModelError with a clear message when none is installed."""
    env = os.environ.get("POLYCHROME_DEFAULT_MODEL")
    if env:
        return find_model(env)
    everything = list_models()
    entries = [e for e in everything if e.ok]
    shipped = [e for e in entries if e.source == "shipped"]
    for d in shipped_model_dirs():
        marker = d / "DEFAULT"
        if marker.is_file():
            want = marker.read_text(encoding="utf-8").strip()
            for e in everything:
                if e.source == "shipped" and (e.path.name == want or e.path.stem == want or e.name == want):
                    if not e.ok:  # damaged or replaced: never fall back silently to another model
                        raise ModelError(e.error or f"{e.path}: unusable model")
                    return e
    if shipped:
        return shipped[0]
    if entries:
        return entries[0]
    raise ModelError(NO_MODEL_MESSAGE.format(user_dir=user_models_dir()))


def find_model(name_or_path: Union[str, Path, None]) -> ModelEntry:
    """A model by file path, file name/stem, or manifest name; ``None`` means the default model."""
    if name_or_path is None or str(name_or_path) == "":
        return default_model()
    p = Path(name_or_path)
    if p.suffix.lower() == ".onnx" and (p.exists() or p.is_absolute() or len(p.parts) > 1):
        entry = ModelEntry(p, "path", read_manifest(p))
        entry.verified, error = verify(p)
        if error:
            raise ModelError(error)
        return entry
    for e in list_models():
        if e.path.name == str(name_or_path) or e.path.stem == str(name_or_path) or e.name == str(name_or_path):
            if not e.ok:
                raise ModelError(e.error or f"{e.path}: unusable model")
            return e
    known = ", ".join(sorted({e.name for e in list_models() if e.ok})) or "none installed"
    raise ModelError(f"no model named {name_or_path!r} (known models: {known})")


def install_model(src: Union[str, Path], name: Optional[str] = None, overwrite: bool = False) -> Path:
    """Copy a validated model into the per-user folder (atomically) and return its new path."""
    src = Path(src)
    read_manifest(src)  # refuse anything that breaks the contract
    dest_dir = user_models_dir(create=True)
    dest = dest_dir / ((name or src.stem) + ".onnx")
    if dest.exists() and not overwrite:
        raise ModelError(f"{dest}: a model with this name is already installed")
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".onnx", dir=dest_dir)
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dest
