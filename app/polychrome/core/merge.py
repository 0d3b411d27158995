"""Full-resolution merge: the image's own lightness L* + upsampled network ab -> RGB in the source bit depth.

The network predicts ab on a coarse grid (e.g. 64×64 for a 256 px input). The output keeps every pixel's own L*
at full resolution and only takes colour from the model. The merge runs in bands of rows and never holds a
full-resolution intermediate: for each band, L* comes from an exact lookup table for gray sources, ab is the
band's part of the full-resolution upsampling (OpenCV's horizontal pass once on the coarse rows, then the band's
vertical pass as a small matrix product with OpenCV's own weights), and the band goes Lab → sRGB in float32 and
straight to the output integer type. :func:`merge_bands` yields the bands one after the other (an encoder can
write them as they come, see :mod:`polychrome.core.imageio`), so a 100 MP scan is merged with a few MB of
scratch memory; :func:`merge_full_resolution` fills one output array from the same bands. That is several times
faster than converting whole float32 images (see ``benchmarks/``) and uses a fraction of the memory.

Colours outside the sRGB gamut are brought inside by reducing their chroma at constant L* and hue (a table of
the gamut's maximum chroma per L* and hue, applied to the clipped pixels only), so exports keep the scan's
lightness instead of shifting it by clipping channels. ``gamut_map=False`` clips like a plain conversion.

Upsampling methods: ``bicubic`` (default), ``bilinear``, ``nearest``, and ``guided`` — an edge-aware joint
upsampling (fast guided filter, He & Sun 2015) steered by the full-resolution L*, so colour stops at edges the
coarse grid cannot see.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Deque, Optional, Tuple

import cv2
import numpy as np
from numpy.typing import DTypeLike

from .color import _XYZN2RGB, _lightness_lut, gray_to_lightness, srgb_to_lab

UPSAMPLE_METHODS = ("bicubic", "bilinear", "nearest", "guided")
_INTERP = {"bicubic": cv2.INTER_CUBIC, "bilinear": cv2.INTER_LINEAR, "nearest": cv2.INTER_NEAREST}
_AB_FIXED = 64.0  # int16 fixed point: 1/64 ab unit, range ±512
STRIP_ROWS = 32


def lightness(pixels: np.ndarray) -> np.ndarray:
    """L* (H, W) float32 of a gray (H, W) or RGB (H, W, 3) uint8/uint16/float image."""
    if pixels.ndim == 2:
        return gray_to_lightness(pixels)
    if pixels.ndim == 3 and pixels.shape[2] == 3:
        return _rows(lambda y0, y1: srgb_to_lab(pixels[y0:y1])[..., 0], pixels.shape[0], np.float32, pixels.shape[1])
    raise ValueError(f"expected a gray (H, W) or RGB (H, W, 3) image, got shape {pixels.shape}")


def _rows(fn: Callable[[int, int], np.ndarray], height: int, dtype: DTypeLike, width: int) -> np.ndarray:
    out = np.empty((height, width), dtype=dtype)
    step = 256
    for y in range(0, height, step):
        out[y : y + step] = fn(y, min(height, y + step))
    return out


def upsample_ab(
    ab: np.ndarray,
    size: Tuple[int, int],
    method: str = "bicubic",
    guide_L: Optional[np.ndarray] = None,
) -> np.ndarray:
    """Upsample (h, w, 2) ab to ``size`` = (H, W) as float32. ``guided`` needs ``guide_L`` (H, W) in L* units."""
    return upsample_ab_fixed(ab, size, method, guide_L).astype(np.float32) * np.float32(1.0 / _AB_FIXED)


def upsample_ab_fixed(
    ab: np.ndarray,
    size: Tuple[int, int],
    method: str = "bicubic",
    guide_L: Optional[np.ndarray] = None,
) -> np.ndarray:
    """Upsample (h, w, 2) ab to (H, W, 2) int16 in units of 1/64 ab."""
    H, W = int(size[0]), int(size[1])
    ab = np.ascontiguousarray(ab, dtype=np.float32)
    if ab.ndim != 3 or ab.shape[2] != 2:
        raise ValueError(f"ab must be (h, w, 2), got {ab.shape}")
    if method == "guided":
        if guide_L is None:
            raise ValueError("guided upsampling needs the full-resolution L* as guide")
        return _guided_upsample(ab, guide_L)
    if method not in _INTERP:
        raise ValueError(f"unknown upsampling method {method!r}; choose one of {', '.join(UPSAMPLE_METHODS)}")
    fixed = np.clip(np.rint(ab * _AB_FIXED), -32768, 32767).astype(np.int16)
    if fixed.shape[:2] == (H, W):
        return fixed
    return cv2.resize(fixed, (W, H), interpolation=_INTERP[method])


def _box(x: np.ndarray, r: int) -> np.ndarray:
    return cv2.boxFilter(x, -1, (2 * r + 1, 2 * r + 1), borderType=cv2.BORDER_REFLECT)


def _guided_coefficients(ab: np.ndarray, I: np.ndarray, radius: int, eps: float) -> Tuple[np.ndarray, np.ndarray]:  # noqa: E741
    """The guided filter's local linear fit ab ≈ A·I + B on the (sh, sw) grid of the guide ``I`` (L*/100)."""
    sh, sw = I.shape[:2]
    p = cv2.resize(ab, (sw, sh), interpolation=cv2.INTER_CUBIC)
    mean_I = _box(I, radius)
    var_I = _box(I * I, radius) - mean_I * mean_I
    A = np.empty_like(p)
    B = np.empty_like(p)
    for c in range(2):
        pc = np.ascontiguousarray(p[..., c])
        mean_p = _box(pc, radius)
        cov = _box(I * pc, radius) - mean_I * mean_p
        a = cov / (var_I + np.float32(eps))
        A[..., c] = _box(a, radius)
        B[..., c] = _box(mean_p - a * mean_I, radius)
    return A, B


def _guided_upsample(ab: np.ndarray, guide_L: np.ndarray, radius: int = 2, eps: float = 0.02 ** 2) -> np.ndarray:
    """Fast guided filter: fit ab ≈ A·L + B locally at the coarse scale, upsample A and B, apply to full-res L."""
    h, w = ab.shape[:2]
    H, W = guide_L.shape[:2]
    # Work at twice the coarse resolution (no larger than the image): fine enough to follow edges, still cheap.
    sh, sw = min(H, 2 * h), min(W, 2 * w)
    I = cv2.resize(guide_L.astype(np.float32) * np.float32(0.01), (sw, sh), interpolation=cv2.INTER_AREA)  # noqa: E741 (He et al.'s name for the guide)
    A, B = _guided_coefficients(ab, I, radius, eps)
    A_up = cv2.resize(A, (W, H), interpolation=cv2.INTER_LINEAR)
    B_up = cv2.resize(B, (W, H), interpolation=cv2.INTER_LINEAR)
    out = np.empty((H, W, 2), dtype=np.int16)
    Ls = np.float32(0.01 * _AB_FIXED)
    for y in range(0, H, 256):
        y1 = min(H, y + 256)
        g = guide_L[y:y1, :, None].astype(np.float32) * Ls
        v = A_up[y:y1] * g + B_up[y:y1] * np.float32(_AB_FIXED)
        out[y:y1] = np.clip(np.rint(v), -32768, 32767).astype(np.int16)
    return out


class _LSource:
    """Produces float32 L* for a band of rows of the source image, as cheaply as its type allows."""

    def __init__(self, pixels: np.ndarray) -> None:
        self.pixels = pixels
        if pixels.ndim == 2 and pixels.dtype == np.uint8:
            self._lut = _lightness_lut(np.uint8).reshape(1, 256)
            self.kind = "lut8"
        elif pixels.ndim == 2 and pixels.dtype == np.uint16:
            self._lut = _lightness_lut(np.uint16)
            self.kind = "lut16"
        else:
            self.kind = "generic"

    def rows(self, y0: int, y1: int) -> np.ndarray:
        band = self.pixels[y0:y1]
        if self.kind == "lut8":
            return cv2.LUT(band, self._lut)
        if self.kind == "lut16":
            return self._lut[band]
        return lightness(band)


def merge_lab(
    L: np.ndarray,
    ab_fixed: np.ndarray,
    out_dtype: DTypeLike = np.uint8,
    threads: int = 2,
    gamut_map: bool = True,
) -> np.ndarray:
    """Join L* (H, W) float32 with int16 fixed-point ab (H, W, 2) into sRGB of ``out_dtype`` (uint8/uint16/float32)."""
    return _merge(lambda y0, y1: L[y0:y1], L.shape, ab_fixed, out_dtype, threads, gamut_map)


def merge_full_resolution(
    pixels: np.ndarray,
    ab: np.ndarray,
    out_dtype: Optional[DTypeLike] = None,
    method: str = "bicubic",
    threads: int = 2,
    gamut_map: bool = True,
) -> np.ndarray:
    """Colour a full-resolution image with coarse ab.

    ``pixels``: the source, gray (H, W) or RGB (H, W, 3), uint8/uint16 (its own L* is kept).
    ``ab``: (h, w, 2) predicted ab. ``out_dtype``: uint8, uint16 or float32; default: the source's dtype.
    Returns (H, W, 3) sRGB: the bands of :func:`merge_bands` in one array.
    """
    merger = _BandMerger(pixels, ab, out_dtype, method, gamut_map)
    H, W = merger.shape
    out = np.empty((H, W, 3), dtype=merger.out_dtype)
    _run_strips(lambda y0: merger.work(y0, min(H, y0 + STRIP_ROWS), out[y0 : y0 + STRIP_ROWS]), H, threads)
    return out


def merge_bands(
    pixels: np.ndarray,
    ab: np.ndarray,
    out_dtype: Optional[DTypeLike] = None,
    method: str = "bicubic",
    threads: int = 2,
    gamut_map: bool = True,
) -> Iterator[Tuple[int, np.ndarray]]:
    """:func:`merge_full_resolution` as a stream: ``(y0, band)`` from the top, each band ((n, W, 3) of
    ``out_dtype``, n = ``STRIP_ROWS`` but the last) a new array equal to ``merge_full_resolution(...)[y0 : y0 + n]``
    bit for bit (the same strips, computed the same way).

    Bands are computed ``threads`` at a time on worker threads, a few ahead of the consumer, so an encoder that
    releases the GIL (zlib, libjpeg) works while the next bands are merged. Memory: a few bands, never a
    full-resolution array. Closing the generator early stops the workers."""
    merger = _BandMerger(pixels, ab, out_dtype, method, gamut_map)
    H, W = merger.shape
    rows = STRIP_ROWS

    def band(y0: int) -> np.ndarray:
        y1 = min(H, y0 + rows)
        dst = np.empty((y1 - y0, W, 3), dtype=merger.out_dtype)
        merger.work(y0, y1, dst)
        return dst

    starts = range(0, H, rows)
    if threads <= 1 or len(starts) < 2:
        for y0 in starts:
            yield y0, band(y0)
        return
    with _single_threaded_cv2(), ThreadPoolExecutor(max_workers=threads) as ex:
        pending: Deque[Tuple[int, Future[np.ndarray]]] = deque()
        it = iter(starts)
        try:
            for y0 in it:
                pending.append((y0, ex.submit(band, y0)))
                if len(pending) >= 2 * threads:
                    break
            while pending:
                y0, fut = pending.popleft()
                nxt = next(it, None)
                if nxt is not None:
                    pending.append((nxt, ex.submit(band, nxt)))
                yield y0, fut.result()
        finally:
            for _, fut in pending:
                fut.cancel()


def output_dtype(pixels: np.ndarray, out_dtype: Optional[DTypeLike] = None) -> np.dtype:
    """The dtype a merge of ``pixels`` writes: ``out_dtype``, else the source's uint8/uint16, else float32."""
    if out_dtype is None:
        out_dtype = pixels.dtype if pixels.dtype in (np.uint8, np.uint16) else np.float32
    dt = np.dtype(out_dtype)
    if dt not in (np.uint8, np.uint16, np.float32):
        raise ValueError(f"unsupported output type {dt}")
    return dt


class _BandMerger:
    """Merges any band of rows of one image: the source's L* for those rows, their part of the upsampled ab."""

    def __init__(
        self, pixels: np.ndarray, ab: np.ndarray, out_dtype: Optional[DTypeLike], method: str, gamut_map: bool
    ) -> None:
        if pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[2] != 3):
            raise ValueError(f"expected a gray (H, W) or RGB (H, W, 3) image, got shape {pixels.shape}")
        self.shape: Tuple[int, int] = (int(pixels.shape[0]), int(pixels.shape[1]))
        self.out_dtype = output_dtype(pixels, out_dtype)
        self.gamut_map = gamut_map
        self.src = _LSource(pixels)
        ab = np.ascontiguousarray(ab, dtype=np.float32)
        if ab.ndim != 3 or ab.shape[2] != 2:
            raise ValueError(f"ab must be (h, w, 2), got {ab.shape}")
        self.guided: Optional[_GuidedRows] = None
        if method == "guided":
            self.guided = _GuidedRows(ab, self.src.rows, self.shape)
        elif method in _INTERP:
            # the same int16 fixed point as upsample_ab_fixed, held as float32 for the row passes
            fixed = np.clip(np.rint(ab * np.float32(_AB_FIXED)), -32768, 32767)
            self.up = _RowUpsampler(fixed, self.shape, method)
        else:
            raise ValueError(f"unknown upsampling method {method!r}; choose one of {', '.join(UPSAMPLE_METHODS)}")

    def work(self, y0: int, y1: int, dst: np.ndarray) -> None:
        L = self.src.rows(y0, y1).astype(np.float32, copy=False)
        if self.guided is not None:
            abf = self.guided.rows(y0, y1, L)
        else:
            abf = self.up.rows(y0, y1)
        np.rint(abf, out=abf)  # the int16 fixed point of upsample_ab_fixed
        abf *= np.float32(1.0 / _AB_FIXED)
        lab = cv2.merge([L, abf])
        rgb = cv2.cvtColor(lab, cv2.COLOR_Lab2RGB)
        if self.gamut_map and self.out_dtype == np.uint8:
            _store(rgb, dst, self.out_dtype)
            _map_into_gamut_u8(lab, dst)
            return
        if self.gamut_map:
            _map_into_gamut(lab, rgb)
        _store(rgb, dst, self.out_dtype)


def _store(rgb: np.ndarray, dst: np.ndarray, out_dtype: np.dtype) -> None:
    """Float sRGB (0..1, as cv2 returns it) into ``dst`` of ``out_dtype``, rounding to nearest."""
    if out_dtype == np.uint8:
        cv2.convertScaleAbs(rgb, dst=dst, alpha=255.0)
    elif out_dtype == np.uint16:
        cv2.multiply(rgb, (65535.0, 65535.0, 65535.0, 0.0), dst=dst, dtype=cv2.CV_16U)
    else:
        np.clip(rgb, 0.0, 1.0, out=dst)


class _RowUpsampler:
    """Bands of rows of ``cv2.resize(coarse, (W, H), interpolation)`` without computing the rest of it.

    OpenCV's resize is separable: a horizontal pass over the source rows, then each output row a weighted sum of
    up to four of those rows. Here cv2.resize does the horizontal pass once on the coarse rows ((h, W), small),
    and a band's vertical pass is one matrix product with OpenCV's weights (its centre-aligned geometry, a = −0.75
    for bicubic, replicated edges), so a band equals the same rows of the whole upsampling up to float rounding.
    """

    def __init__(self, coarse: np.ndarray, size: Tuple[int, int], method: str) -> None:
        coarse = np.ascontiguousarray(coarse, dtype=np.float32)
        h, w, C = coarse.shape
        H, W = int(size[0]), int(size[1])
        self.h, self.H, self.W, self.C, self.method = h, H, W, C, method
        horizontal = coarse if w == W else cv2.resize(coarse, (W, h), interpolation=_INTERP[method])
        self.hbuf = np.ascontiguousarray(horizontal).reshape(h, W * C)

    def rows(self, y0: int, y1: int) -> np.ndarray:
        """(y1 − y0, W, C) float32, a new array."""
        n = y1 - y0
        if self.h == self.H:
            return self.hbuf[y0:y1].reshape(n, self.W, self.C).copy()
        r0, weights = _vertical_weights(self.method, self.H, self.h, y0, y1)
        out = weights @ self.hbuf[r0 : r0 + weights.shape[1]]
        return out.reshape(n, self.W, self.C)


def _vertical_weights(method: str, H: int, h: int, y0: int, y1: int) -> Tuple[int, np.ndarray]:
    """(r0, weights (y1 − y0, k)): output rows y0..y1 of an h → H resize as weights over source rows r0..r0+k,
    computed as OpenCV's resize computes them (float32 positions and coefficients, replicated edges)."""
    dy = np.arange(y0, y1, dtype=np.float64)
    scale = 1.0 / (H / h)  # OpenCV: scale_y = 1 / inv_scale_y
    if method == "nearest":
        taps = np.minimum(np.floor(dy * scale).astype(np.int64), h - 1)[:, None]
        coeffs = np.ones(taps.shape, np.float32)
    else:
        fy = ((dy + 0.5) * scale - 0.5).astype(np.float32)
        sy = np.floor(fy)
        t = (fy - sy).astype(np.float32)
        if method == "bilinear":
            taps = sy.astype(np.int64)[:, None] + np.arange(2)
            coeffs = np.stack([np.float32(1.0) - t, t], axis=1)
        else:
            a = np.float32(_CUBIC_A)
            one = np.float32(1.0)
            c0 = ((a * (t + one) - 5 * a) * (t + one) + 8 * a) * (t + one) - 4 * a
            c1 = ((a + 2) * t - (a + 3)) * t * t + one
            c2 = ((a + 2) * (one - t) - (a + 3)) * (one - t) * (one - t) + one
            c3 = one - c0 - c1 - c2
            taps = sy.astype(np.int64)[:, None] + np.arange(-1, 3)
            coeffs = np.stack([c0, c1, c2, c3], axis=1)
    clipped = np.clip(taps, 0, h - 1)
    r0 = int(clipped.min())
    weights = np.zeros((y1 - y0, int(clipped.max()) - r0 + 1), np.float32)
    rows = np.broadcast_to(np.arange(y1 - y0)[:, None], taps.shape)
    if (clipped == taps).all():  # inside: every tap is its own source row
        weights[rows, taps - r0] = coeffs
    else:  # at the edges replicated rows collect several taps
        np.add.at(weights, (rows, clipped - r0), coeffs.astype(np.float32))
    return r0, weights


_CUBIC_A = -0.75  # OpenCV's bicubic kernel


class _GuidedRows:
    """Bands of rows of the guided upsampling (:func:`_guided_upsample`) from the L* rows of the source."""

    def __init__(
        self, ab: np.ndarray, L_rows: Callable[[int, int], np.ndarray], size: Tuple[int, int],
        radius: int = 2, eps: float = 0.02 ** 2,
    ) -> None:
        h, w = ab.shape[:2]
        H, W = size
        sh, sw = min(H, 2 * h), min(W, 2 * w)
        I = area_downsample(L_rows, (H, W), (sh, sw)) * np.float32(0.01)  # noqa: E741 (He et al.'s name)
        A, B = _guided_coefficients(ab, I, radius, eps)
        self.up = _RowUpsampler(np.concatenate([A, B], axis=2), (H, W), "bilinear")

    def rows(self, y0: int, y1: int, L: np.ndarray) -> np.ndarray:
        """(n, W, 2) float32 ab in 1/64 units (not yet rounded) for rows y0..y1 whose L* is ``L``."""
        AB = self.up.rows(y0, y1)
        g = L[:, :, None] * np.float32(0.01 * _AB_FIXED)
        v = AB[..., :2] * g
        v += AB[..., 2:] * np.float32(_AB_FIXED)
        return np.clip(v, -32768, 32767, out=v)


def area_downsample(
    rows: Callable[[int, int], np.ndarray], shape: Tuple[int, int], size: Tuple[int, int], band: int = 256
) -> np.ndarray:
    """``cv2.resize(full, (w, h), INTER_AREA)`` of an (H, W) float image given band by band (``rows(y0, y1)``),
    never holding it whole: each band is shrunk across, then the (H, w) result down (area averaging is separable;
    equal to the one-pass resize up to float rounding). ``size`` = (h, w) must not exceed ``shape``."""
    H, W = int(shape[0]), int(shape[1])
    h, w = int(size[0]), int(size[1])
    across = np.empty((H, w), np.float32)
    for y0 in range(0, H, band):
        y1 = min(H, y0 + band)
        r = np.asarray(rows(y0, y1), dtype=np.float32)
        across[y0:y1] = r if w == W else cv2.resize(r, (w, y1 - y0), interpolation=cv2.INTER_AREA)
    return across if h == H else cv2.resize(across, (w, h), interpolation=cv2.INTER_AREA)


def resized_lightness(pixels: np.ndarray, size: Tuple[int, int], interpolation: int) -> np.ndarray:
    """L* of ``pixels`` resized to ``size`` = (h, w) (the network's input) without a full-resolution L* map when
    shrinking with INTER_AREA; other cases (small images being enlarged) resize the whole L*."""
    H, W = pixels.shape[:2]
    h, w = int(size[0]), int(size[1])
    if interpolation == cv2.INTER_AREA and h <= H and w <= W:
        return area_downsample(_LSource(pixels).rows, (H, W), (h, w))
    return cv2.resize(lightness(pixels), (w, h), interpolation=interpolation)


# -- gamut mapping -----------------------------------------------------------------------------------------------

_CMAX_L_STEPS = 4  # table rows per L* unit
_CMAX_H_STEPS = 2  # table columns per degree of hue
_cmax_table: Optional[np.ndarray] = None
_M = np.ascontiguousarray(_XYZN2RGB.T, dtype=np.float32)


def _lab_to_linear(lab: np.ndarray) -> np.ndarray:
    """Lab (n, 3) -> unclipped linear sRGB (n, 3); gamma is monotonic, so gamut tests need no more than this."""
    fy = (lab[:, 0] + np.float32(16.0)) * np.float32(1.0 / 116.0)
    f = np.empty_like(lab)
    f[:, 0] = fy + lab[:, 1] * np.float32(1.0 / 500.0)
    f[:, 1] = fy
    f[:, 2] = fy - lab[:, 2] * np.float32(1.0 / 200.0)
    d = np.float32(6.0 / 29.0)
    xyz = np.where(f > d, f * f * f, (f - np.float32(4.0 / 29.0)) * np.float32(3.0 * (6.0 / 29.0) ** 2))
    return xyz @ _M


def _max_chroma_table() -> np.ndarray:
    """C*max(L*, hue): the largest in-gamut chroma per lightness (¼ unit) and hue (½°), built once by bisection."""
    global _cmax_table
    if _cmax_table is None:
        L = np.arange(0, 100 * _CMAX_L_STEPS + 1, dtype=np.float32) / _CMAX_L_STEPS
        h = np.deg2rad(np.arange(0, 360 * _CMAX_H_STEPS + 1, dtype=np.float32) / _CMAX_H_STEPS)
        LL, HH = np.meshgrid(L, h, indexing="ij")
        cos, sin = np.cos(HH).ravel(), np.sin(HH).ravel()
        lo = np.zeros(LL.size, np.float32)
        hi = np.full(LL.size, 200.0, np.float32)
        lab = np.empty((LL.size, 3), np.float32)
        lab[:, 0] = LL.ravel()
        tol = np.float32(1e-6)
        for _ in range(20):
            mid = (lo + hi) * np.float32(0.5)
            lab[:, 1] = mid * cos
            lab[:, 2] = mid * sin
            r = _lab_to_linear(lab)
            ok = ((r >= -tol) & (r <= 1 + tol)).all(axis=-1)
            lo = np.where(ok, mid, lo)
            hi = np.where(ok, hi, mid)
        # A hair inside the boundary, so interpolating between table nodes never lands outside.
        _cmax_table = np.ascontiguousarray((lo * np.float32(0.995)).reshape(LL.shape))
    return _cmax_table


def _fit_chroma(lab: np.ndarray) -> np.ndarray:
    """Scale the chroma of Lab colours (..., 3) down to the sRGB gamut at their own L* and hue."""
    t = np.array(lab, dtype=np.float32, copy=True).reshape(-1, 3)
    mag, ang = cv2.cartToPolar(t[:, 1], t[:, 2], angleInDegrees=True)
    mag, ang = mag.ravel(), ang.ravel()
    n = len(t)
    cols = 4096  # cv2.remap wants each side below 32767
    rows = -(-n // cols)
    mx = np.zeros(rows * cols, np.float32)
    my = np.zeros(rows * cols, np.float32)
    mx[:n] = ang * _CMAX_H_STEPS
    my[:n] = np.clip(t[:, 0], 0, 100) * _CMAX_L_STEPS
    cmax = cv2.remap(
        _max_chroma_table(), mx.reshape(rows, cols), my.reshape(rows, cols), cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    ).ravel()[:n]
    scale = np.minimum(np.float32(1.0), cmax / np.maximum(mag, np.float32(1e-6)))
    t[:, 1] *= scale
    t[:, 2] *= scale
    return t.reshape(np.shape(lab))


_GAMUT_TOL = 2e-5  # on linear RGB: float noise, not colour


_VOID3 = np.dtype((np.void, 12))  # one float32 (L*, a*, b*) or (R, G, B) pixel as a single item
_LAB_TO_F = np.array(  # (L*, a*, b*, 1) -> (fx, fy, fz) of the CIE formulas
    [[1 / 116, 1 / 500, 0, 16 / 116], [1 / 116, 0, 0, 16 / 116], [1 / 116, 0, -1 / 200, 16 / 116]], np.float32
)
_XYZN_TO_LINEAR = np.ascontiguousarray(_XYZN2RGB, dtype=np.float32)


def _outside_gamut(lab: np.ndarray) -> np.ndarray:
    """Bool (n,): which Lab colours (n, 3) fall outside sRGB by more than float noise (``_GAMUT_TOL`` on linear
    RGB) — :func:`_lab_to_linear`'s test, with OpenCV doing the arithmetic on the few pixels it is asked about."""
    f = cv2.transform(lab.reshape(-1, 1, 3), _LAB_TO_F)
    d = 6.0 / 29.0
    xyz = (f - np.float32(4.0 / 29.0)) * np.float32(3.0 * d * d)  # the linear segment, f <= 6/29
    above = cv2.compare(f, np.full((1, 1, 3), d, np.float32), cv2.CMP_GT)
    cv2.copyTo(cv2.multiply(cv2.multiply(f, f), f), above, dst=xyz)
    lin = cv2.transform(xyz, _XYZN_TO_LINEAR)
    tol = _GAMUT_TOL
    return cv2.inRange(lin, (-tol, -tol, -tol), (1 + tol, 1 + tol, 1 + tol)).ravel() == 0


def _map_into_gamut(lab: np.ndarray, rgb: np.ndarray) -> None:
    """Replace clipped colours in ``rgb`` (float, from cv2, which clips) by the most saturated in-gamut colour of
    the same L* and hue. Only pixels with a channel at 0 or 1 are examined (found, gathered and scattered back by
    OpenCV and one-item numpy takes), so a strip costs one extra pass plus a little per clipped pixel."""
    _map_candidates(lab, rgb, cv2.inRange(rgb, (1e-7, 1e-7, 1e-7), (1.0 - 1e-7, 1.0 - 1e-7, 1.0 - 1e-7)), None)


def _map_into_gamut_u8(lab: np.ndarray, out: np.ndarray) -> None:
    """:func:`_map_into_gamut` on an 8-bit result already stored: the candidates are the pixels with a channel at 0
    or 255 (a superset of those cv2 clipped; the exact test sorts them), found on a quarter of the bytes."""
    _map_candidates(lab, out, cv2.inRange(out, (1, 1, 1), (254, 254, 254)), 255.0)


def _map_candidates(lab: np.ndarray, rgb: np.ndarray, inside: np.ndarray, u8_scale: Optional[float]) -> None:
    if cv2.countNonZero(inside) == inside.size:
        return
    xy = cv2.findNonZero(cv2.bitwise_not(inside)).reshape(-1, 2)  # (x, y) of the clipped pixels
    flat = xy[:, 1].astype(np.intp) * rgb.shape[1] + xy[:, 0].astype(np.intp)
    items = np.take(np.ascontiguousarray(lab).reshape(-1, 3).view(_VOID3).ravel(), flat)
    sub = items.view(np.float32).reshape(-1, 3)
    oog = _outside_gamut(sub)
    if not oog.all():  # usually every clipped pixel is outside the gamut: no second selection then
        if not oog.any():
            return
        flat = flat[oog]
        sub = items[oog].view(np.float32).reshape(-1, 3)
    mapped = cv2.cvtColor(_fit_chroma(sub)[None], cv2.COLOR_Lab2RGB)
    if u8_scale is not None:
        mapped = cv2.convertScaleAbs(mapped, alpha=u8_scale)
    mapped = np.ascontiguousarray(mapped[0])
    item = np.dtype((np.void, 3 * rgb.dtype.itemsize))
    rgb.reshape(-1, 3).view(item).ravel()[flat] = mapped.view(item).ravel()


# -- strips ------------------------------------------------------------------------------------------------------

def _merge(
    L_rows: Callable[[int, int], np.ndarray],
    shape: Tuple[int, ...],
    ab_fixed: np.ndarray,
    out_dtype: DTypeLike,
    threads: int,
    gamut_map: bool = True,
) -> np.ndarray:
    H, W = int(shape[0]), int(shape[1])
    out_dtype = np.dtype(out_dtype)
    if out_dtype not in (np.uint8, np.uint16, np.float32):
        raise ValueError(f"unsupported output type {out_dtype}")
    if ab_fixed.shape[:2] != (H, W):
        raise ValueError(f"ab is {ab_fixed.shape[:2]}, image is {(H, W)}")
    out = np.empty((H, W, 3), dtype=out_dtype)
    scale = np.float32(1.0 / _AB_FIXED)

    def work(y0: int) -> None:
        y1 = min(H, y0 + STRIP_ROWS)
        Ls = L_rows(y0, y1).astype(np.float32, copy=False)
        abf = ab_fixed[y0:y1].astype(np.float32)
        abf *= scale
        lab = cv2.merge([Ls, abf])
        rgb = cv2.cvtColor(lab, cv2.COLOR_Lab2RGB)
        if gamut_map:
            _map_into_gamut(lab, rgb)
        _store(rgb, out[y0:y1], out_dtype)

    _run_strips(work, H, threads)
    return out


_STRIP_USERS = 0
_STRIP_SAVED_THREADS = 0
_STRIP_LOCK = threading.Lock()


class _single_threaded_cv2:
    """cv2's own threads off while strips run in parallel on ours (cv2 releases the GIL inside each call; its
    threads would only compete). cv2's thread count is process-wide: the first of overlapping merges (an export
    beside an exact preview) saves it and the last one restores it."""

    def __enter__(self) -> None:
        global _STRIP_USERS, _STRIP_SAVED_THREADS
        with _STRIP_LOCK:
            if _STRIP_USERS == 0:
                _STRIP_SAVED_THREADS = cv2.getNumThreads()
                cv2.setNumThreads(1)
            _STRIP_USERS += 1

    def __exit__(self, *exc: object) -> None:
        global _STRIP_USERS
        with _STRIP_LOCK:
            _STRIP_USERS -= 1
            if _STRIP_USERS == 0:
                cv2.setNumThreads(_STRIP_SAVED_THREADS)


def _run_strips(work: Callable[[int], None], H: int, threads: int) -> None:
    starts = range(0, H, STRIP_ROWS)
    if threads > 1 and H >= 4 * STRIP_ROWS:
        with _single_threaded_cv2(), ThreadPoolExecutor(max_workers=threads) as ex:
            list(ex.map(work, starts))
    else:
        for y0 in starts:
            work(y0)


def naive_merge(gray: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """The straightforward whole-image float32 path (kept as the benchmark baseline)."""
    H, W = gray.shape[:2]
    g = gray.astype(np.float32) / (255.0 if gray.dtype == np.uint8 else 65535.0)
    lab = cv2.cvtColor(cv2.cvtColor(g, cv2.COLOR_GRAY2RGB), cv2.COLOR_RGB2Lab)
    abf = cv2.resize(np.asarray(ab, np.float32), (W, H), interpolation=cv2.INTER_CUBIC)
    lab = np.dstack([lab[..., 0], abf])
    rgb = cv2.cvtColor(lab, cv2.COLOR_Lab2RGB)
    return np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)


class PreviewMerger:
    """Fast uint8 previews of one image at many temperatures (the live T slider).

    A preview is 8-bit, so its lightness has at most 256 display levels, and the predicted ab is a smooth field.
    Every colour a preview can show is therefore in one table: sRGB for (gray level, a*, b*) at 1-unit ab steps
    over the sRGB gamut's extent, built once per process (:func:`preview_table`) with the export's gamut mapping
    (chroma reduced at constant L* and hue). Rendering a new ab is a bilinear upsampling of the coarse ab into
    table coordinates (int16, 1/16 unit), rounding them to whole units, adding each pixel's precomputed gray-level
    offset and one nearest lookup (``cv2.remap``) straight into the uint8 output, instead of a per-pixel
    Lab → sRGB conversion.

    The table keeps the 256 levels of one (a*, b*) in a 16 × 16 patch, so a textured region, whose pixels share
    nearly one ab but spread over many gray levels, reads a few cache lines instead of 256 places of a 30 MB table.

    Differences from the export's merge: L* is rounded to the nearest 8-bit gray level (≤ ½ level), ab to the
    nearest whole unit (≤ ½ unit per axis, plus 1/16 from the fixed point), and ab outside the sRGB gamut's box is
    clamped to the box before the gamut mapping. The export and the exact preview are unaffected.
    """

    def __init__(self, L: np.ndarray) -> None:
        L = np.ascontiguousarray(L, dtype=np.float32)
        self.L = L
        fine = np.clip(L * np.float32(_LEVEL_STEPS) + np.float32(0.5), 0, 100 * _LEVEL_STEPS)
        # (H, W, 2) int16: the pixel's gray level k as its place in a patch, (k mod 16, k div 16)
        self.offsets = _level_offsets()[fine.astype(np.uint16)]

    @property
    def shape(self) -> Tuple[int, int]:
        return self.L.shape

    def render(self, ab: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
        """(h, w, 2) coarse ab -> (H, W, 3) uint8 sRGB preview (bilinear upsampling, as the export's "bilinear").

        Whole-image cv2 calls: the upsampling and the lookup run on OpenCV's own threads."""
        H, W = self.L.shape
        table = preview_table()
        ab = np.nan_to_num(np.asarray(ab, dtype=np.float32))
        if ab.ndim != 3 or ab.shape[2] != 2:
            raise ValueError(f"ab must be (h, w, 2), got {ab.shape}")
        # patch coordinates in 1/16 units: x from b*, y from a*; +8 so that clearing the low 4 bits rounds to the
        # nearest whole unit. Bilinear interpolation commutes with this affine map, so it is done on the coarse grid.
        coarse = np.empty(ab.shape, np.float32)
        np.clip(ab[..., 1], _PREVIEW_B[0], _PREVIEW_B[1], out=coarse[..., 0])
        np.clip(ab[..., 0], _PREVIEW_A[0], _PREVIEW_A[1], out=coarse[..., 1])
        coarse -= np.array([_PREVIEW_B[0], _PREVIEW_A[0]], np.float32)
        coarse *= np.float32(_BLOCKS)
        coarse += np.float32(_BLOCKS // 2)
        coords = cv2.resize(np.rint(coarse).astype(np.int16), (W, H), interpolation=cv2.INTER_LINEAR)
        np.bitwise_and(coords, np.int16(-_BLOCKS), out=coords)  # ...1111 0000: whole units
        cv2.add(coords, self.offsets, dst=coords)
        if out is None:
            out = np.empty((H, W, 3), np.uint8)
        step = _REMAP_MAX_SIDE  # cv2.remap wants each side of its output below 32767 (think of panorama strips)
        for y in range(0, H, step):
            for x in range(0, W, step):
                cv2.remap(table, coords[y : y + step, x : x + step], None, cv2.INTER_NEAREST,
                          dst=out[y : y + step, x : x + step])
        return out


# The preview table covers the sRGB gamut's extent in a* (−86.2…98.3) and b* (−107.9…94.5), in whole units; any
# colour outside that box is outside the gamut at every L*.
_PREVIEW_A = (-88, 100)
_PREVIEW_B = (-110, 96)
_NA = _PREVIEW_A[1] - _PREVIEW_A[0] + 1
_NB = _PREVIEW_B[1] - _PREVIEW_B[0] + 1
_BLOCKS = 16  # a patch holds the 256 gray levels of one (a*, b*) as 16 × 16
_LEVEL_STEPS = 64  # the per-pixel gray-level lookup resolves L* to 1/64
_REMAP_MAX_SIDE = 32000
_TABLE: Optional[np.ndarray] = None
_OFFSETS: Optional[np.ndarray] = None
_TABLE_LOCK = threading.Lock()


def _level_offsets() -> np.ndarray:
    """(100·64 + 1, 2) int16: for L* in 1/64 steps, the nearest 8-bit gray level k as (k mod 16, k div 16)."""
    global _OFFSETS
    if _OFFSETS is None:
        from .color import lightness_to_gray

        L = np.arange(100 * _LEVEL_STEPS + 1, dtype=np.float32) / np.float32(_LEVEL_STEPS)
        k = np.clip(np.rint(lightness_to_gray(L) * 255.0), 0, 255).astype(np.int16)
        _OFFSETS = np.stack([k % _BLOCKS, k // _BLOCKS], axis=1).astype(np.int16)
    return _OFFSETS


def preview_table() -> np.ndarray:
    """The live preview's colour table, (189·16, 207·16, 3) uint8 ≈ 30 MB, built once per process (≈ 0.5 s, plus
    the export's chroma table if that is not built yet).

    Entry (16·i + k div 16, 16·j + k mod 16) is gray level k at a* = −88 + i, b* = −110 + j. Colours outside the
    sRGB gamut are mapped in like the export does: chroma reduced at constant L* and hue. Thread-safe; the app
    builds it on a worker at start so that the first preview does not wait for it."""
    global _TABLE
    if _TABLE is not None:
        return _TABLE
    with _TABLE_LOCK:
        if _TABLE is None:
            _TABLE = _build_preview_table()
    return _TABLE


def preview_table_ready() -> bool:
    return _TABLE is not None


def _build_preview_table() -> np.ndarray:
    n = _BLOCKS
    # one block row of the table at a time: rows a*, columns (b*, k mod 16) with the gray level fastest, so the
    # 16 levels k = 16·i … 16·i + 15 fill rows 16·a + i of the table directly
    a = np.arange(_PREVIEW_A[0], _PREVIEW_A[1] + 1, dtype=np.float32)
    b = np.repeat(np.arange(_PREVIEW_B[0], _PREVIEW_B[1] + 1, dtype=np.float32), n)
    A, B = (np.ascontiguousarray(v) for v in np.meshgrid(a, b, indexing="ij"))  # (NA, NB·16)
    levels = _lightness_lut(np.uint8)  # L* of the 256 neutral 8-bit levels
    tol = _GAMUT_TOL
    table = np.empty((_NA * n, _NB * n, 3), np.uint8)
    for i in range(n):
        L = np.ascontiguousarray(np.broadcast_to(np.tile(levels[i * n : (i + 1) * n], _NB), A.shape))
        lab = cv2.merge([L, A, B])
        rgb = cv2.cvtColor(lab, cv2.COLOR_Lab2RGB)
        # the export's rule (_map_into_gamut) on every node at once, with its own pieces: a colour outside the
        # gamut (decided on linear RGB, as cv2 clips) gets _fit_chroma's C*max; one inside stays as it is
        lin = _lab_to_linear(lab.reshape(-1, 3)).reshape(lab.shape)
        outside = cv2.bitwise_not(cv2.inRange(lin, (-tol, -tol, -tol), (1 + tol, 1 + tol, 1 + tol)))
        cv2.copyTo(cv2.cvtColor(_fit_chroma(lab), cv2.COLOR_Lab2RGB), outside, dst=rgb)
        table[i::n] = cv2.convertScaleAbs(rgb, alpha=255.0)
    return table
