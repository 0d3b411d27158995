"""Import the original Zhang et al. models — ECCV16 and SIGGRAPH17 release weights a user has downloaded — as
Polychrome models, so that every feature (T slider, distribution view, compare, A/B, hints) works on them.

    import_original_model(progress, cancel, "eccv16", "colorization_release_v2-9b330a0b.pth", output="eccv16.onnx")

The release files are PyTorch state dicts (``torch.load(..., weights_only=True)``: no code in them is run). Every
key and shape is checked against the layout (:mod:`polychrome.training.zhang_nets`); a mismatch is refused with
one line naming the first wrong key. When the file name carries the release's hash prefix (``…-9b330a0b.pth``,
the first hex digits of the file's SHA-256, as torch.hub names them) and the file's hash does not start with it,
the import goes on with a warning.

The exported ONNX model follows the runtime contract (:mod:`polychrome.runtime.manifest`): input ``L`` with the
house normalisation (L* − 50) / 50, converted to the authors' (L* − 50) / 100 inside the graph; output ``logits``
at 1/4 resolution (ECCV16: 313 bins taken from ``model_out`` × 110; SIGGRAPH17: 529 bins, the 23 × 23 grid of step
10); SIGGRAPH17 also takes ``hint_ab`` / ``hint_mask`` like Polychrome's own hint models and can export its
regression output as ``ab``. Metadata: input size 256, stride 4, default T 0.38, the licence (BSD-2-Clause, the
weights credited to the authors) and the source file's SHA-256.

Nothing here imports torch at module level (the app starts without it); :func:`import_original_model` is the job
the CLI (``polychrome import-model``) and the app (Model ▸ Import Original Zhang Model…) both run.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np

from ..core.decode import DEFAULT_T
from ..core.errors import ModelError, one_line
from ..core.progress import CancelToken, Progress, ensure_progress
from ..runtime.manifest import HINT_AB_NAME, HINT_MASK_NAME, INPUT_NAME, OUTPUT_NAME, PREFIX

INPUT_SIZE = 256
STRIDE = 4
L_OFFSET, L_SCALE = 50.0, 50.0  # the house normalisation of the input L (the graph converts it)
REGRESSION_OUTPUT = "ab"
MAX_REL_DIFF = 1e-4  # ONNX Runtime against PyTorch, relative to the largest logit
LICENSE_CODE = "BSD-2-Clause"
SOURCE_KEY = PREFIX + "source_sha256"
ORIGINAL_KEY = PREFIX + "original"
OUTPUTS_KEY = PREFIX + "outputs"
_NAME_OK = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+ -]{0,79}")
_HASH_IN_NAME = re.compile(r"-([0-9a-fA-F]{6,64})\.(?:pth|pt|bin)$")


@dataclass(frozen=True)
class OriginalArch:
    key: str
    title: str
    paper: str
    authors: str
    release_file: str
    url: str
    default_name: str
    Q: int
    hints: bool

    @property
    def release_hash_prefix(self) -> str:
        m = _HASH_IN_NAME.search(self.release_file)
        return m.group(1).lower() if m else ""


ARCHS: Dict[str, OriginalArch] = {
    "eccv16": OriginalArch(
        key="eccv16",
        title="ECCV16 — Colorful Image Colorization",
        paper="Zhang, Isola & Efros, \u201cColorful Image Colorization\u201d, ECCV 2016",
        authors="Richard Zhang, Phillip Isola and Alexei A. Efros",
        release_file="colorization_release_v2-9b330a0b.pth",
        url="https://colorizers.s3.us-east-2.amazonaws.com/colorization_release_v2-9b330a0b.pth",
        default_name="zhang-eccv16",
        Q=313,
        hints=False,
    ),
    "siggraph17": OriginalArch(
        key="siggraph17",
        title="SIGGRAPH17 — Real-Time User-Guided Image Colorization",
        paper="Zhang, Zhu, Isola, Geng, Lin, Yu & Efros, \u201cReal-Time User-Guided Image Colorization with "
        "Learned Deep Priors\u201d, SIGGRAPH 2017",
        authors="Richard Zhang, Jun-Yan Zhu, Phillip Isola, Xinyang Geng, Angela S. Lin, Tianhe Yu and Alexei A. Efros",
        release_file="siggraph17-df00044c.pth",
        url="https://colorizers.s3.us-east-2.amazonaws.com/siggraph17-df00044c.pth",
        default_name="zhang-siggraph17",
        Q=529,
        hints=True,
    ),
}
REPOSITORY = "https://github.com/richzhang/colorization"


def arch_info(arch: str) -> OriginalArch:
    try:
        return ARCHS[arch]
    except KeyError:
        raise ModelError(f"unknown architecture {arch!r}: choose {' or '.join(ARCHS)}") from None


def guess_arch(path: Union[str, Path]) -> Optional[str]:
    """The architecture a release file's name suggests (``siggraph17-….pth``, ``colorization_release_v2-….pth``)."""
    n = Path(path).name.lower()
    if "siggraph" in n:
        return "siggraph17"
    if "eccv" in n or "colorization_release" in n:
        return "eccv16"
    return None


def hash_prefix_in_name(path: Union[str, Path]) -> Optional[str]:
    """The hex hash prefix a file name carries before its extension (``…-9b330a0b.pth``), lower case, or None."""
    m = _HASH_IN_NAME.search(Path(path).name)
    return m.group(1).lower() if m else None


def sha256_file(path: Path, progress: Optional[Progress] = None, chunk: int = 4 << 20) -> str:
    """The file's SHA-256 (hex), read in chunks; cancellable between chunks."""
    progress = ensure_progress(progress)
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while True:
                b = f.read(chunk)
                if not b:
                    break
                h.update(b)
                progress.check()
    except OSError as exc:
        raise ModelError(f"{path}: cannot be read: {exc.strerror or one_line(exc)}") from None
    return h.hexdigest()


def hash_warning(path: Path, sha256: str) -> Optional[str]:
    """A warning when the name's hash prefix does not match the file's SHA-256; None when it does or has none."""
    prefix = hash_prefix_in_name(path)
    if prefix is None or sha256.lower().startswith(prefix):
        return None
    return (
        f"{path.name}: the name carries the release hash {prefix} but the file's SHA-256 starts with "
        f"{sha256[:len(prefix)]}: the download is damaged or the file is not the authors' release"
    )


# -- reading and checking the state dict ---------------------------------------------------------------------


def load_state_dict(path: Path) -> Dict[str, Any]:
    """The state dict in a PyTorch weights file, loaded with ``weights_only=True`` (no code runs). Anything that is
    not a readable state dict raises :class:`ModelError` with one line naming the file and the reason."""
    import pickle
    import zipfile

    import torch

    if not path.is_file():
        raise ModelError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise ModelError(f"{path}: the file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        m = re.search(r"Unsupported global: GLOBAL ([\w.]+)", text)
        if m:
            raise ModelError(
                f"{path}: not a plain state dict: it holds Python objects ({m.group(1)}) that a weights file must "
                "not contain (refused without running them)"
            ) from None
        m = re.search(r"WeightsUnpickler error:\s*([^\n]+)", text)
        raise ModelError(f"{path}: not a PyTorch weights file, or a damaged one "
                         f"({m.group(1).strip() if m else one_line(exc)})") from None
    except (EOFError, zipfile.BadZipFile, RuntimeError, OSError) as exc:
        reason = one_line(exc)
        if isinstance(exc, EOFError) or "central directory" in reason or "failed reading" in reason:
            reason = "the file ends early (truncated download?)"
        raise ModelError(f"{path}: cannot be read as a PyTorch weights file: {reason}") from None
    except MemoryError:
        raise ModelError(f"{path}: not enough memory to read the weights") from None
    except Exception as exc:  # noqa: BLE001 - any other failure of the unpickler is a bad file, said in one line
        raise ModelError(f"{path}: not a PyTorch weights file, or a damaged one ({type(exc).__name__}: "
                         f"{one_line(exc)})") from None
    if not isinstance(obj, dict):
        raise ModelError(f"{path}: not a state dict: the file holds a {type(obj).__name__}, not a mapping of "
                         "parameter names to tensors")
    for k, v in obj.items():
        if not isinstance(k, str) or not isinstance(v, torch.Tensor):
            raise ModelError(f"{path}: not a state dict: entry {k!r} holds a {type(v).__name__}, not a tensor")
    if obj and all(k.startswith("module.") for k in obj):  # saved from a DataParallel wrapper
        obj = {k[len("module."):]: v for k, v in obj.items()}
    return obj


def expected_layout(arch: str) -> Dict[str, Tuple[int, ...]]:
    """Every key of the architecture's state dict with its shape (in the layout's order)."""
    from .zhang_nets import build_layout

    return {k: tuple(v.shape) for k, v in build_layout(arch).state_dict().items()}


def _optional(key: str) -> bool:
    return key.endswith("num_batches_tracked")  # written by newer PyTorch versions only


def layout_problem(state: Dict[str, Any], arch: str) -> Optional[str]:
    """Why ``state`` is not the architecture's state dict — the first wrong key and what is wrong — or None."""
    want = expected_layout(arch)
    for k, shape in want.items():
        if k not in state:
            if _optional(k):
                continue
            return f"key '{k}' is missing"
        got = tuple(state[k].shape)
        if got != shape:
            return f"key '{k}' has shape {list(got)} where the layout has {list(shape)}"
    for k in state:
        if k not in want:
            return f"key '{k}' is not part of the layout"
    return None


def check_layout(state: Dict[str, Any], arch: str, path: Path) -> None:
    """Raise ModelError naming the first wrong key (and the other layout, when the file matches that one)."""
    problem = layout_problem(state, arch)
    if problem is None:
        return
    others = [a for a in ARCHS if a != arch and layout_problem(state, a) is None]
    hint = f"; it is the {others[0]} layout — import it as '{others[0]}'" if others else ""
    raise ModelError(f"{path}: not the {arch} layout: {problem}{hint}")


def eccv16_bins(state: Dict[str, Any], path: Optional[Path] = None):
    """ECCV16's bin table: ``model_out``'s weights × 110 (313 ab centres on the grid of 10), in its order."""
    from ..core.bins import ABBins
    from .zhang_nets import AB_NORM

    w = state["model_out.weight"].detach().float().cpu().numpy()
    centers = w[:, :, 0, 0].T.astype(np.float64) * AB_NORM
    try:
        return ABBins.from_centers(centers, grid=10.0, name="zhang-eccv16-313")
    except ValueError as exc:
        where = f"{path}: " if path else ""
        raise ModelError(f"{where}model_out does not hold a bin table ({exc}): not the ECCV16 weights") from None


def siggraph17_bins():
    from ..core.bins import ABBins

    return ABBins.full_grid(110.0, 10.0, name="zhang-siggraph17-529")


def random_state_dict(arch: str, seed: int = 0) -> Dict[str, Any]:
    """Random weights in the release layout (He-normal convolutions, BatchNorm with random statistics; ECCV16's
    ``model_out`` a shuffled set of 313 grid cells / 110): for speed measurements and tests, where the real
    weights cannot be downloaded."""
    import math

    import torch

    g = torch.Generator().manual_seed(seed)
    sd: Dict[str, Any] = {}
    for k, shape in expected_layout(arch).items():
        if k.endswith("num_batches_tracked"):
            sd[k] = torch.tensor(0)
        elif k.endswith("running_mean"):
            sd[k] = 0.1 * torch.randn(shape, generator=g)
        elif k.endswith("running_var"):
            sd[k] = 1.0 + 0.2 * torch.rand(shape, generator=g)
        elif len(shape) == 1 and k.endswith("weight"):
            sd[k] = 1.0 + 0.1 * torch.randn(shape, generator=g)
        elif k.endswith("bias"):
            sd[k] = 0.05 * torch.randn(shape, generator=g)
        else:
            sd[k] = torch.randn(shape, generator=g) * math.sqrt(2.0 / (shape[1] * shape[2] * shape[3]))
    if arch == "eccv16":
        cells = [(a, b) for a in range(-11, 12) for b in range(-11, 12)]
        pick = torch.randperm(len(cells), generator=g)[:313].tolist()
        centers = torch.tensor([cells[i] for i in pick], dtype=torch.float32) * 10.0
        sd["model_out.weight"] = (centers.t() / 110.0).reshape(2, 313, 1, 1)
    return sd


# -- the job -------------------------------------------------------------------------------------------------


@dataclass
class ImportedModel:
    arch: str
    path: Optional[Path]  # the written .onnx (None when only installed)
    installed: Optional[Path]  # the copy in the user's models folder, with --install
    name: str
    sha256: str
    Q: int
    warnings: List[str] = field(default_factory=list)
    max_rel_diff: float = 0.0  # ONNX Runtime vs PyTorch in the verification

    @property
    def model_path(self) -> Path:
        p = self.installed or self.path
        assert p is not None
        return p


def check_name(name: str) -> str:
    name = name.strip()
    if not _NAME_OK.fullmatch(name) or name.endswith((".", " ")):
        raise ModelError(f"{name!r} is not a usable model name (letters, digits, '.', '-', '_', '+' and spaces; "
                         "at most 80 characters)")
    return name


def _manifest(arch: OriginalArch, name: str, bins, sha256: str, source: Path, hash_state: str, regression: bool):
    from .. import __version__
    from ..runtime.manifest import ModelManifest

    bins_from = "model_out × 110 (read from the weights)" if arch.key == "eccv16" else "23 × 23 grid, step 10, ±110"
    description = (
        f"{arch.paper}. The authors' release weights ({arch.release_file}, trained on 1.3 M ImageNet photos), "
        f"imported unchanged by Polychrome: {bins.Q} ab bins ({bins_from}) at 1/4 resolution"
        + ("; takes colour hints" if arch.hints else "")
        + ". The authors' own PyTorch code decodes these logits with a plain softmax (T = 1)."
    )
    license_text = (
        f"{LICENSE_CODE} (the licence of the authors' repository, {REPOSITORY}). The weights are the work of "
        f"{arch.authors}, trained on ImageNet; Polychrome only converted them to ONNX."
    )
    training = {
        "imported": {
            "architecture": arch.key,
            "source_file": source.name,
            "source_sha256": sha256,
            "release_file": arch.release_file,
            "release_url": arch.url,
            "hash_prefix_check": hash_state,
            "bins": bins_from,
            "regression_output": REGRESSION_OUTPUT if regression else None,
            "converted_by": f"polychrome {__version__}",
        },
        "data": "ImageNet (1.3 M photos), trained by the authors",
    }
    return ModelManifest(
        name=name,
        version=f"{arch.key}-{sha256[:8]}",
        bins=bins,
        l_offset=L_OFFSET,
        l_scale=L_SCALE,
        input_size=INPUT_SIZE,
        stride=STRIDE,
        default_T=DEFAULT_T,
        license=license_text,
        description=description,
        training=training,
        hints=arch.hints,
    )


def _export(wrapper: Any, arch: OriginalArch, regression: bool, path: Path) -> None:
    import torch

    from .export import OPSET, onnx_inputs

    args, names, axes = onnx_inputs(64, arch.hints)
    outputs = [OUTPUT_NAME]
    if regression:
        outputs.append(REGRESSION_OUTPUT)
        axes[REGRESSION_OUTPUT] = {0: "N", 2: "H", 3: "W"}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapper, args, str(path), input_names=names, output_names=outputs, dynamic_axes=axes,
            opset_version=OPSET, do_constant_folding=True, dynamo=False,
        )


def _verify(path: Path, wrapper: Any, arch: OriginalArch, regression: bool) -> float:
    """ONNX Runtime against the PyTorch wrapper at two sizes (one not a multiple of 8), hints included; then one
    run through the runtime's Colorizer. Returns the largest relative difference of the logits."""
    import onnxruntime as ort
    import torch

    from ..runtime.colorizer import Colorizer
    from ..runtime.session import ModelSession

    so = ort.SessionOptions()
    so.intra_op_num_threads = max(1, min(4, os.cpu_count() or 1))
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    g = torch.Generator().manual_seed(7)
    worst = 0.0
    for h, w in ((64, 64), (52, 84)):
        yy = torch.linspace(-1, 1, h).view(1, 1, h, 1)
        xx = torch.linspace(-1, 1, w).view(1, 1, 1, w)
        L = (0.6 * torch.sin(3 * xx + 2 * yy) + 0.3 * torch.rand(1, 1, h, w, generator=g)).clamp(-1, 1)
        args: tuple = (L,)
        if arch.hints:
            mask = (torch.rand(1, 1, h, w, generator=g) > 0.97).float()
            ab = (torch.rand(1, 2, h, w, generator=g) * 160 - 80) * mask
            args = (L, ab, mask)
        with torch.no_grad():
            ref = wrapper(*args)
        refs = ref if isinstance(ref, tuple) else (ref,)
        feeds = {n: a.numpy() for n, a in zip([INPUT_NAME, HINT_AB_NAME, HINT_MASK_NAME], args)}
        outs = sess.run(None, feeds)
        for o, r in zip(outs, refs):
            r = r.numpy()
            if o.shape != r.shape:
                raise ModelError(f"the exported graph gives {o.shape} where PyTorch gives {r.shape} at {h}×{w}")
            scale = float(np.abs(r).max()) or 1.0
            d = float(np.abs(o - r).max()) / scale
            if not np.isfinite(d) or d > MAX_REL_DIFF:
                raise ModelError(f"the exported graph and PyTorch disagree by {d:.1e} (relative) at {h}×{w}")
            worst = max(worst, d)
    colorizer = Colorizer(ModelSession(path, "cpu"), input_size=64)
    gray = np.tile(np.linspace(10, 245, 40, dtype=np.float32).astype(np.uint8), (24, 1))
    if colorizer.predict(gray).render(colorizer.default_T).shape != (24, 40, 3):
        raise ModelError("the runtime could not colorize with the exported model")
    return worst


def import_original_model(
    progress: Optional[Progress],
    cancel: Optional[CancelToken],
    arch: str,
    weights: Union[str, Path],
    output: Union[str, Path, None] = None,
    name: Optional[str] = None,
    install: bool = False,
    regression: bool = False,
    overwrite: bool = False,
) -> ImportedModel:
    """Convert an original Zhang et al. weights file into a Polychrome model.

    ``output``: the .onnx file to write (never replacing one unless ``overwrite``); ``install``: also (or only,
    without ``output``) put it into the per-user models folder under ``name``; ``regression``: SIGGRAPH17 only,
    also export the regression head as output ``ab``. Raises :class:`ModelError` with one line on bad input."""
    from ..core.fileops import atomic_write_bytes
    from ..runtime.registry import install_model, user_models_dir

    progress = ensure_progress(progress)
    if cancel is not None:
        progress.cancel_token = cancel
    info = arch_info(arch)
    weights = Path(weights)
    name = check_name(name or info.default_name)
    if regression and not info.hints:
        raise ModelError("only SIGGRAPH17 has a regression output to export")
    if output is None and not install:
        raise ModelError("nothing to do: give an output file or install the model")
    out = Path(output) if output is not None else None
    if out is not None:
        if out.suffix.lower() != ".onnx":
            raise ModelError(f"{out}: the model file name must end in .onnx")
        if out.exists() and not overwrite:
            raise ModelError(f"{out}: file exists; not overwritten")
        if out.parent and not out.parent.is_dir():
            raise ModelError(f"{out.parent}: no such folder")
    if install:
        dest = user_models_dir() / f"{name}.onnx"
        if dest.exists() and not overwrite:
            raise ModelError(f"{dest}: a model named {name!r} is already installed; choose another name")
    if not weights.is_file():
        raise ModelError(f"{weights}: file not found")

    progress.set_total(6)
    progress.update(0, f"reading {weights.name}")
    sha = sha256_file(weights, progress)
    notes: List[str] = []
    warning = hash_warning(weights, sha)
    hash_state = "no hash prefix in the file name" if hash_prefix_in_name(weights) is None else (
        "mismatch" if warning else "ok")
    if warning:
        notes.append(warning)
    progress.update(1, "loading the weights", warning=warning)

    import torch

    from .zhang_nets import ECCV16Export, SIGGRAPH17Export, build_layout

    state = load_state_dict(weights)
    progress.update(2, "checking the layout")
    check_layout(state, info.key, weights)
    net = build_layout(info.key)
    net.load_state_dict(state, strict=False)  # num_batches_tracked may be absent; everything else was checked
    net.eval()
    bins = eccv16_bins(state, weights) if info.key == "eccv16" else siggraph17_bins()
    del state
    wrapper = ECCV16Export(net, L_SCALE) if info.key == "eccv16" else SIGGRAPH17Export(net, L_SCALE, regression)
    wrapper.eval()
    manifest = _manifest(info, name, bins, sha, weights, hash_state, regression)
    progress.update(3, "exporting to ONNX")

    import onnx

    with tempfile.TemporaryDirectory(prefix="polychrome-import-") as tmpdir:
        tmp = Path(tmpdir) / f"{name}.onnx"
        try:
            _export(wrapper, info, regression, tmp)
        except Exception as exc:  # noqa: BLE001
            raise ModelError(f"{weights}: the export to ONNX failed: {one_line(exc)}") from None
        proto = onnx.load(str(tmp))
        metadata = manifest.to_metadata()
        metadata[SOURCE_KEY] = sha
        metadata[ORIGINAL_KEY] = info.key
        metadata[OUTPUTS_KEY] = ",".join([OUTPUT_NAME] + ([REGRESSION_OUTPUT] if regression else []))
        del proto.metadata_props[:]
        for k, v in metadata.items():
            proto.metadata_props.add(key=k, value=v)
        proto.producer_name = "polychrome-import-model"
        proto.doc_string = manifest.description
        onnx.checker.check_model(proto)
        data = proto.SerializeToString()
        del proto
        tmp.write_bytes(data)
        progress.update(4, "verifying the exported model")
        with torch.no_grad():
            worst = _verify(tmp, wrapper, info, regression)
        progress.update(5, "writing the model")
        written = installed = None
        if out is not None:
            written = atomic_write_bytes(out, data, overwrite=overwrite)
        if install:
            installed = install_model(written or tmp, name=name, overwrite=overwrite)
    progress.update(6, "done")
    return ImportedModel(info.key, written, installed, name, sha, bins.Q, notes, worst)
