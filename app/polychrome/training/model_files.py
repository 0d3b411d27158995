"""Editing finished Polychrome ONNX models without training: weight averaging and metadata stamping.

* :func:`average_models` mixes the weights of two models of the same network (weight-space interpolation, as in
  "model soups" / WiSE-FT): ``out = alpha · A + (1 − alpha) · B`` for every floating-point initializer; A's
  metadata is kept, with the mix recorded under ``training["averaged"]``.
* :func:`stamp_model` sets the descriptive metadata (licence, description, version, default T, a recipe under
  ``training["recipe"]``) without touching the weights.

Both write atomically and check the output against the runtime's contract. They need the ``onnx`` package (the
training extra), imported when they run; torch is not needed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import numpy as np

from ..core.errors import ModelError
from ..core.fileops import atomic_write_bytes
from ..runtime.manifest import PREFIX, ModelManifest
from ..runtime.session import read_manifest


def _training_notes(props: Dict[str, str]) -> Dict[str, Any]:
    notes: Dict[str, Any] = json.loads(props.get(PREFIX + "training", "{}") or "{}")
    return notes


def _write(model: Any, props: Dict[str, str], output: Path) -> Tuple[Path, ModelManifest]:
    del model.metadata_props[:]
    for k, v in props.items():
        model.metadata_props.add(key=k, value=v)
    out = atomic_write_bytes(output, model.SerializeToString())
    return out, read_manifest(out)  # the runtime's contract check


def _mix_initializers(a: Any, b: Any, b_name: str, alpha: float) -> int:
    """Replace A's floating-point initializers by the mix with B's; returns how many were mixed."""
    from onnx import numpy_helper

    b_init = {t.name: t for t in b.graph.initializer}
    mixed = 0
    for t in a.graph.initializer:
        if t.name not in b_init:
            raise ModelError(f"initializer {t.name} is missing from {b_name}")
        x, y = numpy_helper.to_array(t), numpy_helper.to_array(b_init[t.name])
        if x.shape != y.shape or x.dtype != y.dtype:
            raise ModelError(f"initializer {t.name}: {x.shape} {x.dtype} vs {y.shape} {y.dtype}")
        if np.issubdtype(x.dtype, np.floating):
            z = (alpha * x.astype(np.float64) + (1.0 - alpha) * y.astype(np.float64)).astype(x.dtype)
            t.CopyFrom(numpy_helper.from_array(z, t.name))
            mixed += 1
        elif not np.array_equal(x, y):
            raise ModelError(f"integer initializer {t.name} differs between the models")
    return mixed


@dataclass
class Averaged:
    path: Path
    manifest: ModelManifest
    mixed: int  # floating-point tensors averaged


def average_models(a_path: Path, b_path: Path, output: Path, alpha: float = 0.5) -> Averaged:
    """Write ``alpha · A + (1 − alpha) · B`` to ``output``. Raises ModelError when the networks differ."""
    import onnx

    if not 0.0 <= alpha <= 1.0:
        raise ModelError("alpha must lie in [0, 1]")
    a, b = onnx.load(str(a_path)), onnx.load(str(b_path))
    if [n.op_type for n in a.graph.node] != [n.op_type for n in b.graph.node]:
        raise ModelError("the two models have different graphs")
    mixed = _mix_initializers(a, b, str(b_path), alpha)
    props = {p.key: p.value for p in a.metadata_props}
    training = _training_notes(props)
    training["averaged"] = {"a": Path(a_path).name, "b": Path(b_path).name, "alpha": alpha}
    props[PREFIX + "training"] = json.dumps(training)
    out, manifest = _write(a, props, Path(output))
    return Averaged(out, manifest, mixed)


def stamp_model(
    src: Path,
    output: Path,
    license: Optional[str] = None,  # noqa: A002 - the manifest's field name
    description: Optional[str] = None,
    version: Optional[str] = None,
    default_T: Optional[float] = None,  # noqa: N803
    recipe: Optional[Any] = None,
) -> Tuple[Path, ModelManifest]:
    """Copy ``src`` to ``output`` with the given metadata set (None: unchanged); the input is never replaced."""
    import onnx

    if Path(src).resolve() == Path(output).resolve():
        raise ModelError("the output must be a new file")
    model = onnx.load(str(src))
    props = {p.key: p.value for p in model.metadata_props}
    for key, value in (("license", license), ("description", description), ("version", version)):
        if value is not None:
            props[PREFIX + key] = value
    if default_T is not None:
        props[PREFIX + "default_T"] = repr(float(default_T))
    if recipe is not None:
        training = _training_notes(props)
        training["recipe"] = recipe
        props[PREFIX + "training"] = json.dumps(training)
    return _write(model, props, Path(output))
