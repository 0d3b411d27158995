"""Fine-tuning speed of the training wizard on the CPU: the default model, encoder frozen, 200 photos, one epoch,
192×192 crops. Goal (issue 5): at most 5 minutes on a 2-core CPU.

    PYTHONPATH=app nice -n 15 .venv/bin/python benchmarks/wizard_finetune.py [--photos N] [--size 192]
        [--batch-size 16] [--data FOLDER] [--no-estimate]

What runs is exactly what the wizard's Train page runs (``training.jobs.train_model`` → the training core's
``Trainer.fit``, the same as ``polychrome train``): scan, colour prior of the photos, the epoch, validation,
BatchNorm re-estimation of the decoder, ONNX export with its verification. The settings are the wizard's:
batch 16, λ 0.5, the photos' own prior, scan-like degradations, a checkpoint at the epoch end.

Base model: the default model from ``models/`` when it can be fine-tuned; otherwise a ColorizationNet with the
ImageNet-pretrained encoder, exported with ``training.export.export_onnx`` (the architecture and size of the
shipped model; only its weights differ, which does not change the speed).

Photos: ``../shared/data/train/bsds500_train`` (200 photos; read in place, never copied) with validation photos
from ``../shared/data/val/bsds500_val``, when present; else 200 generated colour photos in a temporary folder.

Also times the Settings page's estimate (``training.loop.estimate_epoch_time``, 3 batches) before the run, to
show how close the estimate comes. Prints the phases and the ratio of the total to the 5-minute budget.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "app"))

BUDGET_S = 300.0
SHARED = ROOT.parent / "shared" / "data"
TRAIN_DIR = SHARED / "train" / "bsds500_train"
VAL_DIR = SHARED / "val" / "bsds500_val"


def generated_photos(folder: Path, n: int, size: int = 256) -> Path:
    import cv2
    import numpy as np

    from polychrome.core import imageio

    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        a, b = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        t = np.linspace(0, 1, size)[None, :, None]
        img = np.ascontiguousarray((a * (1 - t) + b * t).repeat(size, 0).astype(np.uint8))
        for _ in range(4):
            c = tuple(int(v) for v in rng.integers(0, 256, 3))
            cv2.circle(img, tuple(int(v) for v in rng.integers(0, size, 2)), int(rng.integers(10, 60)), c, -1)
        imageio.write_image(folder / f"gen{i:03d}.png", img)
    return folder


def base_model(work: Path) -> tuple:
    """(path, description) of the model to fine-tune."""
    from polychrome.gui.wizard.controller import fine_tunable_default_model

    path, info = fine_tunable_default_model()
    if path is not None:
        return path, f"default model {info}"
    from polychrome.core.bins import in_gamut_bins
    from polychrome.training.export import export_onnx
    from polychrome.training.network import ColorizationNet

    bins = in_gamut_bins()
    net = ColorizationNet(bins.Q, pretrained=True).eval()
    out = export_onnx(net, {"bins": bins, "name": "bench-base", "input_size": 256}, work / "bench-base.onnx")
    return out, f"no fine-tunable default model ({info}); a ColorizationNet with the ImageNet encoder, exported"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=int, default=200)
    ap.add_argument("--size", type=int, default=192)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--data", help="folder of colour photos (default: bsds500_train or generated)")
    ap.add_argument("--no-estimate", action="store_true", help="skip timing the Settings page's estimate")
    args = ap.parse_args(argv)

    import torch

    from polychrome.core.progress import CancelToken, Progress
    from polychrome.training.jobs import PauseGate, train_model
    from polychrome.training.loop import TrainConfig, estimate_epoch_time

    work = Path(tempfile.mkdtemp(prefix="polychrome-bench-"))
    if args.data:
        data, val = Path(args.data), None
    elif TRAIN_DIR.is_dir():
        data, val = TRAIN_DIR, (VAL_DIR if VAL_DIR.is_dir() else None)
    else:
        data, val = generated_photos(work / "photos", args.photos + 10), None
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs; "
          f"load average {os.getloadavg()[0]:.1f} at the start")
    t0 = time.monotonic()
    base, base_info = base_model(work)
    print(f"base: {base_info} ({time.monotonic() - t0:.1f} s)")
    print(f"photos: {data}" + (f", validation: {val}" if val else ""))

    cfg = TrainConfig(
        data=[str(data)], val_data=[str(val)] if val else [], name="bench", base_model=str(base),
        freeze_encoder=True, size=args.size, epochs=1, batch_size=args.batch_size, loss="ce", lam=0.5,
        prior_source="data", max_train_images=args.photos, max_val_images=16, val_fraction=0.05,
        checkpoint_dir=str(work / "run"), output=str(work / "run" / "trained.onnx"), checkpoint_every_steps=100,
        device="cpu",
    )

    if not args.no_estimate:
        t = time.monotonic()
        est = estimate_epoch_time(cfg, n_batches=3)
        print(f"estimate (Settings page): {est.seconds_per_step:.2f} s/step × {est.steps_per_epoch} steps "
              f"+ validation {est.val_seconds:.1f} s = {est.epoch_seconds:.0f} s per epoch; with the BatchNorm pass "
              f"and final validation ({est.finish_seconds:.0f} s) {est.total_seconds:.0f} s before the export "
              f"(took {time.monotonic() - t:.0f} s to measure)")

    marks = {}
    t_start = time.monotonic()

    def on_event(ev) -> None:
        ph = ev.data.get("phase")
        now = time.monotonic() - t_start
        if ph == "start":
            marks["start"] = now
            print(f"  {now:6.1f} s  prepared: {ev.message}")
        elif ph == "train" and ev.data.get("step") == 1:
            marks["first_step"] = now
        elif ph == "train" and ev.data.get("step") == ev.data.get("total_steps"):
            marks["steps_done"] = now
            print(f"  {now:6.1f} s  {ev.data['step']} steps done")
        elif ph == "val":
            print(f"  {now:6.1f} s  {ev.message}")
        elif ph == "export" and ev.data.get("size_mb"):
            print(f"  {now:6.1f} s  {ev.message}")

    result = train_model(Progress(on_event), CancelToken(), cfg, PauseGate())
    total = time.monotonic() - t_start
    s = result.summary
    print()
    print(f"fine-tune, encoder frozen, {s['n_train']} photos, 1 epoch ({s['steps']} steps of {args.batch_size}), "
          f"{args.size}×{args.size}, CPU:")
    print(f"  scan + prior + model:  {marks.get('start', 0):6.1f} s")
    per_step = s["train_seconds"] / max(1, s["steps"])
    print(f"  training steps:        {s['train_seconds']:6.1f} s  ({per_step:.2f} s/step)")
    print(f"  validation, BN, export:{total - marks.get('steps_done', total):6.1f} s")
    print(f"  total wall time:       {total:6.1f} s  = {total / 60:.2f} min; ratio to the 5-minute budget "
          f"{total / BUDGET_S:.2f} ({'within' if total <= BUDGET_S else 'OVER'} budget)")
    print(f"load average {os.getloadavg()[0]:.1f} at the end (another process sharing the CPU slows every figure)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
