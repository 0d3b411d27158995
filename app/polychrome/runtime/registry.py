"""Where models live: the shipped ``models/`` folder and a per-user models folder.

Search order: folders in ``$POLYCHROME_MODEL_PATH`` (os.pathsep-separated), the per-user folder
(``platformdirs.user_data_dir("Polychrome")/models``, or ``$POLYCHROME_USER_MODELS``), the models inside the
installed package, and the source checkout's ``models/``. The default model is ``$POLYCHROME_DEFAULT_MODEL`` if
set, else the shipped model named in ``models/DEFAULT`` (or the first shipped one), else the first user model.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple, Union

import platformdirs

from ..core.errors import ModelError
from .manifest import ModelManifest
from .session import read_manifest

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

    @property
    def name(self) -> str:
        return self.manifest.name if self.manifest else self.path.stem

    @property
    def ok(self) -> bool:
        return self.manifest is not None


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
            try:
                entries.append(ModelEntry(f, source, read_manifest(f)))
            except ModelError as exc:
                entries.append(ModelEntry(f, source, None, str(exc)))
    return entries


def default_model() -> ModelEntry:
    """The model used when none is chosen; raises ModelError with a clear message when none is installed."""
    env = os.environ.get("POLYCHROME_DEFAULT_MODEL")
    if env:
        return find_model(env)
    entries = [e for e in list_models() if e.ok]
    shipped = [e for e in entries if e.source == "shipped"]
    for d in shipped_model_dirs():
        marker = d / "DEFAULT"
        if marker.is_file():
            want = marker.read_text(encoding="utf-8").strip()
            for e in shipped:
                if e.path.name == want or e.path.stem == want or e.name == want:
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
        return ModelEntry(p, "path", read_manifest(p))
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
