"""Big scans and big batches (issue 13), each against a baseline from the same run.

  * Peak memory of ``polychrome colorize`` on a 100 MP gray JPEG and a 100 MP 16-bit gray TIFF (generated in a
    temporary folder), as a multiple of the scan's decoded bytes. Goal: ≤ 4×. Each run is its own process;
    its peak RSS (``wait4``) counts everything: interpreter, libraries, model and the scan. Baseline: the same
    scan through the whole-image path (full-resolution L*, full-resolution output array, whole-image encode).
  * The default 24 MP export (bicubic, lightness-keeping gamut mapping) against the naive float32 merge. Goal ≥ 3×.
  * Throughput of the local engine and the Ray engine (``ray.init(num_cpus=2)`` on this machine, one actor per
    CPU) on the same small scans, in scans per minute (skipped without Ray).

    .venv/bin/python benchmarks/big_scans.py            # 100 MP scans, 24 MP export, 40 scans per engine
    .venv/bin/python benchmarks/big_scans.py --quick    # 25 MP scans, 6 MP export, 12 scans
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "app"))
sys.path.insert(0, str(ROOT / "benchmarks"))

WHOLE_IMAGE_PATH = """
import sys
from polychrome.core import imageio
from polychrome.runtime.colorizer import Colorizer
src, out = sys.argv[1], sys.argv[2]
col = Colorizer()
image = imageio.read_image(src)
pred = col.predict(image.pixels)
pred.L  # the full-resolution L* the previous path kept
rgb = pred.render(col.default_T)
imageio.write_image(out, rgb, icc=None)
"""
IDLE = "from polychrome.runtime.colorizer import Colorizer; Colorizer()"


def make_scans(folder: Path, side: int) -> list[tuple[Path, int]]:
    """A gray JPEG and a 16-bit gray TIFF of side × side pixels, photo-like; (path, decoded bytes)."""
    import tifffile
    from PIL import Image

    rng = np.random.default_rng(0)
    base = cv2.resize(rng.random((side // 200 + 2, side // 200 + 2)).astype(np.float32), (side, side),
                      interpolation=cv2.INTER_CUBIC)
    tex = cv2.resize(rng.random((side // 8, side // 8)).astype(np.float32), (side, side),
                     interpolation=cv2.INTER_LINEAR)
    g = 0.15 + 0.6 * base + 0.2 * tex
    del base, tex
    jpg, tif = folder / "gray.jpg", folder / "gray16.tif"
    Image.fromarray(np.clip(g * 255, 0, 255).astype(np.uint8)).save(jpg, quality=90)
    tifffile.imwrite(tif, np.clip(g * 65535, 0, 65535).astype(np.uint16), compression="zlib", predictor=True,
                     rowsperstrip=64)
    return [(jpg, side * side), (tif, 2 * side * side)]


def peak_rss(cmd: list[str]) -> tuple[float, float]:
    """(peak RSS in MB, seconds) of a child process, by GNU time where there is one (a forked child's ru_maxrss
    from wait4 starts at its parent's, so the parent is kept small: the scans are made in a child too)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "app"))
    gnu_time = Path("/usr/bin/time")
    if gnu_time.exists():
        cmd = [str(gnu_time), "-f", "maxrss_kb=%M", *cmd]
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {err[-500:]}")
    kb = [int(line.split("=", 1)[1]) for line in err.splitlines() if line.startswith("maxrss_kb=")]
    return (kb[-1] if kb else usage.ru_maxrss) / 1024.0, seconds


def bench_memory(quick: bool) -> list[dict]:
    side = 5000 if quick else 10000
    py = sys.executable
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        idle, _ = peak_rss([py, "-c", IDLE])
        subprocess.run([py, str(Path(__file__)), "--make-scans", str(folder), str(side)], check=True,
                       env=dict(os.environ, PYTHONPATH=str(ROOT / "app")))
        for path, decoded in [(folder / "gray.jpg", side * side), (folder / "gray16.tif", 2 * side * side)]:
            out_dir = folder / f"out_{path.stem}"
            ours, t_ours = peak_rss([py, "-m", "polychrome.cli.main", "colorize", str(path), "-o", str(out_dir),
                                     "--no-progress"])
            base, t_base = peak_rss([py, "-c", WHOLE_IMAGE_PATH, str(path), str(folder / f"whole{path.suffix}")])
            mb = decoded / 2**20
            rows.append({"scan": f"{side * side / 1e6:.0f} MP {'16-bit TIFF' if path.suffix == '.tif' else 'JPEG'}",
                         "decoded_mb": mb, "idle_mb": idle, "whole_mb": base, "ours_mb": ours,
                         "whole_x": base / mb, "ours_x": ours / mb, "ours_s": t_ours, "whole_s": t_base,
                         "met": ours / mb <= 4.0})
    return rows


def bench_export(quick: bool) -> dict:
    import run

    return run.bench_full_merge(quick)


def bench_engines(quick: bool) -> list[dict]:
    try:
        import ray
    except ImportError:
        return []
    from polychrome.runtime.batch import plan_run
    from polychrome.runtime.colorizer import Colorizer
    from polychrome.runtime.pipeline import ExportOptions, model_run_spec, run_plan
    from polychrome.runtime.ray_engine import run_plan_ray
    from polychrome.runtime.registry import find_model
    from polychrome.runtime.session import file_sha256

    n = 12 if quick else 40
    entry = find_model(None)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in"
        src.mkdir()
        import run

        for k in range(n):
            cv2.imwrite(str(src / f"scan{k:03d}.jpg"), run.photo_like_gray(1000, 1500, seed=k),
                        [cv2.IMWRITE_JPEG_QUALITY, 90])
        files = sorted(src.iterdir())

        def plan(out: Path, opts: ExportOptions):
            out.mkdir()
            return plan_run(files, model_run_spec(entry.manifest, file_sha256(entry.path), opts), out)

        opts = ExportOptions(out_dir=Path(tmp) / "local")
        with plan(opts.out_dir, opts) as p:
            col = Colorizer(entry)
            t = time.perf_counter()
            res = run_plan(col, p, opts)
            local_s = time.perf_counter() - t
        rows.append({"engine": "local (one process)", "n": len(res.succeeded), "s": local_s, "start_s": 0.0})

        t0 = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
        start_s = time.perf_counter() - t0
        try:
            opts = ExportOptions(out_dir=Path(tmp) / "ray")
            with plan(opts.out_dir, opts) as p:
                t = time.perf_counter()
                res = run_plan_ray(entry.path, p, opts, workers=2, batch_size=2)
                ray_s = time.perf_counter() - t
        finally:
            ray.shutdown()
        rows.append({"engine": "ray (2 actors, 1 CPU each)", "n": len(res.succeeded), "s": ray_s,
                     "start_s": start_s})
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller scans, fewer files")
    ap.add_argument("--skip", nargs="*", default=[], choices=["memory", "export", "engines"])
    ap.add_argument("--make-scans", nargs=2, metavar=("FOLDER", "SIDE"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.make_scans:
        make_scans(Path(args.make_scans[0]), int(args.make_scans[1]))
        return 0
    from polychrome.runtime.providers import limit_blas_threads

    limit_blas_threads()
    if "memory" not in args.skip:
        print("| scan | decoded MB | idle process MB | whole-image path peak MB (×) | ours peak MB (×) | ours s | "
              "goal ≤ 4× |")
        print("|---|---|---|---|---|---|---|")
        for r in bench_memory(args.quick):
            print(f"| {r['scan']} | {r['decoded_mb']:.0f} | {r['idle_mb']:.0f} | {r['whole_mb']:.0f} "
                  f"({r['whole_x']:.1f}×) | {r['ours_mb']:.0f} ({r['ours_x']:.1f}×) | {r['ours_s']:.1f} | "
                  f"{'yes' if r['met'] else 'NO'} |")
    if "export" not in args.skip:
        r = bench_export(args.quick)
        print(f"\n{r['goal']}, gamut mapping on: naive {r['baseline_ms']:.0f} ms, ours {r['ours_ms']:.0f} ms, "
              f"{r['baseline_ms'] / r['ours_ms']:.2f}× (goal ≥ 3×: {'yes' if r['met'] else 'NO'})")
    if "engines" not in args.skip:
        rows = bench_engines(args.quick)
        if not rows:
            print("\nengines: Ray is not installed (pip install 'polychrome[cluster]'); skipped")
        else:
            print("\n| engine | scans (1.5 MP JPEG) | seconds | scans/min | Ray start s (not counted) |")
            print("|---|---|---|---|---|")
            for r in rows:
                print(f"| {r['engine']} | {r['n']} | {r['s']:.1f} | {60 * r['n'] / r['s']:.0f} | "
                      f"{r['start_s']:.1f} |")
            print(f"ray / local throughput: {rows[0]['s'] / rows[1]['s']:.2f}×")
    return 0


if __name__ == "__main__":
    sys.exit(main())
