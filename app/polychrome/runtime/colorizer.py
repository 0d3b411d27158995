"""The colorizer: one inference per image, cached logits, and any temperature afterwards for free.

    colorizer = Colorizer()                 # default model, best provider
    pred = colorizer.predict(pixels)        # runs the network once
    rgb = pred.render(T=0.38)               # full resolution, source bit depth, no new inference
    preview = pred.preview(T=0.2)           # fast uint8 preview (≈2 MP), no new inference
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from numpy.typing import DTypeLike

from ..core.decode import LogitsDecoder, softmax_t
from ..core.errors import ImageReadError
from ..core.hints import ColorHint, rasterize_hints
from ..core.imageio import Bands
from ..core.merge import (
    PreviewMerger,
    lightness,
    merge_bands,
    merge_full_resolution,
    merge_lab,
    output_dtype,
    resized_lightness,
    upsample_ab_fixed,
)
from ..core.pixels import fit_max_side
from ..core.progress import Progress, ensure_progress
from .manifest import ModelManifest
from .registry import ModelEntry, find_model
from .session import ModelSession, get_session

PREVIEW_PIXELS = 2_000_000


@dataclass
class PreparedInput:
    tensor: np.ndarray  # [1, 1, Hp, Wp] normalised L
    size: Tuple[int, int]  # (h_in, w_in) of the resized image inside the tensor
    cells: Tuple[int, int]  # valid output cells (h_in/stride, w_in/stride)


class Colorizer:
    """Runs a colorization model on images. Thread-safe; share one per model and provider."""

    def __init__(
        self,
        model: Union[None, str, Path, ModelEntry, ModelSession] = None,
        provider: Optional[str] = None,
        input_size: Optional[int] = None,
    ) -> None:
        if isinstance(model, ModelSession):
            self.session = model
        else:
            entry = model if isinstance(model, ModelEntry) else find_model(model)
            self.session = get_session(entry.path, provider)
        self.manifest: ModelManifest = self.session.manifest
        self.input_size = int(input_size or self.manifest.input_size)

    # -- info -----------------------------------------------------------------------------------
    @property
    def run_count(self) -> int:
        return self.session.run_count

    @property
    def provider(self) -> str:
        return self.session.provider_label

    @property
    def status(self) -> str:
        return self.session.status

    @property
    def default_T(self) -> float:
        return self.manifest.default_T

    # -- inference ------------------------------------------------------------------------------
    def prepare(self, L: Optional[np.ndarray], pixels: Optional[np.ndarray] = None) -> PreparedInput:
        """Resize L* so its long side is the model's input size, snap to the stride, normalise, pad if fixed.
        With ``pixels`` (and ``L`` None) the L* is taken from the source band by band instead."""
        m = self.manifest
        s = m.stride
        H, W = (pixels if pixels is not None else L).shape[:2]  # type: ignore[union-attr]
        if m.fixed_hw:
            fh, fw = m.fixed_hw
            scale = min(fh / H, fw / W)
            h_in = max(s, min(fh, int(round(H * scale / s)) * s))
            w_in = max(s, min(fw, int(round(W * scale / s)) * s))
        else:
            scale = self.input_size / max(H, W)
            h_in = max(s, int(round(H * scale / s)) * s)
            w_in = max(s, int(round(W * scale / s)) * s)
        interp = cv2.INTER_AREA if (h_in < H and w_in < W) else cv2.INTER_CUBIC
        if pixels is not None:  # L* straight from the source's rows, no full-resolution L* map
            small = resized_lightness(pixels, (h_in, w_in), interp)
        else:
            assert L is not None
            small = cv2.resize(L.astype(np.float32, copy=False), (w_in, h_in), interpolation=interp)
        np.clip(small, 0.0, 100.0, out=small)
        x = (small - np.float32(m.l_offset)) * np.float32(1.0 / m.l_scale)
        if m.fixed_hw:
            fh, fw = m.fixed_hw
            x = cv2.copyMakeBorder(x, 0, fh - h_in, 0, fw - w_in, cv2.BORDER_REPLICATE)
        return PreparedInput(x[None, None].astype(np.float32), (h_in, w_in), (h_in // s, w_in // s))

    @property
    def takes_hints(self) -> bool:
        """Whether the model has the colour-hint inputs (``hints`` to :meth:`predict` then steer it)."""
        return self.manifest.hints

    def hint_maps(
        self, hints: Sequence[ColorHint], image_shape: Tuple[int, int], prep: PreparedInput
    ) -> Tuple[np.ndarray, np.ndarray]:
        """[1, 2, Hp, Wp] and [1, 1, Hp, Wp] hint maps on the prepared input's grid (zero in any padding)."""
        hp, wp = prep.tensor.shape[2:]
        ab = np.zeros((1, 2, hp, wp), np.float32)
        mask = np.zeros((1, 1, hp, wp), np.float32)
        h_in, w_in = prep.size
        ab[0, :, :h_in, :w_in], mask[0, :, :h_in, :w_in] = rasterize_hints(hints, image_shape, (h_in, w_in))
        return ab, mask

    def logits_for(
        self, L: Optional[np.ndarray], hints: Optional[Sequence[ColorHint]] = None, pixels: Optional[np.ndarray] = None
    ) -> np.ndarray:
        """(Q, h, w) logits for a full-resolution L* map (one inference), steered by ``hints`` if given; or for the
        source ``pixels`` (``L`` None), whose L* is then never made at full resolution."""
        prep = self.prepare(L, pixels)
        prep_shape = (pixels if pixels is not None else L).shape[:2]  # type: ignore[union-attr]
        hint_ab = hint_mask = None
        if hints:
            if not self.takes_hints:
                from ..core.errors import ModelError

                raise ModelError(f"{self.manifest.path or self.manifest.name}: this model does not take colour hints")
            hint_ab, hint_mask = self.hint_maps(hints, prep_shape, prep)
        out = self.session.run(prep.tensor, hint_ab, hint_mask)
        m = self.manifest
        hp, wp = prep.tensor.shape[2:]
        if out.ndim != 4 or out.shape[0] != 1 or out.shape[1] != m.Q:
            raise_contract(m, f"output shape {out.shape} for input {prep.tensor.shape}")
        if out.shape[2] * m.stride != hp or out.shape[3] * m.stride != wp:
            raise_contract(
                m, f"output is {out.shape[2]}×{out.shape[3]} for a {hp}×{wp} input, but the stride is {m.stride}"
            )
        ch, cw = prep.cells
        return out[0, :, :ch, :cw]

    def predict(
        self,
        pixels: np.ndarray,
        progress: Optional[Progress] = None,
        name: str = "",
        hints: Optional[Sequence[ColorHint]] = None,
    ) -> Prediction:
        """Colorize an image (gray (H, W) or RGB (H, W, 3), uint8/uint16/float): one inference, cached.

        ``hints`` (full-resolution coordinates) steer a hint-taking model; other models refuse them."""
        progress = ensure_progress(progress)
        if pixels.ndim not in (2, 3) or min(pixels.shape[:2]) < 1:
            raise ImageReadError(name or "image", f"cannot colorize an array of shape {pixels.shape}")
        progress.check()
        logits = self.logits_for(None, hints, pixels=pixels)
        progress.check()
        return Prediction(pixels, None, logits, self.manifest)  # L* is made when asked for (the app), not here


def raise_contract(m: ModelManifest, what: str) -> None:
    from ..core.errors import ModelError

    raise ModelError(f"{m.path or m.name}: breaks the model contract: {what}")


class Prediction:
    """Cached network output for one image. Every method is pure decoding: no inference."""

    def __init__(
        self, pixels: np.ndarray, L: Optional[np.ndarray], logits: np.ndarray, manifest: ModelManifest
    ) -> None:
        self.pixels = pixels
        self._L = L
        self.manifest = manifest
        self.decoder = LogitsDecoder(logits, manifest.bins.centers)
        self._preview_L: Optional[np.ndarray] = None
        self._preview_size: Optional[Tuple[int, int]] = None
        self._preview_merger: Optional[PreviewMerger] = None

    @property
    def L(self) -> np.ndarray:
        """Full-resolution L* (H, W) float32 of the source, made on first use (an export never needs it whole)."""
        if self._L is None:
            self._L = lightness(self.pixels)
        return self._L

    @property
    def shape(self) -> Tuple[int, int]:
        return (int(self.pixels.shape[0]), int(self.pixels.shape[1]))

    @property
    def grid_shape(self) -> Tuple[int, int]:
        return self.decoder.shape

    def ab(self, T: float) -> np.ndarray:
        """(h, w, 2) predicted ab on the network's grid."""
        return self.decoder.annealed_mean(T)

    def render(
        self,
        T: float,
        out_dtype: Optional[DTypeLike] = None,
        method: str = "bicubic",
        max_side: Optional[int] = None,
        gamut_map: bool = True,
    ) -> np.ndarray:
        """Full-resolution sRGB (H, W, 3) keeping the source's own L*; dtype of the source unless given."""
        pixels = fit_max_side(self.pixels, max_side)
        return merge_full_resolution(pixels, self.ab(T), out_dtype=out_dtype, method=method, gamut_map=gamut_map)

    def render_bands(
        self,
        T: float,
        out_dtype: Optional[DTypeLike] = None,
        method: str = "bicubic",
        max_side: Optional[int] = None,
        gamut_map: bool = True,
    ) -> Bands:
        """:meth:`render` as bands of rows for :func:`polychrome.core.imageio.write_image`: the same pixels, never
        a full-resolution array (a 100 MP scan is written with a few MB besides its own pixels)."""
        pixels = fit_max_side(self.pixels, max_side)
        dtype = output_dtype(pixels, out_dtype)
        shape = (int(pixels.shape[0]), int(pixels.shape[1]), 3)
        bands = merge_bands(pixels, self.ab(T), out_dtype=dtype, method=method, gamut_map=gamut_map)
        return Bands(shape, dtype, (band for _, band in bands))

    def preview_size(self, max_pixels: int = PREVIEW_PIXELS) -> Tuple[int, int]:
        H, W = self.shape
        s = min(1.0, math.sqrt(max_pixels / float(H * W)))
        return max(1, int(H * s)), max(1, int(W * s))

    def preview_lightness(self, max_pixels: int = PREVIEW_PIXELS) -> np.ndarray:
        size = self.preview_size(max_pixels)
        if self._preview_L is None or self._preview_size != size:
            H, W = self.L.shape
            if size == (H, W):
                self._preview_L = self.L
            else:
                self._preview_L = cv2.resize(self.L, (size[1], size[0]), interpolation=cv2.INTER_AREA)
            self._preview_size = size
            self._preview_merger = None
        return self._preview_L

    def preview(self, T: float, max_pixels: int = PREVIEW_PIXELS, exact: bool = False) -> np.ndarray:
        """uint8 sRGB preview of at most ``max_pixels`` (L* cached; a new T costs one decode and one merge).

        The fast path (for dragging the T slider) is a table lookup (core.merge.PreviewMerger): the export's gamut
        mapping, bilinear upsampling, L* rounded to 8-bit gray levels and ab to whole units. ``exact=True`` runs the
        export's merge itself (bicubic upsampling), e.g. once the slider is released.
        """
        L = self.preview_lightness(max_pixels)
        if exact:
            return merge_lab(L, upsample_ab_fixed(self.ab(T), L.shape), np.uint8)
        if self._preview_merger is None:
            self._preview_merger = PreviewMerger(L)
        return self._preview_merger.render(self.ab(T))

    def gray_preview(self, max_pixels: int = PREVIEW_PIXELS) -> np.ndarray:
        L = self.preview_lightness(max_pixels)
        return merge_lab(L, np.zeros(L.shape + (2,), np.int16), np.uint8)

    def entropy(self, T: float) -> np.ndarray:
        """(h, w) normalised entropy (0 = certain, 1 = uniform) on the network grid."""
        return self.decoder.entropy(T)

    def cell_of(self, y: float, x: float) -> Tuple[int, int]:
        """The network-grid cell under full-resolution image coordinates (y, x)."""
        H, W = self.shape
        h, w = self.decoder.shape
        return (min(h - 1, max(0, int(y * h / H))), min(w - 1, max(0, int(x * w / W))))

    def distribution_at(self, y: float, x: float, T: float) -> np.ndarray:
        """(Q,) bin probabilities at T for the image pixel (y, x)."""
        cy, cx = self.cell_of(y, x)
        return softmax_t(self.decoder.z[cy, cx], T)
