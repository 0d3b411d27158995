"""Polychrome speed goals, each against a baseline timed in the same run. Prints a table.

Goals (issue 2):
  * T change: decode a 64×64×Q logits map at a new temperature and merge it into a 2 MP preview ≤ 16 ms
    (60 fps). Baseline: float64 softmax decode + the naive whole-image float32 merge.
  * Full-resolution merge of a 24 MP image ≥ 3× faster than the naive float32 cv2.resize + cv2.cvtColor path.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "app"))

from polychrome.core.bins import in_gamut_bins  # noqa: E402
from polychrome.core.color import gray_to_lightness  # noqa: E402
from polychrome.core.decode import LogitsDecoder  # noqa: E402
from polychrome.core.merge import PreviewMerger, merge_full_resolution, naive_merge  # noqa: E402


def photo_like_gray(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A gray image with the statistics of a photo: smooth regions, edges, texture, a few clipped pixels."""
    rng = np.random.default_rng(seed)
    base = cv2.resize(rng.random((h // 200 + 2, w // 200 + 2)).astype(np.float32), (w, h),
                      interpolation=cv2.INTER_CUBIC)
    edges = cv2.resize((rng.random((h // 50 + 2, w // 50 + 2)) > 0.5).astype(np.float32), (w, h),
                       interpolation=cv2.INTER_NEAREST)
    tex = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), 1.5)
    g = 0.15 + 0.6 * base + 0.15 * edges + 0.03 * tex
    return np.clip(g * 255.0, 0, 255).astype(np.uint8)


def photo_like_logits(Q: int, h: int, w: int, seed: int = 1) -> np.ndarray:
    """Logits whose distributions are peaked around smoothly varying colours, like a trained model's."""
    rng = np.random.default_rng(seed)
    bins = in_gamut_bins()
    target = cv2.resize((rng.standard_normal((4, 4, 2)) * 25).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    d2 = ((target[:, :, None, :] - bins.centers[None, None, :Q, :]) ** 2).sum(-1)
    logits = -d2 / 200.0 + rng.standard_normal((h, w, Q)).astype(np.float32) * 0.5
    return np.ascontiguousarray(np.moveaxis(logits, -1, 0)).astype(np.float32)


def timeit(fn, repeat: int, warmup: int = 1):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    times.sort()
    p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
    return statistics.median(times) * 1000, p95 * 1000


def bench_t_change(quick: bool):
    bins = in_gamut_bins()
    logits = photo_like_logits(bins.Q, 64, 64)
    H, W = (1155, 1732) if not quick else (578, 866)  # ≈ 2 MP preview (3:2)
    gray = photo_like_gray(H, W)
    L = gray_to_lightness(gray)
    dec = LogitsDecoder(logits, bins.centers)
    merger = PreviewMerger(L)
    temps = [0.05 + 0.9 * i / 40 for i in range(41)]
    it = iter(range(10**9))

    def ours():
        T = temps[next(it) % len(temps)]
        merger.render(dec.annealed_mean(T))

    def baseline():
        T = temps[next(it) % len(temps)]
        z = logits.astype(np.float64) / T
        z -= z.max(0, keepdims=True)
        p = np.exp(z)
        p /= p.sum(0, keepdims=True)
        ab = np.einsum("qhw,qc->hwc", p, bins.centers.astype(np.float64)).astype(np.float32)
        naive_merge(gray, ab)

    n = 15 if quick else 40
    b50, b95 = timeit(baseline, max(5, n // 4))
    o50, o95 = timeit(ours, n, warmup=3)
    return {"goal": f"T change: decode 64×64×{bins.Q} + merge into {W}×{H} preview", "baseline_ms": b50,
            "ours_ms": o50, "ours_p95_ms": o95, "budget": "≤ 16 ms p95", "met": o95 <= 16.0}


def bench_full_merge(quick: bool):
    H, W = (4000, 6000) if not quick else (1000, 1500)
    gray = photo_like_gray(H, W)
    bins = in_gamut_bins()
    dec = LogitsDecoder(photo_like_logits(bins.Q, 64, 96), bins.centers)
    ab = dec.annealed_mean(0.38)
    n = 3 if quick else 5
    b50, _ = timeit(lambda: naive_merge(gray, ab), n)
    o50, o95 = timeit(lambda: merge_full_resolution(gray, ab), n)
    ratio = b50 / o50
    return {"goal": f"full-resolution merge {W}×{H} ({W * H / 1e6:.0f} MP), 8-bit", "baseline_ms": b50,
            "ours_ms": o50, "ours_p95_ms": o95, "budget": "≥ 3× faster than naive", "met": ratio >= 3.0}


def bench_full_merge_clip(quick: bool):
    H, W = (4000, 6000) if not quick else (1000, 1500)
    gray = photo_like_gray(H, W)
    bins = in_gamut_bins()
    ab = LogitsDecoder(photo_like_logits(bins.Q, 64, 96), bins.centers).annealed_mean(0.38)
    n = 3 if quick else 5
    b50, _ = timeit(lambda: naive_merge(gray, ab), n)
    o50, o95 = timeit(lambda: merge_full_resolution(gray, ab, gamut_map=False), n)
    return {"goal": "same, --gamut clip (no lightness-keeping gamut mapping)", "baseline_ms": b50,
            "ours_ms": o50, "ours_p95_ms": o95, "budget": "≥ 3× faster than naive", "met": b50 / o50 >= 3.0}


def bench_full_merge_16(quick: bool):
    H, W = (4000, 6000) if not quick else (1000, 1500)
    gray16 = photo_like_gray(H, W).astype(np.uint16) * 257
    bins = in_gamut_bins()
    ab = LogitsDecoder(photo_like_logits(bins.Q, 64, 96), bins.centers).annealed_mean(0.38)
    n = 2 if quick else 3

    def naive16():
        g = gray16.astype(np.float32) / 65535.0
        lab = cv2.cvtColor(cv2.cvtColor(g, cv2.COLOR_GRAY2RGB), cv2.COLOR_RGB2Lab)
        abf = cv2.resize(ab, (W, H), interpolation=cv2.INTER_CUBIC)
        rgb = cv2.cvtColor(np.dstack([lab[..., 0], abf]), cv2.COLOR_Lab2RGB)
        return np.clip(np.rint(rgb * 65535.0), 0, 65535).astype(np.uint16)

    b50, _ = timeit(naive16, n)
    o50, o95 = timeit(lambda: merge_full_resolution(gray16, ab), n)
    return {"goal": f"full-resolution merge {W}×{H}, 16-bit", "baseline_ms": b50, "ours_ms": o50,
            "ours_p95_ms": o95, "budget": "(no goal; reported)", "met": None}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller images and fewer repeats")
    args = ap.parse_args(argv)
    from polychrome.runtime.providers import limit_blas_threads

    limit_blas_threads()  # as the app and the CLI do at start (the decoder's product would otherwise leave spinners)
    rows = [bench_t_change(args.quick), bench_full_merge(args.quick), bench_full_merge_clip(args.quick),
            bench_full_merge_16(args.quick)]
    print(f"cv2 threads: {cv2.getNumThreads()}, cores: {cv2.getNumberOfCPUs()}")
    head = ("goal", "baseline ms", "ours ms (p50)", "ours p95", "speed-up", "budget", "met")
    table = [head]
    for r in rows:
        met = "n/a" if r["met"] is None else ("yes" if r["met"] else "NO")
        table.append((r["goal"], f"{r['baseline_ms']:.1f}", f"{r['ours_ms']:.1f}", f"{r['ours_p95_ms']:.1f}",
                      f"{r['baseline_ms'] / r['ours_ms']:.2f}×", r["budget"], met))
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    for k, row in enumerate(table):
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |")
        if k == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return 0


if __name__ == "__main__":
    sys.exit(main())
