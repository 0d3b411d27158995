"""Re-running a finished batch: the batch record makes it skip the work, against the full run timed in the same run.

    .venv/bin/python benchmarks/batch_resume.py [--files 50] [--size 768x1024] [--old-app PATH]

Times ``polychrome colorize IN -o OUT`` (a real process, the shipped model) three ways:
  * full: the first run (what every re-run cost before the batch record: it wrote everything again as "name (2)");
  * rerun: the same command again (all done: the record is read, sources and outputs are stat'ed, the model is
    not even loaded);
  * resume: after deleting the record's last 20 % of outputs (a killed run's state), the re-run does only those.
Goal: rerun ≥ 10× faster than full. ``--old-app`` (an ``app/`` folder of an older checkout) also times its re-run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "app"))


def make_inputs(folder: Path, n: int, h: int, w: int) -> None:
    from PIL import Image

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run import photo_like_gray

    folder.mkdir(parents=True)
    for i in range(n):
        Image.fromarray(photo_like_gray(h, w, seed=i)).save(folder / f"scan{i:03d}.jpg", quality=92)


def timed(cmd, app: Path) -> float:
    env = dict(os.environ, PYTHONPATH=str(app), OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"))
    t0 = time.perf_counter()
    res = subprocess.run(cmd, env=env, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{res.stderr[-2000:]}")
    return dt


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=50)
    ap.add_argument("--size", default="768x1024")
    ap.add_argument("--old-app", type=Path, help="app/ folder of an older checkout to time its re-run too")
    args = ap.parse_args()
    h, w = map(int, args.size.split("x"))
    tmp = Path(tempfile.mkdtemp(prefix="polychrome-resume-"))
    try:
        src, out = tmp / "in", tmp / "out"
        make_inputs(src, args.files, h, w)
        model = ["--model", str(ROOT / "models" / "polychrome-lite0.onnx")]
        cmd = [sys.executable, "-m", "polychrome.cli.main", "colorize", str(src), *model, "--no-progress",
               "-o", str(out)]
        app = ROOT / "app"
        full = timed(cmd, app)
        rerun = min(timed(cmd, app) for _ in range(3))
        lines = [json.loads(x) for x in (out / "polychrome-batch.jsonl").read_text().splitlines()]
        done = [e for e in lines if e["event"] == "done"]
        for e in done[-max(1, args.files // 5):]:
            (out / e["output"]).unlink()
        resume = timed(cmd, app)
        rows = [("full run", full, 1.0), ("re-run, all done", rerun, full / rerun),
                (f"resume, {max(1, args.files // 5)} left", resume, full / resume)]
        if args.old_app:
            old_out = tmp / "old_out"
            old_cmd = [*cmd[:-1], str(old_out)]
            timed(old_cmd, args.old_app)
            rows.append(("re-run, old code (no record)", timed(old_cmd, args.old_app), None))
            rows[-1] = (*rows[-1][:2], full / rows[-1][1])
            n_old = sum(1 for p in old_out.iterdir() if p.suffix == ".jpg")
            rows.append((f"  old code's outputs after 2 runs: {n_old} files", float("nan"), None))
        threads = os.environ.get("OMP_NUM_THREADS", "2")
        print(f"{args.files} files of {w}×{h} (JPEG), shipped model, OMP_NUM_THREADS={threads}")
        for name, t, ratio in rows:
            r = f"{ratio:6.1f}× vs full" if ratio else ""
            print(f"  {name:36s} {t:7.2f} s  {r}" if t == t else f"  {name}")
        ok = full / rerun >= 10
        print(f"goal: re-run of a finished batch ≥ 10× faster than the full run: {'met' if ok else 'NOT met'} "
              f"({full / rerun:.1f}×)")
        return 0 if ok else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
