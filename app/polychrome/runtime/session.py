"""ONNX Runtime sessions for colorization models: contract checks, provider fallback, caching."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

import numpy as np
import onnxruntime as ort

from ..core.errors import ModelError
from . import providers as prov
from .manifest import HINT_AB_NAME, HINT_MASK_NAME, INPUT_NAME, OUTPUT_NAME, ModelManifest


def _dim(d: object) -> Optional[int]:
    return d if isinstance(d, int) and d > 0 else None


def check_contract(session: ort.InferenceSession, manifest: ModelManifest, path: Path) -> Optional[Tuple[int, int]]:
    """Raise ModelError naming what is wrong; return the fixed (H, W) of the input, if any."""
    ins, outs = session.get_inputs(), session.get_outputs()
    names = [i.name for i in ins]
    hint_names = [HINT_AB_NAME, HINT_MASK_NAME]
    if names not in ([INPUT_NAME], [INPUT_NAME] + hint_names):
        raise ModelError(
            f"{path}: expected one input named '{INPUT_NAME}' (and optionally '{HINT_AB_NAME}', '{HINT_MASK_NAME}'), "
            f"found: {', '.join(names)}"
        )
    has_hints = len(names) == 3
    if has_hints != manifest.hints:
        said = "says it takes colour hints" if manifest.hints else "does not declare colour hints"
        raise ModelError(f"{path}: the metadata {said} but the graph's inputs are {', '.join(names)}")
    for hi, channels in zip(ins[1:], (2, 1)):
        if hi.type != "tensor(float)" or len(hi.shape) != 4 or _dim(hi.shape[1]) not in (None, channels):
            raise ModelError(
                f"{path}: input '{hi.name}' must be float32 [N, {channels}, H, W], is {hi.type} {hi.shape}"
            )
    i = ins[0]
    if i.type != "tensor(float)":
        raise ModelError(f"{path}: input '{INPUT_NAME}' must be float32, is {i.type}")
    if len(i.shape) != 4 or (_dim(i.shape[1]) not in (None, 1)):
        raise ModelError(f"{path}: input '{INPUT_NAME}' must be [N, 1, H, W], is {i.shape}")
    out = [o for o in outs if o.name == OUTPUT_NAME]
    if not out:
        raise ModelError(f"{path}: no output named '{OUTPUT_NAME}' (outputs: {', '.join(o.name for o in outs)})")
    o = out[0]
    if o.type != "tensor(float)" or len(o.shape) != 4:
        raise ModelError(f"{path}: output '{OUTPUT_NAME}' must be float32 [N, Q, h, w], is {o.type} {o.shape}")
    q = _dim(o.shape[1])
    if q is not None and q != manifest.Q:
        raise ModelError(f"{path}: output has {q} bins but the model's bin table has {manifest.Q}")
    h, w = _dim(i.shape[2]), _dim(i.shape[3])
    if (h is None) != (w is None):
        raise ModelError(f"{path}: input height and width must be both fixed or both dynamic, got {i.shape}")
    if h is not None and w is not None:
        if h % manifest.stride or w % manifest.stride:
            raise ModelError(f"{path}: fixed input {h}×{w} is not a multiple of the stride {manifest.stride}")
        return (h, w)
    return None


_SHA_CACHE: Dict[Tuple[str, int, int], str] = {}


def file_sha256(path: Union[str, Path]) -> str:
    """The sha256 (hex) of a model file, cached per (path, size, mtime) so a listing does not hash it again."""
    p = Path(path)
    try:
        st = p.stat()
    except OSError:
        raise ModelError(f"{path}: model file not found") from None
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    with _CACHE_LOCK:
        digest = _SHA_CACHE.get(key)
    if digest is None:
        h = hashlib.sha256()
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        digest = h.hexdigest()
        with _CACHE_LOCK:
            _SHA_CACHE[key] = digest
    return digest


def read_manifest(path: Union[str, Path]) -> ModelManifest:
    """Read and validate a model's manifest (opens a lightweight CPU session)."""
    path = Path(path)
    sess = _open(path, [prov.CPU], light=True)
    manifest = ModelManifest.from_metadata(dict(sess.get_modelmeta().custom_metadata_map), path)
    manifest.fixed_hw = check_contract(sess, manifest, path)
    return manifest


def _open(path: Path, chain: List[str], light: bool = False) -> ort.InferenceSession:
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")
    so = prov.session_options_for(chain[0])
    if light:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    try:
        return ort.InferenceSession(
            str(path), sess_options=so, providers=[(p, prov.provider_options(p)) for p in chain]
        )
    except Exception as exc:  # noqa: BLE001
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{path}: cannot be loaded by onnxruntime: {msg}") from None


class ModelSession:
    """One model on one provider chain. ``run`` is thread-safe; ``run_count`` counts inferences."""

    def __init__(self, path: Union[str, Path], provider: Optional[str] = None) -> None:
        self.path = Path(path)
        self.manifest = read_manifest(self.path)
        chain, self.reason = prov.choose(provider)
        self.requested_chain = chain
        self.fallback_reason: Optional[str] = None
        try:
            self.session = _open(self.path, chain)
        except ModelError as exc:
            if chain == [prov.CPU]:
                raise
            self.fallback_reason = f"{prov.FRIENDLY.get(chain[0], chain[0])} failed to start ({exc}); using CPU"
            self.session = _open(self.path, [prov.CPU])
        self._first_run_done = False
        self._sha256: Optional[str] = None
        self._lock = threading.Lock()
        self.run_count = 0

    @property
    def provider(self) -> str:
        return self.session.get_providers()[0]

    @property
    def provider_label(self) -> str:
        return prov.FRIENDLY.get(self.provider, self.provider)

    @property
    def status(self) -> str:
        """One line for a status bar: the provider in use and why (including any fallback)."""
        if self.fallback_reason:
            return f"{self.provider_label} — {self.fallback_reason}"
        if self.provider != self.requested_chain[0]:
            wanted = prov.FRIENDLY.get(self.requested_chain[0], self.requested_chain[0])
            return f"{self.provider_label} — {wanted} was not usable for this model"
        return f"{self.provider_label} — {self.reason}"

    @property
    def sha256(self) -> str:
        """The model file's sha256 (hex); :attr:`short_sha` is its first 12 digits."""
        if self._sha256 is None:
            self._sha256 = file_sha256(self.path)
        return self._sha256

    @property
    def short_sha(self) -> str:
        return self.sha256[:12]

    @property
    def takes_hints(self) -> bool:
        return self.manifest.hints

    def feeds(
        self, x: np.ndarray, hint_ab: Optional[np.ndarray] = None, hint_mask: Optional[np.ndarray] = None
    ) -> Dict[str, np.ndarray]:
        """The input dict for one run: L, plus the hint maps (zeros where not given) for a hint-taking model.

        Hints given to a model without hint inputs raise :class:`ModelError` (they would be silently lost)."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        feeds = {INPUT_NAME: x}
        given = hint_ab is not None or hint_mask is not None
        if not self.takes_hints:
            if given and hint_mask is not None and np.any(hint_mask):
                raise ModelError(f"{self.path}: this model does not take colour hints")
            return feeds
        n, _, h, w = x.shape
        if hint_ab is None or hint_mask is None:
            hint_ab = np.zeros((n, 2, h, w), np.float32) if hint_ab is None else hint_ab
            hint_mask = (
                (np.abs(hint_ab).sum(1, keepdims=True) > 0).astype(np.float32) if hint_mask is None else hint_mask
            )
        if hint_ab.shape != (n, 2, h, w) or hint_mask.shape != (n, 1, h, w):
            raise ModelError(
                f"{self.path}: hint maps must be [N, 2, H, W] and [N, 1, H, W] like L {x.shape}, "
                f"got {hint_ab.shape} and {hint_mask.shape}"
            )
        feeds[HINT_AB_NAME] = np.ascontiguousarray(hint_ab, dtype=np.float32)
        feeds[HINT_MASK_NAME] = np.ascontiguousarray(hint_mask, dtype=np.float32)
        return feeds

    def run(
        self, x: np.ndarray, hint_ab: Optional[np.ndarray] = None, hint_mask: Optional[np.ndarray] = None
    ) -> np.ndarray:
        """Logits for normalised L [N, 1, H, W]; hint maps (ab units, mask 0/1) for a hint-taking model."""
        feeds = self.feeds(x, hint_ab, hint_mask)
        with self._lock:
            try:
                out = self.session.run([OUTPUT_NAME], feeds)[0]
            except Exception as exc:  # noqa: BLE001
                if self.provider == prov.CPU or self._first_run_done:
                    raise ModelError(f"{self.path}: inference failed: {str(exc).strip()[:300]}") from None
                # The accelerator accepted the model but failed on the first run: fall back for good.
                self.fallback_reason = (
                    f"{self.provider_label} failed on the first run ({str(exc).strip()[:200]}); using CPU"
                )
                self.session = _open(self.path, [prov.CPU])
                out = self.session.run([OUTPUT_NAME], feeds)[0]
            self._first_run_done = True
            self.run_count += 1
        return out


_CACHE: Dict[Tuple[object, ...], ModelSession] = {}
_CACHE_LOCK = threading.Lock()


def get_session(path: Union[str, Path], provider: Optional[str] = None) -> ModelSession:
    """A cached :class:`ModelSession` per (model file, modification time, provider)."""
    p = Path(path).resolve()
    try:
        mtime = p.stat().st_mtime_ns
    except OSError:
        raise ModelError(f"{path}: model file not found") from None
    key = (str(p), mtime, (provider or "").lower())
    with _CACHE_LOCK:
        s = _CACHE.get(key)
        if s is None:
            s = _CACHE[key] = ModelSession(p, provider)
        return s


def clear_cache() -> None:
    with _CACHE_LOCK:
        _CACHE.clear()
