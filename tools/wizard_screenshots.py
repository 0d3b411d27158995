#!/usr/bin/env python3
"""Screenshots of every page of the training wizard (offscreen by default; under Xvfb if DISPLAY is set).

    PYTHONPATH=app .venv/bin/python tools/wizard_screenshots.py [--out shots/wizard] [--data FOLDER]
        [--base MODEL.onnx] [--size 64] [--epochs 3]

Walks the wizard as a user would: scans ``--data`` (default: ``../shared/data/train/gb82`` when present — read
only, never copied — else generated colour photos), shows the colour statistics, measures the time per epoch,
trains (fine-tuning ``--base``, default: a small network trained here first, so that the run takes a minute on a
CPU), evaluates and installs the model into a throwaway user models folder. Writes one PNG per page:
``0_no_torch.png``, ``1_data.png``, ``2_colours.png``, ``3_settings.png``, ``4_train_running.png``,
``4_train_finished.png``, ``5_evaluate.png``, ``6_export.png``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "app"))
if not os.environ.get("DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "train" / "gb82"


def generated_photos(folder: Path, n: int = 20, size: int = 160) -> Path:
    """Colourful generated photos: a sky-to-sand gradient with red discs and green squares."""
    import cv2
    import numpy as np

    from polychrome.core import imageio

    rng = np.random.default_rng(3)
    (folder / "generated").mkdir(parents=True, exist_ok=True)
    for i in range(n):
        dark, light = np.array([30, 60, 150]), np.array([235, 215, 150])
        ang = rng.uniform(0, 2 * np.pi)
        yy, xx = np.mgrid[0:size, 0:size] / (size - 1) - 0.5
        t = np.clip((xx * np.cos(ang) + yy * np.sin(ang)) * 1.2 + 0.5, 0, 1)[..., None]
        img = np.ascontiguousarray(np.clip(dark * (1 - t) + light * t, 0, 255).astype(np.uint8))
        for _ in range(int(rng.integers(2, 5))):
            c = (int(rng.integers(150, 230)), int(rng.integers(20, 60)), int(rng.integers(20, 60)))
            cv2.circle(img, tuple(int(v) for v in rng.integers(20, size - 20, 2)), int(rng.integers(8, 25)), c, -1)
        imageio.write_image(folder / "generated" / f"photo{i:02d}.png", img)
    (folder / "generated" / "notes.jpg").write_text("not an image")
    return folder / "generated"


def odd_files(folder: Path) -> Path:
    """A folder with a gray scan, a thumbnail too small to learn from and two files that are not images."""
    import numpy as np

    from polychrome.core import imageio

    folder.mkdir(parents=True, exist_ok=True)
    ramp = np.tile(np.linspace(30, 220, 200).astype(np.uint8), (150, 1))
    imageio.write_image(folder / "grandpa_1931.png", np.dstack([ramp] * 3))
    imageio.write_image(folder / "thumb.png", np.full((40, 30, 3), (200, 80, 40), np.uint8))
    (folder / "scan_0042.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    (folder / "empty.png").write_bytes(b"")
    return folder


def build_base(data: Path, work: Path, size: int) -> Path:
    """A small fine-tunable model trained here briefly (thin network, no ImageNet encoder)."""
    from polychrome.training.loop import TrainConfig, Trainer

    cfg = TrainConfig(data=[str(data)], name="demo-base", output=str(work / "demo-base.onnx"),
                      checkpoint_dir=str(work / "base-ck"), size=size, epochs=4, batch_size=4, lr=3e-3,
                      pretrained=False, width_mult=0.5, val_fraction=0.1, min_side=32, prior_images=100,
                      warmup_steps=2, recalibrate_bn_images=16, checkpoint_every_steps=0, seed=0)
    return Trainer(cfg).fit().output


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="shots/wizard", help="folder for the PNGs (default: ./shots/wizard)")
    ap.add_argument("--data", help="folder of colour photos (default: ../shared/data/train/gb82 or generated)")
    ap.add_argument("--base", help="a fine-tunable .onnx to start from (default: one trained here first)")
    ap.add_argument("--size", type=int, default=64, help="training crop size (default 64: quick)")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for each page's work")
    args = ap.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="polychrome-wizard-shots-"))
    os.environ["POLYCHROME_USER_MODELS"] = str(work / "user_models")  # never the user's real models folder
    os.environ["POLYCHROME_CHECKPOINTS"] = str(work / "checkpoints")

    from PySide6.QtWidgets import QApplication

    from polychrome.gui.wizard import TrainingWizard, TrainingWizardController
    from polychrome.gui.wizard.controller import FINISHED
    from polychrome.gui.wizard.pages import PAGE_DATA, PAGE_EVALUATE, PAGE_EXPORT, PAGE_TRAIN

    app = QApplication.instance() or QApplication([])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    def pump(until, seconds: float = args.timeout) -> bool:
        t0 = time.monotonic()
        while time.monotonic() - t0 < seconds:
            app.processEvents()
            if until():
                for _ in range(5):
                    app.processEvents()
                    time.sleep(0.02)
                return True
            time.sleep(0.03)
        return False

    def shot(widget, name: str) -> None:
        app.processEvents()
        path = out / name
        widget.grab().save(str(path))
        print(path)

    # 0. without PyTorch
    nt = TrainingWizard(TrainingWizardController(missing=["torch"]))
    nt.show()
    pump(lambda: True, 0.3)
    shot(nt, "0_no_torch.png")
    nt.close()

    data = Path(args.data) if args.data else (DEFAULT_DATA if DEFAULT_DATA.is_dir() else generated_photos(work))
    print(f"photos: {data}", file=sys.stderr)
    odd = odd_files(work / "odd files")  # what a real collection also holds: the scan lists them with reasons
    base = Path(args.base) if args.base else build_base(data, work, args.size)
    c = TrainingWizardController(base_model=base, checkpoint_root=work / "checkpoints" / "wizard",
                                 config_overrides=dict(prior_images=200, val_metric_images=4, val_samples=4,
                                                       recalibrate_bn_images=16, warmup_steps=2))
    s = c.settings
    s.size, s.epochs, s.batch_size, s.min_side, s.val_fraction = args.size, args.epochs, 4, 32, 0.15
    wizard = TrainingWizard(c)
    wizard.show()

    wizard.page(PAGE_DATA).add_folders([str(data), str(odd)])
    pump(lambda: c.scan is not None and not c.busy)
    shot(wizard, "1_data.png")

    wizard.next()
    pump(lambda: c.colors is not None and not c.busy)
    shot(wizard, "2_colours.png")

    wizard.next()
    wizard.currentPage().measure.click()
    pump(lambda: c.estimate is not None and not c.busy)
    shot(wizard, "3_settings.png")

    wizard.next()
    assert wizard.currentId() == PAGE_TRAIN
    wizard.currentPage().start_button.click()
    pump(lambda: len(c.curves.val_loss) >= 1 and c.step >= c.curves.val_steps[-1] + 1)
    c.pause_training()
    pump(lambda: c.train_state == "paused", 120)
    shot(wizard, "4_train_running.png")
    c.resume_training()
    pump(lambda: c.train_state == FINISHED and not c.busy)
    shot(wizard, "4_train_finished.png")

    wizard.next()
    assert wizard.currentId() == PAGE_EVALUATE
    pump(lambda: c.evaluation is not None and not c.busy)
    shot(wizard, "5_evaluate.png")

    wizard.next()
    assert wizard.currentId() == PAGE_EXPORT
    page = wizard.currentPage()
    page.name.setText("Summer colours")
    page.description.setText("Fine-tuned on the demo photos")
    page.license.setText("CC0 photos (gb82)" if data == DEFAULT_DATA else "generated photos")
    page.install_button.click()
    pump(lambda: c.installed is not None and not c.busy)
    shot(wizard, "6_export.png")
    wizard.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
