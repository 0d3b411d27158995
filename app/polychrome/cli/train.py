"""``polychrome train``: train or fine-tune a colorization model from folders of colour photos.

This module imports no torch at import time: :func:`add_parser` only builds the argparse sub-command, and
:func:`run` imports the trainer when it runs. Progress lines go to stderr.

    polychrome train photos/ --out family --epochs 20
    polychrome train more_photos/ --out family2 --from family --freeze-encoder --epochs 5
    polychrome train --resume ~/.cache/polychrome/checkpoints/family      # after Ctrl+C or a crash
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path

from ..core.decode import DEFAULT_T
from ..core.progress import ProgressEvent, format_duration
from ..training.events import PhaseEvent, ScanEvent, TrainingEvent, TrainStepEvent, ValEvent

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return v


def _unit(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= v <= 1.0:
        raise argparse.ArgumentTypeError("must lie in [0, 1]")
    return v


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``train`` sub-command to an argparse sub-parser collection; returns its parser."""
    t = subparsers.add_parser(
        "train",
        help="train or fine-tune a colorization model on colour photos (needs the training extra)",
        description=(
            "Train a colorization model (EfficientNet-Lite0 encoder + U-Net decoder, classification over ab bins "
            "with class-rebalanced cross-entropy) on folders of colour photos, then export it as a Polychrome "
            "ONNX model. Ctrl+C stops after the current step and saves a checkpoint; --resume continues it."
        ),
    )
    t.add_argument("data", nargs="*", metavar="DATA", help="folders (searched recursively) or files of colour photos")
    t.add_argument("--out", dest="name", metavar="NAME", help="name of the new model (required unless --resume)")
    t.add_argument("--from", dest="base", metavar="MODEL", help="fine-tune this model (name or .onnx path)")
    t.add_argument("--epochs", type=_positive_int, default=10, help="passes over the training photos (10)")
    t.add_argument("--size", type=_positive_int, default=256, help="training crop side, a multiple of 32 (256)")
    t.add_argument("--loss", choices=["ce", "l2", "mse_l1"], default="ce",
                   help="ce: rebalanced cross-entropy over bins (default); l2 / mse_l1: regression baselines")
    t.add_argument("--freeze-encoder", action="store_true", help="train only the decoder")
    t.add_argument("--batch-size", type=_positive_int, default=16, help="photos per step (16)")
    t.add_argument("--lr", type=float, default=1e-3, help="peak learning rate of the decoder (1e-3)")
    t.add_argument("--lam", type=_unit, default=0.5, help="rebalancing λ: 1 = none, 0 = full (0.5)")
    t.add_argument("--val-fraction", type=float, default=0.05, help="share of photos held out (0.05)")
    t.add_argument("--val", dest="val_data", action="append", default=[], metavar="FOLDER",
                   help="validation photos in their own folder (repeatable); then nothing is held out of DATA")
    t.add_argument("--max-images", type=_positive_int, help="use at most this many training photos")
    t.add_argument("--max-steps", type=_positive_int, help="stop after this many steps")
    t.add_argument("--min-side", type=_positive_int, default=64, help="skip photos with a shorter side (64)")
    t.add_argument("--device", default="auto", help="auto, cpu, cuda (default: auto)")
    t.add_argument("--no-amp", action="store_true", help="no mixed precision on CUDA")
    t.add_argument("--workers", type=int, help="data-loading processes (default: 0 on CPU, up to 8 on CUDA)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--bins", choices=["in_gamut", "data"], default="in_gamut",
                   help="bin table: every in-gamut cell (default) or the cells the photos occupy")
    t.add_argument("--prior", dest="prior_source", choices=["auto", "data", "base"], default="auto",
                   help="colour prior for rebalancing: the training photos' (data), the base model's (base), or "
                        "auto: the base model's when fine-tuning and stored, else the photos'")
    t.add_argument("--stride", type=int, choices=[2, 4], default=4, help="output stride (4)")
    t.add_argument("--input-size", type=_positive_int, help="long side the app feeds the model (default: --size)")
    t.add_argument("--default-t", dest="default_T", type=float, default=DEFAULT_T,
                   help=f"default temperature ({DEFAULT_T})")
    t.add_argument("--no-degrade", action="store_true", help="no scan-like damage (grain, fading ...) on inputs")
    t.add_argument("--scratch", action="store_true", help="no pretrained encoder (train from scratch)")
    t.add_argument("--crop", choices=["photo", "inference"], default="photo",
                   help="photo: squares of the photo's short side (default); inference: at the app's input scale "
                        "(long side --input-size × --crop-scale), then a --size square")
    t.add_argument("--crop-scale", nargs=2, type=float, default=(0.75, 1.25), metavar=("MIN", "MAX"),
                   help="multi-scale range of --crop inference (0.75 1.25)")
    t.add_argument("--global-context", action="store_true",
                   help="fuse the whole image's pooled features (ImageNet head) into the decoder")
    t.add_argument("--hints", action="store_true",
                   help="the model takes colour hints (hint_ab, hint_mask), trained with simulated hints")
    t.add_argument("--hint-p-none", type=_unit, default=0.55, help="share of training samples with no hint (0.55)")
    t.add_argument("--prior-alpha", type=_unit, default=None,
                   help="exported logits undo this share of the rebalancing tilt (0..1; default: the base model's "
                        "when fine-tuning, else 0)")
    t.add_argument("--hint-propagation", type=float, default=None, metavar="GAMMA", dest="hint_gamma",
                   help="strength of the exported lightness-guided hint propagation (hint models; 0: off)")
    t.add_argument("--resume", metavar="CHECKPOINT", help="continue an interrupted run (checkpoint file or folder)")
    t.add_argument("--checkpoint-dir", help="where checkpoints go (default: the user cache folder)")
    t.add_argument("--checkpoint-every", type=_positive_int, default=500, help="steps between checkpoints (500)")
    t.add_argument("--output", "-o", metavar="PATH", help="where to write the .onnx (default: ./NAME.onnx)")
    t.add_argument("--install", action="store_true", help="also install the model into the per-user models folder")
    t.add_argument("--overwrite", action="store_true", help="replace an existing output / installed model")
    t.add_argument("--license", default="", help="licence text stored in the model (say what the data allows)")
    t.add_argument("--description", default="", help="one paragraph shown in the model picker")
    t.add_argument("--version", dest="model_version", default="1.0", help="model version string (1.0)")
    t.add_argument("--quiet", "-q", action="store_true", help="only epoch lines and errors")
    return t


def _err(msg: str) -> None:
    print(f"polychrome train: {msg}", file=sys.stderr)


NOTICE_PHASES = ("prepare", "start", "export", "recalibrate", "cancelled", "done")


class _Printer:
    """Turns progress events into stderr lines (train lines at most every few seconds)."""

    def __init__(self, quiet: bool = False, stream=None, interval: float = 5.0) -> None:
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.interval = interval
        self._last = 0.0

    def _print(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def __call__(self, ev: ProgressEvent) -> None:
        d = ev.data
        if isinstance(d, TrainStepEvent):
            self._train(d)
        elif isinstance(d, ValEvent):
            self._val(d)
        elif isinstance(d, ScanEvent) or (isinstance(d, PhaseEvent) and d.phase == "scan"):
            self._print(ev.message)  # not the per-file events of the scan itself
        elif isinstance(d, TrainingEvent) and d.phase in NOTICE_PHASES and ev.message:
            self._print(ev.message)

    def _train(self, d: TrainStepEvent) -> None:
        now = time.monotonic()
        last_step = d.step == d.total_steps
        if self.quiet or (now - self._last < self.interval and not last_step):
            return
        self._last = now
        tl, ips = d.train_loss, d.images_per_s
        self._print(
            f"epoch {d.epoch}/{d.epochs}  step {d.step}/{d.total_steps}  "
            f"loss {d.loss:.4f}  (epoch mean {tl if tl is None else f'{tl:.4f}'})  "
            f"lr {d.lr:.2e}  {'' if ips is None else f'{ips:.1f} img/s  '}ETA {format_duration(d.eta_s)}"
        )

    def _val(self, d: ValEvent) -> None:
        m = d.metrics or {}
        parts = [f"{'final ' if d.final else ''}validation after epoch {d.epoch}: loss {d.val_loss:.4f}"]
        if m:
            parts.append(
                f"PSNR {m['psnr']:.2f} dB  SSIM {m['ssim']:.3f}  AuC {m['auc']:.3f}  ΔE00 {m['delta_e']:.2f}  "
                f"colourfulness {m['colorfulness']:.1f} vs photos {m['colorfulness_gt']:.1f}"
            )
        self._print("  ".join(parts))
        if d.warning:
            self._print(f"warning: {d.warning}")


def _config_from_args(args):
    from ..training.config import TrainConfig

    return TrainConfig(
        data=[str(p) for p in args.data],
        name=args.name or "custom",
        output=args.output,
        size=args.size,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        loss=args.loss,
        lam=args.lam,
        bins=args.bins,
        prior_source=args.prior_source,
        freeze_encoder=args.freeze_encoder,
        pretrained=not args.scratch,
        stride=args.stride,
        base_model=args.base,
        seed=args.seed,
        device=args.device,
        amp=not args.no_amp,
        val_fraction=args.val_fraction,
        val_data=list(getattr(args, "val_data", []) or []),
        max_train_images=args.max_images,
        max_steps=args.max_steps,
        min_side=args.min_side,
        degrade=not args.no_degrade,
        crop=args.crop,
        crop_scale_min=float(args.crop_scale[0]),
        crop_scale_max=float(args.crop_scale[1]),
        global_context=args.global_context,
        hints=args.hints,
        hint_p_none=args.hint_p_none,
        prior_alpha=args.prior_alpha,
        **({} if args.hint_gamma is None else {"hint_gamma": args.hint_gamma}),
        checkpoint_dir=args.checkpoint_dir,
        checkpoint_every_steps=args.checkpoint_every,
        num_workers=None if args.workers is None else max(0, args.workers),
        default_T=args.default_T,
        input_size=args.input_size,
        install=args.install,
        overwrite=args.overwrite,
        version=args.model_version,
        license=args.license,
        description=args.description,
    )


def run(args) -> int:
    """Run ``polychrome train`` with parsed arguments; returns the exit code."""
    if not args.resume:
        if not args.data:
            _err("give at least one DATA folder (or --resume CHECKPOINT)")
            return EXIT_USAGE
        if not args.name:
            _err("--out NAME is required (the new model's name)")
            return EXIT_USAGE
        if args.size % 32:
            _err(f"--size must be a multiple of 32 (got {args.size})")
            return EXIT_USAGE
    if args.val_fraction < 0 or args.val_fraction >= 1:
        _err("--val-fraction must lie in [0, 1)")
        return EXIT_USAGE
    from ..training import missing_dependencies

    if "torch" in missing_dependencies():  # imports torch here: the training layer's own check
        if getattr(sys, "frozen", False):  # an installed app bundle: pip cannot add packages to it
            _err("This Polychrome build has no training support (PyTorch is not inside it, to keep it small).\n"
                 "Install the training build of Polychrome (built with packaging/build.py --with-training), or\n"
                 "train from a Python installation: pip install 'polychrome[train]' (see the README).")
            return EXIT_USAGE
        _err(
            "PyTorch is not installed. Training needs the 'train' extra; for the CPU build of PyTorch run\n"
            "    pip install torch --index-url https://download.pytorch.org/whl/cpu\n"
            "then: pip install 'polychrome[train]'"
        )
        return EXIT_USAGE

    from ..core.errors import PolychromeError
    from ..core.progress import Cancelled, CancelToken, Progress
    from ..training.trainer import Trainer

    config = _config_from_args(args)
    if args.base:
        from ..runtime.registry import find_model

        try:
            config.base_model = str(find_model(args.base).path)
        except PolychromeError as exc:
            _err(str(exc))
            return EXIT_USAGE
    if not args.resume:
        out = Path(config.output) if config.output else Path(f"{config.name}.onnx")
        if out.exists() and not config.overwrite:
            _err(f"{out} exists; choose another --out/--output or pass --overwrite")
            return EXIT_USAGE
        if config.install and not config.overwrite:
            from ..runtime.registry import user_models_dir

            dest = user_models_dir() / f"{config.name}.onnx"
            if dest.exists():
                _err(f"a model named {config.name!r} is already installed ({dest}); pass --overwrite to replace it")
                return EXIT_USAGE

    token = CancelToken()
    progress = Progress(_Printer(quiet=args.quiet), cancel=token)
    trainer = Trainer(config, progress)

    previous = None
    if threading.current_thread() is threading.main_thread():
        def on_sigint(signum, frame):  # first Ctrl+C: stop cleanly after this step; second: hard stop
            if token.cancelled:
                raise KeyboardInterrupt
            token.cancel()
            _err("stopping after the current step (Ctrl+C again to abort without a checkpoint)")

        previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        result = trainer.resume(args.resume) if args.resume else trainer.fit()
    except Cancelled:
        where = trainer.last_checkpoint
        _err(f"cancelled at step {trainer.step}; checkpoint: {where}")
        if where:
            _err(f"continue with: polychrome train --resume {where}")
        return EXIT_CANCELLED
    except KeyboardInterrupt:
        _err("aborted")
        return EXIT_CANCELLED
    except PolychromeError as exc:  # TrainingError included
        _err(str(exc))
        return EXIT_FAILURE
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    s = result.summary
    if result.output:
        print(f"model: {result.output}", file=sys.stderr)
    if result.installed:
        print(f"installed: {result.installed}", file=sys.stderr)
    if result.checkpoint:
        print(f"checkpoint: {result.checkpoint}", file=sys.stderr)
    if s.get("warning"):
        print(f"warning: {s['warning']}", file=sys.stderr)
    return EXIT_OK


def main(argv=None) -> int:
    """Stand-alone entry (``polychrome.cli.train.main``): only the ``train`` command."""
    parser = argparse.ArgumentParser(prog="polychrome")
    sub = parser.add_subparsers(dest="command")
    add_parser(sub)
    args = parser.parse_args(argv)
    if args.command != "train":
        parser.print_help()
        return EXIT_USAGE
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
