"""Training data: folder scans, a reproducible train/val split, and the colorization dataset with scan-like damage.

* :func:`scan_folders` lists image files recursively and sorts them into usable, near-gray (no colour to learn
  from), too small and unreadable (with the reason), reporting progress per file.
* The split is a hash of each file's path relative to its scan folder, so it does not depend on the order of the
  files, the machine or the run: a photo stays in validation when others are added.
* :class:`ColorizationDataset` turns RGB photos into (degraded input L, ab target, clean L). Training items get a
  random square crop with scale jitter and a horizontal flip; the *input* lightness then gets old-photo damage
  (fading, low contrast, blur, film grain, dust, scratches, JPEG blocking), each with its own probability. All
  randomness comes from a generator seeded by (seed, epoch, index), so every run — and every resumed run — sees
  exactly the same items. Validation items are a centre crop, no augmentation.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from ..core import imageio
from ..core.color import NEAR_GRAY_CHROMA, mean_chroma, srgb_to_lab
from ..core.errors import ImageReadError
from ..core.hints import sample_hints as core_sample_hints
from ..core.pixels import fit_max_side
from ..core.progress import Progress, ensure_progress
from .network import L_OFFSET, L_SCALE

DEFAULT_MIN_SIDE = 64


# ---------------------------------------------------------------------------------------------------------------
# Reading: the shared reader (EXIF orientation, 16-bit, CMYK, decompression-bomb guard ...)
# ---------------------------------------------------------------------------------------------------------------


def is_supported(path: Union[str, Path]) -> bool:
    return imageio.is_supported(path)


def probe_size(path: Union[str, Path]) -> Tuple[int, int]:
    """(width, height) from the header; raises ImageReadError."""
    w, h, _ = imageio.probe_image(path)
    return int(w), int(h)


def read_pixels(path: Union[str, Path]) -> np.ndarray:
    """Upright pixels, gray (H, W) or RGB (H, W, 3), uint8 or uint16; raises ImageReadError."""
    return imageio.read_image(path, min_side=1).pixels


def to_rgb_float(pixels: np.ndarray) -> np.ndarray:
    """Any reader output -> float32 RGB (H, W, 3) in 0..1."""
    if pixels.dtype == np.uint8:
        x = pixels.astype(np.float32) * np.float32(1.0 / 255.0)
    elif pixels.dtype == np.uint16:
        x = pixels.astype(np.float32) * np.float32(1.0 / 65535.0)
    else:
        x = np.clip(pixels.astype(np.float32), 0.0, 1.0)
    if x.ndim == 2:
        x = np.repeat(x[..., None], 3, axis=2)
    return x


# ---------------------------------------------------------------------------------------------------------------
# Scan and split
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class ImageRecord:
    path: str
    rel: str  # path relative to its scan folder, with forward slashes (the split key)
    width: int = 0
    height: int = 0
    chroma: float = 0.0


@dataclass
class ScanReport:
    folders: List[str]
    usable: List[ImageRecord] = field(default_factory=list)
    near_gray: List[ImageRecord] = field(default_factory=list)
    too_small: List[Tuple[str, str]] = field(default_factory=list)  # (path, reason)
    unreadable: List[Tuple[str, str]] = field(default_factory=list)  # (path, reason)
    skipped: int = 0  # files that are not images (by extension)

    @property
    def counts(self) -> Dict[str, int]:
        return {
            "usable": len(self.usable),
            "near_gray": len(self.near_gray),
            "too_small": len(self.too_small),
            "unreadable": len(self.unreadable),
            "skipped": self.skipped,
        }

    @property
    def total(self) -> int:
        return len(self.usable) + len(self.near_gray) + len(self.too_small) + len(self.unreadable)

    def summary(self) -> str:
        c = self.counts
        return (
            f"{c['usable']} usable photos, {c['near_gray']} near-gray, {c['too_small']} too small, "
            f"{c['unreadable']} unreadable"
        )

    def split(self, val_fraction: float = 0.05, salt: str = "") -> Tuple[List[ImageRecord], List[ImageRecord]]:
        return split_records(self.usable, val_fraction, salt)

    def to_dict(self) -> dict:
        return {
            "folders": self.folders,
            "counts": self.counts,
            "too_small": [list(t) for t in self.too_small],
            "unreadable": [list(t) for t in self.unreadable],
        }


def _walk(folder: Path) -> Iterable[Path]:
    if folder.is_file():
        yield folder
        return
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for f in sorted(files):
            if not f.startswith("."):
                yield Path(root) / f


def scan_folders(
    folders: Sequence[Union[str, Path]],
    min_side: int = DEFAULT_MIN_SIDE,
    progress: Optional[Progress] = None,
    gray_threshold: float = NEAR_GRAY_CHROMA,
    max_images: Optional[int] = None,
) -> ScanReport:
    """Recursively list and classify the images under ``folders`` (files are accepted too).

    ``max_images`` stops after that many usable photos (files are visited in sorted order, so it is reproducible).
    """
    progress = ensure_progress(progress)
    report = ScanReport([str(f) for f in folders])
    files: List[Tuple[Path, Path]] = []
    for folder in folders:
        folder = Path(folder)
        if not folder.exists():
            report.unreadable.append((str(folder), "folder not found"))
            continue
        base = folder.parent if folder.is_file() else folder
        for f in _walk(folder):
            if is_supported(f):
                files.append((f, base))
            else:
                report.skipped += 1
    progress.set_total(len(files))
    for f, base in files:
        if max_images is not None and len(report.usable) >= max_images:
            break
        rel = f.relative_to(base).as_posix()
        try:
            w, h = probe_size(f)
            if min(w, h) < min_side:
                report.too_small.append((str(f), f"{w}×{h} pixels; at least {min_side} px on the short side needed"))
            else:
                px = read_pixels(f)
                chroma = mean_chroma(px)
                rec = ImageRecord(str(f), rel, int(px.shape[1]), int(px.shape[0]), round(chroma, 3))
                (report.usable if chroma >= gray_threshold else report.near_gray).append(rec)
        except ImageReadError as exc:
            report.unreadable.append((str(f), exc.reason))
        except Exception as exc:  # noqa: BLE001 - a scan reports bad files, it never stops on one
            report.unreadable.append((str(f), f"{type(exc).__name__}: {exc}"))
        progress.step(1, f"scanning {rel}", phase="scan")
    return report


def split_value(rel: str, salt: str = "") -> float:
    """A stable number in [0, 1) for a relative path."""
    h = hashlib.sha1((salt + "\0" + rel).encode("utf-8")).digest()
    return int.from_bytes(h[:8], "big") / 2.0**64


def split_records(
    records: Sequence[ImageRecord], val_fraction: float = 0.05, salt: str = ""
) -> Tuple[List[ImageRecord], List[ImageRecord]]:
    """Deterministic (train, val) by a hash of ``rel``; at least one val photo when val_fraction > 0 and n ≥ 2."""
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError("val_fraction must lie in [0, 1)")
    keyed = sorted(((split_value(r.rel, salt), r) for r in records), key=lambda t: (t[0], t[1].rel))
    train = [r for v, r in keyed if v >= val_fraction]
    val = [r for v, r in keyed if v < val_fraction]
    if val_fraction > 0 and not val and len(keyed) >= 2:
        val = [keyed[0][1]]
        train = [r for _, r in keyed[1:]]
    train.sort(key=lambda r: r.rel)
    val.sort(key=lambda r: r.rel)
    return train, val


# ---------------------------------------------------------------------------------------------------------------
# Scan-like degradations of the input lightness
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class DegradeConfig:
    """Probability of each degradation (0 disables it). Strengths are drawn per sample in fixed ranges."""

    fade: float = 0.3  # reduced contrast with lifted blacks and dimmed whites (faded print)
    low_contrast: float = 0.2
    blur: float = 0.3
    grain: float = 0.4  # film grain / sensor noise
    dust: float = 0.2
    scratches: float = 0.15
    jpeg: float = 0.25

    @classmethod
    def none(cls) -> DegradeConfig:
        return cls(**{k: 0.0 for k in asdict(cls())})

    @classmethod
    def always(cls) -> DegradeConfig:
        return cls(**{k: 1.0 for k in asdict(cls())})

    @property
    def enabled(self) -> bool:
        return any(v > 0 for v in asdict(self).values())


def degrade_lightness(L: np.ndarray, rng: np.random.Generator, cfg: DegradeConfig) -> np.ndarray:
    """Apply scan-like damage to L* (H, W) float32 0..100; returns a new array. Only the input L is touched."""
    x = L.astype(np.float32, copy=True)
    H, W = x.shape
    side = min(H, W)
    # One uniform draw per degradation decides whether it applies, in a fixed order, so enabling one
    # degradation never shifts the random numbers of the others.
    draws = rng.random(7)
    if draws[0] < cfg.fade:
        lift = rng.uniform(5.0, 25.0)
        top = 100.0 - rng.uniform(0.0, 15.0)
        x = lift + x * ((top - lift) / 100.0)
    if draws[1] < cfg.low_contrast:
        c = rng.uniform(0.5, 0.85)
        m = float(x.mean())
        x = m + (x - m) * c
    if draws[2] < cfg.blur:
        sigma = rng.uniform(0.4, 1.2) * side / 128.0 + 0.2
        x = cv2.GaussianBlur(x, (0, 0), sigmaX=sigma)
    if draws[3] < cfg.grain:
        amp = rng.uniform(1.5, 7.0)
        noise = rng.standard_normal((H, W)).astype(np.float32)
        if rng.random() < 0.5:  # clumpy film grain rather than white noise
            noise = cv2.GaussianBlur(noise, (0, 0), sigmaX=0.7)
            noise *= np.float32(1.0 / max(1e-6, float(noise.std())))
        # grain is strongest in the mid-tones
        tone = 1.0 - np.abs(x - 50.0) / 70.0
        x = x + noise * np.float32(amp) * np.clip(tone, 0.3, 1.0)
    if draws[4] < cfg.dust:
        n = int(rng.integers(1, 4 + (H * W) // 2000))
        for _ in range(n):
            cy, cx = int(rng.integers(0, H)), int(rng.integers(0, W))
            r = int(rng.integers(0, 2 + side // 96))
            val = float(rng.choice([rng.uniform(85.0, 100.0), rng.uniform(0.0, 15.0)]))
            cv2.circle(x, (cx, cy), r, val, thickness=-1, lineType=cv2.LINE_AA)
    if draws[5] < cfg.scratches:
        for _ in range(int(rng.integers(1, 4))):
            x0 = float(rng.uniform(0, W))
            x1 = x0 + float(rng.normal(0.0, W * 0.05))
            y0, y1 = float(rng.uniform(0, H * 0.3)), float(rng.uniform(H * 0.6, H))
            val = float(rng.uniform(80.0, 100.0)) if rng.random() < 0.7 else float(rng.uniform(0.0, 20.0))
            cv2.line(x, (int(x0), int(y0)), (int(x1), int(y1)), val, thickness=1, lineType=cv2.LINE_AA)
    if draws[6] < cfg.jpeg:
        q = int(rng.integers(8, 40))
        u8 = np.clip(np.rint(x * 2.55), 0, 255).astype(np.uint8)
        ok, enc = cv2.imencode(".jpg", u8, [cv2.IMWRITE_JPEG_QUALITY, q])
        if ok:
            x = cv2.imdecode(enc, cv2.IMREAD_GRAYSCALE).astype(np.float32) * np.float32(1.0 / 2.55)
    return np.clip(x, 0.0, 100.0).astype(np.float32)


# ---------------------------------------------------------------------------------------------------------------
# Simulated colour hints (Zhang et al. 2017)
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class HintConfig:
    """How training samples get simulated user hints.

    With probability ``p_none`` a sample has none; otherwise the number of points is geometric with mean
    ``mean_points`` (at least one), each a square patch of side uniform in [1, ``max_patch``] pixels at a uniform
    position, holding the ground truth's mean ab over that patch (Zhang et al. 2017, "Real-Time User-Guided Image
    Colorization with Learned Deep Priors", section 3.3).
    """

    p_none: float = 0.55
    mean_points: float = 8.0
    max_patch: int = 9

    def validate(self) -> None:
        if not 0.0 <= self.p_none <= 1.0 or self.mean_points < 1.0 or self.max_patch < 1:
            raise ValueError("hints: p_none in [0, 1], mean_points ≥ 1 and max_patch ≥ 1 are needed")


def sample_hints(ab: np.ndarray, rng: np.random.Generator, cfg: HintConfig) -> Tuple[np.ndarray, np.ndarray]:
    """(hint_ab (H, W, 2), hint_mask (H, W)) float32 simulated from the ground-truth ab (H, W, 2)."""
    return core_sample_hints(ab, rng, cfg.p_none, cfg.mean_points, cfg.max_patch)


# ---------------------------------------------------------------------------------------------------------------
# Dataset
# ---------------------------------------------------------------------------------------------------------------


def _torch():
    import torch

    return torch


def normalise_L(L: np.ndarray) -> np.ndarray:
    return ((L - np.float32(L_OFFSET)) * np.float32(1.0 / L_SCALE)).astype(np.float32)


def denormalise_L(x: np.ndarray) -> np.ndarray:
    return (x * np.float32(L_SCALE) + np.float32(L_OFFSET)).astype(np.float32)


def _resize(img: np.ndarray, size: int) -> np.ndarray:
    h, w = img.shape[:2]
    interp = cv2.INTER_AREA if (h > size and w > size) else cv2.INTER_CUBIC
    return cv2.resize(img, (size, size), interpolation=interp)


CROP_MODES = ("photo", "inference")


class ColorizationDataset:
    """(L_in [1,S,S], ab [2,S',S'], L_clean [1,S,S], hints [3,S,S]) float32 tensors from RGB photos.

    L values are normalised as (L* − 50) / 50; ab is in ab units, at full resolution (``target_stride=1``) or
    area-averaged to the logits grid (``target_stride=4``); ``hints`` holds hint a*, b* (ab units) and the hint
    mask, all zero unless ``hints`` (a :class:`HintConfig`) is given for a training set.

    Crops (``crop``): ``"photo"`` takes a random square of 60–100 % of the short side and resizes it to S (objects
    appear at the scale of the photo's short side). ``"inference"`` first resizes the whole photo so its long
    side is ``input_size`` × a random factor in ``scale_range`` — the scale the app shows the network, with
    multi-scale jitter — and then cuts a random S×S square (a short side below S is cut square and resized up).
    ``train=False`` gives the validation view: a centre crop (at the inference scale in ``"inference"`` mode), no
    flip, no damage, no hints. Call :meth:`set_epoch` before each epoch (the trainer does).
    """

    def __init__(
        self,
        records: Sequence[Union[ImageRecord, str, Path]],
        size: int = 256,
        train: bool = True,
        seed: int = 0,
        degrade: Optional[DegradeConfig] = None,
        min_scale: float = 0.6,
        target_stride: int = 1,
        flip: bool = True,
        crop: str = "photo",
        input_size: int = 256,
        scale_range: Tuple[float, float] = (0.75, 1.25),
        hints: Optional[HintConfig] = None,
    ) -> None:
        self.paths = [r.path if isinstance(r, ImageRecord) else str(r) for r in records]
        self.size = int(size)
        self.train = bool(train)
        self.seed = int(seed)
        self.degrade = degrade if degrade is not None else (DegradeConfig() if train else DegradeConfig.none())
        self.min_scale = float(min_scale)
        self.target_stride = int(target_stride)
        self.flip = flip
        self.epoch = 0
        if crop not in CROP_MODES:
            raise ValueError(f"crop must be one of {', '.join(CROP_MODES)}, not {crop!r}")
        self.crop = crop
        self.input_size = int(input_size)
        self.scale_range = (float(scale_range[0]), float(scale_range[1]))
        self.hints = hints if train else None
        if self.hints is not None:
            self.hints.validate()
        if self.size % self.target_stride:
            raise ValueError("size must be a multiple of target_stride")

    def __len__(self) -> int:
        return len(self.paths)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def rng(self, index: int, stream: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch if self.train else 0, int(index), stream])

    def crop_rgb(self, index: int) -> np.ndarray:
        """The (augmented or centre-cropped) float32 RGB crop (S, S, 3) of item ``index``."""
        rgb = to_rgb_float(read_pixels(self.paths[index]))
        if self.crop == "inference":
            return self._crop_at_inference_scale(index, rgb)
        h, w = rgb.shape[:2]
        s = min(h, w)
        if self.train:
            g = self.rng(index, 1)
            c = max(8, int(round(s * g.uniform(self.min_scale, 1.0))))
            y = int(g.integers(0, h - c + 1))
            x = int(g.integers(0, w - c + 1))
            crop = rgb[y : y + c, x : x + c]
            if self.flip and g.random() < 0.5:
                crop = crop[:, ::-1]
        else:
            y, x = (h - s) // 2, (w - s) // 2
            crop = rgb[y : y + s, x : x + s]
        return np.clip(_resize(np.ascontiguousarray(crop), self.size), 0.0, 1.0)

    def _crop_at_inference_scale(self, index: int, rgb: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        S = self.size
        if self.train:
            g = self.rng(index, 1)
            lo, hi = self.scale_range
            scale = self.input_size * float(np.exp(g.uniform(np.log(lo), np.log(hi)))) / max(h, w)
        else:
            g = None
            scale = self.input_size / max(h, w)
        nh, nw = max(1, int(round(h * scale))), max(1, int(round(w * scale)))
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
        img = cv2.resize(rgb, (nw, nh), interpolation=interp) if (nh, nw) != (h, w) else rgb
        c = min(S, nh, nw)
        if g is not None:
            y = int(g.integers(0, nh - c + 1))
            x = int(g.integers(0, nw - c + 1))
        else:
            y, x = (nh - c) // 2, (nw - c) // 2
        crop = img[y : y + c, x : x + c]
        if g is not None and self.flip and g.random() < 0.5:
            crop = crop[:, ::-1]
        crop = np.ascontiguousarray(crop)
        if c != S:
            crop = cv2.resize(crop, (S, S), interpolation=cv2.INTER_CUBIC)
        return np.clip(crop, 0.0, 1.0)

    def item_numpy(self, index: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(L_in (S,S), ab (S',S',2), L_clean (S,S), hints (S,S,3)) as numpy, L in L* units."""
        lab = srgb_to_lab(self.crop_rgb(index))
        L = np.ascontiguousarray(lab[..., 0])
        ab_full = np.ascontiguousarray(lab[..., 1:])
        if self.hints is not None:
            hint_ab, mask = sample_hints(ab_full, self.rng(index, 3), self.hints)
            hints = np.dstack([hint_ab, mask])
        else:
            hints = np.zeros(L.shape + (3,), np.float32)
        ab = ab_full
        if self.target_stride > 1:
            t = self.size // self.target_stride
            ab = cv2.resize(ab_full, (t, t), interpolation=cv2.INTER_AREA)
        L_in = degrade_lightness(L, self.rng(index, 2), self.degrade) if (self.train and self.degrade.enabled) else L
        return L_in, ab, L, hints

    def __getitem__(self, index: int):
        torch = _torch()
        L_in, ab, L, hints = self.item_numpy(index)
        return (
            torch.from_numpy(normalise_L(L_in)[None]),
            torch.from_numpy(np.ascontiguousarray(ab.transpose(2, 0, 1))),
            torch.from_numpy(normalise_L(L)[None]),
            torch.from_numpy(np.ascontiguousarray(hints.transpose(2, 0, 1), dtype=np.float32)),
        )


def sample_ab(
    records: Sequence[ImageRecord],
    n_images: int = 500,
    max_side: int = 64,
    progress: Optional[Progress] = None,
    on_error: Optional[Callable[[str, str], None]] = None,
) -> List[np.ndarray]:
    """ab (h, w, 2) of up to ``n_images`` photos (evenly spread over the list), shrunk to ``max_side``.

    Used to estimate the bin prior and a data-derived bin table: the targets the network sees are area-averaged
    to its output grid, so a small copy of each photo is the right thing to count.
    """
    progress = ensure_progress(progress)
    n = len(records)
    if n == 0:
        return []
    take = min(n, max(1, int(n_images)))
    idx = np.unique(np.linspace(0, n - 1, take).round().astype(np.int64))
    out = []
    for i in idx:
        rec = records[int(i)]
        try:
            rgb = to_rgb_float(read_pixels(rec.path))
        except ImageReadError as exc:
            if on_error:
                on_error(rec.path, exc.reason)
            continue
        rgb = fit_max_side(rgb, max_side)
        out.append(srgb_to_lab(rgb)[..., 1:].copy())
        progress.check()
    return out


def gray_rgb_uint8(L: np.ndarray) -> np.ndarray:
    """L* (H, W) -> uint8 RGB gray image (for sample previews)."""
    from ..core.color import lightness_to_gray

    g = np.clip(np.rint(lightness_to_gray(L) * 255.0), 0, 255).astype(np.uint8)
    return np.repeat(g[..., None], 3, axis=2)


def batches_for_epoch(n: int, batch_size: int, seed: int, epoch: int, drop_last: bool = True) -> List[List[int]]:
    """The shuffled index batches of one epoch, a pure function of (n, batch_size, seed, epoch)."""
    perm = np.random.default_rng([int(seed), int(epoch), 7]).permutation(n)
    nb = n // batch_size if (drop_last and n >= batch_size) else math.ceil(n / batch_size)
    return [perm[i * batch_size : (i + 1) * batch_size].tolist() for i in range(nb)]
