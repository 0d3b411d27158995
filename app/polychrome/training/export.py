"""ONNX export of a trained :class:`ColorizationNet`, and loading one back for fine-tuning.

The exported file follows the Polychrome model contract (:mod:`polychrome.runtime.manifest`): input ``L``
float32 [N, 1, H, W] with dynamic N, H, W; output ``logits`` float32 [N, Q, H/stride, W/stride]; the manifest in
the metadata. Two extra metadata entries make the file self-sufficient for fine-tuning:

``polychrome.arch``   JSON constructor arguments of the network (Q, head, stride, width, decoder channels)
``polychrome.prior``  JSON list: the smoothed ab prior (Q,) the model was trained with (for rebalancing)

and, when the export adds the fixed output layers of :mod:`.calibration` (prior correction, hint propagation),
``polychrome.calibration`` with their settings (the layers sit outside ``net.``: fine-tuning starts from the raw
network, and its export adds the layers its own config asks for),

and every weight is stored as an ONNX initializer named ``net.<state_dict key>``: BatchNorm is exported as
BatchNormalization (not folded into the convolutions — ONNX Runtime fuses them itself when it loads the model, so
inference speed is the same), which keeps the initializers one-to-one with the PyTorch parameters and buffers.
:func:`load_base_model` rebuilds the network from ``arch`` and copies them back; :func:`export_onnx` checks that
this works before it writes the file. No companion ``.pt`` file is needed.

Regression models (the L2 / MSE+L1 baselines) predict ab, not logits. To run in the app they are exported with a
fixed last layer that turns ab into logits of a narrow Gaussian around it on the bin table,
z_q = −|c_q − ab|² / (2·6²), whose annealed mean at T = 1 gives back ab (to well under one ab unit inside the
table); their ``default_T`` is therefore 1.

Writes are atomic: the model is exported to a temporary file next to the target, verified there (torch vs ONNX
Runtime at two input sizes, the metadata, a full :class:`~polychrome.runtime.colorizer.Colorizer` run), and only
then renamed onto the target.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np
import torch
import torch.nn as nn

from ..core.bins import ABBins
from ..core.decode import DEFAULT_T, MAX_T
from ..core.errors import ModelError
from ..runtime.manifest import HINT_AB_NAME, HINT_MASK_NAME, INPUT_NAME, OUTPUT_NAME, PREFIX, ModelManifest
from .calibration import CalibratedOutput, Calibration
from .network import L_OFFSET, L_SCALE, ColorizationNet, build_model

OPSET = 17
ARCH_KEY = PREFIX + "arch"
PRIOR_KEY = PREFIX + "prior"
WEIGHTS_KEY = PREFIX + "weights"
CALIBRATION_KEY = PREFIX + "calibration"
WEIGHT_PREFIX = "net."
REGRESSION_SIGMA = 6.0
MAX_DIFF = 1e-3  # absolute, plus MAX_REL_DIFF of the logit's size (the hint propagation makes logits of 10⁴)
MAX_REL_DIFF = 1e-6
MAX_BYTES = 30 * 1024 * 1024


class _ExportModule(nn.Module):
    """What gets exported: the network (as ``net``) plus, for a regression head, the ab -> logits layer."""

    def __init__(
        self,
        net: ColorizationNet,
        centers: np.ndarray,
        calibration: Optional[Calibration] = None,
        prior: Optional[np.ndarray] = None,
    ) -> None:
        super().__init__()
        self.net = net
        self.calibrated = (
            CalibratedOutput(calibration, centers, net.stride, prior, net.hints)
            if calibration is not None and calibration.active
            else None
        )
        self.regression = net.head_type == "regression"
        if self.regression:
            c = torch.from_numpy(np.asarray(centers, dtype=np.float32))
            self.register_buffer("centers", c.view(1, -1, 2, 1, 1), persistent=False)

    def forward(
        self, L: torch.Tensor, hint_ab: Optional[torch.Tensor] = None, hint_mask: Optional[torch.Tensor] = None
    ) -> torch.Tensor:
        y = self.net(L, hint_ab, hint_mask) if self.net.hints else self.net(L)
        if not self.regression:
            return y if self.calibrated is None else self.calibrated(y, L, hint_ab, hint_mask)
        from .network import AB_SCALE

        ab = (y * AB_SCALE).unsqueeze(1)  # [N, 1, 2, h, w]
        d2 = ((ab - self.centers) ** 2).sum(2)  # [N, Q, h, w]
        return d2 * (-0.5 / (REGRESSION_SIGMA * REGRESSION_SIGMA))


def onnx_inputs(side: int, hints: bool) -> Tuple[tuple, List[str], Dict[str, Dict[int, str]]]:
    """What ``torch.onnx.export`` gets for the graph's inputs: zero example inputs of ``side`` x ``side`` (L, and
    with ``hints`` the hint ab and mask), their names, and the dynamic axes of the inputs and the logits output."""
    dummy = torch.zeros(1, 1, side, side, dtype=torch.float32)
    args: tuple = (dummy,)
    names = [INPUT_NAME]
    axes = {INPUT_NAME: {0: "N", 2: "H", 3: "W"}, OUTPUT_NAME: {0: "N", 2: "h", 3: "w"}}
    if hints:
        args = (dummy, torch.zeros(1, 2, side, side), torch.zeros(1, 1, side, side))
        names += [HINT_AB_NAME, HINT_MASK_NAME]
        axes[HINT_AB_NAME] = {0: "N", 2: "H", 3: "W"}
        axes[HINT_MASK_NAME] = {0: "N", 2: "H", 3: "W"}
    return args, names, axes


def _manifest(model: ColorizationNet, manifest_kwargs: Dict[str, Any], size: int) -> ModelManifest:
    kw = dict(manifest_kwargs)
    bins = kw.get("bins")
    if not isinstance(bins, ABBins):
        raise ValueError("manifest_kwargs needs 'bins' (an ABBins)")
    if bins.Q != model.Q:
        raise ValueError(f"the bin table has {bins.Q} bins but the network predicts {model.Q}")
    kw.setdefault("name", "custom")
    kw.setdefault("version", "1.0")
    kw.setdefault("l_offset", L_OFFSET)
    kw.setdefault("l_scale", L_SCALE)
    kw.setdefault("input_size", int(size))
    kw["stride"] = model.stride
    kw.setdefault("default_T", MAX_T if model.head_type == "regression" else DEFAULT_T)
    kw.setdefault("license", "")
    kw.setdefault("description", "")
    kw.setdefault("training", {})
    kw["hints"] = bool(model.hints)
    allowed = set(ModelManifest.__dataclass_fields__) - {"path", "fixed_hw"}
    unknown = set(kw) - allowed
    if unknown:
        raise ValueError(f"unknown manifest fields: {', '.join(sorted(unknown))}")
    return ModelManifest(**kw)


def _check_sizes(size: int, stride: int):
    a = max(stride, (int(size) // stride) * stride)
    # a non-square size that is not a multiple of 32 (exercises the padding inside the network)
    b = ((a * 3) // 4 // stride) * stride + stride
    c = (a // 2 // stride) * stride + stride
    return [(a, a), (b, c)]


def export_onnx(
    model: ColorizationNet,
    manifest_kwargs: Dict[str, Any],
    path: Union[str, Path],
    size: int = 256,
    prior: Optional[np.ndarray] = None,
    verify: bool = True,
    overwrite: bool = True,
    calibration: Optional[Calibration] = None,
) -> Path:
    """Export ``model`` to ``path`` (atomically) with the manifest metadata; verify; return the path.

    ``manifest_kwargs``: fields of :class:`ModelManifest` (``bins`` required; ``stride`` is the model's;
    ``l_offset``/``l_scale`` default to 50/50, ``input_size`` to ``size``). ``prior`` (Q,) is stored for
    fine-tuning. ``calibration``: the fixed output layers of :mod:`.calibration` (prior correction, hint
    propagation), recorded in the metadata. Raises :class:`ModelError` if the export does not reproduce the
    PyTorch model.
    """
    import onnx

    path = Path(path)
    if path.suffix.lower() != ".onnx":
        raise ValueError(f"{path}: the model file name must end in .onnx")
    if path.exists() and not overwrite:
        raise ModelError(f"{path}: file exists; not overwritten")
    path.parent.mkdir(parents=True, exist_ok=True)
    manifest = _manifest(model, manifest_kwargs, size)

    net = copy.deepcopy(model).to("cpu").float().eval()
    if calibration is not None and calibration.active and net.head_type != "classification":
        raise ValueError("the output calibration applies to classification models only")
    wrapper = _ExportModule(net, manifest.bins.centers, calibration, prior).eval()
    s = manifest.stride
    args, input_names, dynamic_axes = onnx_inputs(max(32, (int(size) // 32) * 32), net.hints)

    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".onnx", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                wrapper,
                args,
                str(tmp),
                input_names=input_names,
                output_names=[OUTPUT_NAME],
                dynamic_axes=dynamic_axes,
                opset_version=OPSET,
                do_constant_folding=True,
                training=torch.onnx.TrainingMode.PRESERVE,
                # as inputs, initializers keep their names even when two hold equal values (otherwise they are
                # de-duplicated, e.g. the all-ones BatchNorm scales of an untrained net); see below.
                keep_initializers_as_inputs=True,
                dynamo=False,
            )
        proto = onnx.load(str(tmp))
        # Make the weights plain initializers again (not overridable graph inputs), so the graph has the single
        # input 'L' and ONNX Runtime can fold BatchNorm into the convolutions when it loads the model.
        init_names = {t.name for t in proto.graph.initializer}
        keep = [i for i in proto.graph.input if i.name not in init_names]
        del proto.graph.input[:]
        proto.graph.input.extend(keep)
        metadata = manifest.to_metadata()
        metadata[ARCH_KEY] = json.dumps(net.arch, separators=(",", ":"))
        if prior is not None:
            p = np.asarray(prior, dtype=np.float64).ravel()
            if p.size != manifest.Q:
                raise ValueError(f"prior has {p.size} entries, expected {manifest.Q}")
            metadata[PRIOR_KEY] = json.dumps([float(f"{v:.6g}") for v in p], separators=(",", ":"))
        if wrapper.calibrated is not None:
            metadata[CALIBRATION_KEY] = json.dumps(wrapper.calibrated.cal.to_dict(), separators=(",", ":"))
        metadata[WEIGHTS_KEY] = json.dumps({"initializer_prefix": WEIGHT_PREFIX, "bn_folded": False})
        del proto.metadata_props[:]
        for k, v in metadata.items():
            e = proto.metadata_props.add()
            e.key, e.value = k, v
        proto.producer_name = "polychrome-training"
        proto.doc_string = manifest.description or manifest.name
        onnx.checker.check_model(proto)
        onnx.save(proto, str(tmp))
        if verify:
            _check_weights(proto, net)
            _verify(tmp, wrapper, s, size)
            if tmp.stat().st_size > MAX_BYTES:
                raise ModelError(f"{path}: exported model is {tmp.stat().st_size / 2**20:.1f} MB, over 30 MB")
        os.replace(tmp, path)
        tmp = None
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    return path


def _check_weights(proto, net: ColorizationNet) -> None:
    """Every parameter/buffer that rebuilding the model needs is an initializer of the same name and value."""
    inits = {t.name: t for t in proto.graph.initializer}
    from onnx import numpy_helper

    problems = []
    for k, v in net.state_dict().items():
        if k.endswith("num_batches_tracked"):
            continue
        t = inits.get(WEIGHT_PREFIX + k)
        if t is None:
            problems.append(f"{k} missing")
            continue
        arr = numpy_helper.to_array(t)
        if arr.shape != tuple(v.shape) or not np.array_equal(arr, v.detach().cpu().numpy()):
            problems.append(f"{k} differs")
    if problems:
        raise ModelError(
            "the exported graph does not carry the weights by name (fine-tuning would be impossible): "
            + ", ".join(problems[:10])
        )


def _verify(path: Path, wrapper: nn.Module, stride: int, size: int) -> None:
    from ..runtime.colorizer import Colorizer
    from ..runtime.session import ModelSession

    session = ModelSession(path, "cpu")
    g = torch.Generator().manual_seed(1234)
    for h, w in _check_sizes(size, stride):
        x = (torch.rand(1, 1, h, w, generator=g) * 2.0 - 1.0).float()
        hint_ab = hint_mask = None
        if session.manifest.hints:  # a few hint patches, so the hint inputs are checked too
            hint_mask = (torch.rand(1, 1, h, w, generator=g) > 0.97).float()
            hint_ab = (torch.rand(1, 2, h, w, generator=g) * 160.0 - 80.0) * hint_mask
        with torch.no_grad():
            ref = wrapper(x, hint_ab, hint_mask).numpy()
        out = session.run(
            x.numpy(),
            None if hint_ab is None else hint_ab.numpy(),
            None if hint_mask is None else hint_mask.numpy(),
        )
        if out.shape != ref.shape:
            raise ModelError(f"{path}: ONNX output {out.shape} != PyTorch {ref.shape} for input {h}×{w}")
        excess = np.abs(out - ref) - (MAX_DIFF + MAX_REL_DIFF * np.abs(ref))
        if not np.isfinite(excess).all() or excess.max() > 0:
            diff = float(np.abs(out - ref).max())
            raise ModelError(f"{path}: ONNX and PyTorch disagree by {diff:.2e} (> {MAX_DIFF}) at {h}×{w}")
    colorizer = Colorizer(session)
    gray = np.tile(np.linspace(10, 245, 40, dtype=np.float32).astype(np.uint8), (24, 1))
    pred = colorizer.predict(gray)
    rgb = pred.render(colorizer.default_T)
    if rgb.shape != (24, 40, 3):
        raise ModelError(f"{path}: the colorizer returned {rgb.shape} for a 24×40 image")


@dataclass
class BaseModel:
    """A shipped/exported model rebuilt as a trainable network."""

    model: ColorizationNet
    manifest: ModelManifest
    prior: Optional[np.ndarray]
    arch: Dict[str, Any]
    path: Path
    calibration: Optional[Calibration] = None  # the fixed output layers it was exported with, if any

    @property
    def bins(self) -> ABBins:
        return self.manifest.bins


def load_base_model(path: Union[str, Path]) -> BaseModel:
    """Rebuild the PyTorch network of a Polychrome ONNX model (exported by :func:`export_onnx`) for fine-tuning."""
    import onnx
    from onnx import numpy_helper

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")
    try:
        proto = onnx.load(str(path))
    except Exception as exc:  # noqa: BLE001
        raise ModelError(f"{path}: cannot be read as ONNX: {exc}") from None
    meta = {p.key: p.value for p in proto.metadata_props}
    manifest = ModelManifest.from_metadata(meta, path)
    if ARCH_KEY not in meta:
        raise ModelError(
            f"{path}: this model cannot be fine-tuned: it has no '{ARCH_KEY}' entry "
            "(only models exported by 'polychrome train' carry their architecture)"
        )
    try:
        arch = json.loads(meta[ARCH_KEY])
        model = build_model(arch, pretrained=False)
    except Exception as exc:  # noqa: BLE001
        raise ModelError(f"{path}: unusable architecture entry: {exc}") from None
    if model.Q != manifest.Q:
        raise ModelError(f"{path}: the architecture predicts {model.Q} bins but the bin table has {manifest.Q}")
    inits = {t.name: t for t in proto.graph.initializer}
    sd = model.state_dict()
    new_sd = {}
    missing, wrong = [], []
    for k, v in sd.items():
        if k.endswith("num_batches_tracked"):
            new_sd[k] = v
            continue
        t = inits.get(WEIGHT_PREFIX + k)
        if t is None:
            missing.append(k)
            continue
        arr = numpy_helper.to_array(t)
        if arr.shape != tuple(v.shape):
            wrong.append(f"{k} {arr.shape} != {tuple(v.shape)}")
            continue
        new_sd[k] = torch.from_numpy(np.array(arr, dtype=np.float32))
    if missing or wrong:
        raise ModelError(
            f"{path}: the weights cannot be recovered from the ONNX file: "
            + "; ".join(
                x
                for x in (
                    f"missing {len(missing)}: {', '.join(missing[:8])}" if missing else "",
                    f"mis-shaped: {', '.join(wrong[:8])}" if wrong else "",
                )
                if x
            )
        )
    model.load_state_dict(new_sd, strict=True)
    model.eval()
    prior = None
    if PRIOR_KEY in meta:
        try:
            prior = np.asarray(json.loads(meta[PRIOR_KEY]), dtype=np.float64)
            if prior.shape != (manifest.Q,):
                prior = None
        except ValueError:
            prior = None
    calibration = None
    if CALIBRATION_KEY in meta:
        try:
            calibration = Calibration.from_dict(json.loads(meta[CALIBRATION_KEY]))
        except (ValueError, TypeError):
            calibration = None
    return BaseModel(model=model, manifest=manifest, prior=prior, arch=arch, path=path, calibration=calibration)
