"""The ``polychrome`` command line: colorize, evaluate, models, model (evaluate/average/stamp), self-test and train
(with the training extra)."""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
from pathlib import Path
from typing import List, Optional, Sequence

from .. import __version__
from ..core.decode import MAX_T
from ..core.errors import ModelError, PolychromeError
from ..runtime.manifest import MAX_INPUT_SIZE

EXIT_OK, EXIT_FAILURES, EXIT_USAGE = 0, 1, 2


def _err(msg: str) -> None:
    print(f"polychrome: {msg}", file=sys.stderr)


def _temperature(text: str) -> float:
    try:
        t = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 < t <= MAX_T:
        raise argparse.ArgumentTypeError(f"temperature must lie in (0, {MAX_T:g}]")
    return t


def _temperatures(text: str) -> List[float]:
    return [_temperature(t) for t in text.replace(" ", "").split(",") if t]


def _int_range(lo: int, hi: Optional[int], name: str):
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if v < lo or (hi is not None and v > hi):
            raise argparse.ArgumentTypeError(f"{name} must be {lo}..{hi}, not {v}" if hi is not None
                                             else f"{name} must be at least {lo}, not {v}")
        return v
    return parse


def _positive_float(name: str):
    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not v > 0 or math.isinf(v):
            raise argparse.ArgumentTypeError(f"{name} must be a positive number, not {text}")
        return v
    return parse


def colorize_args(c: argparse.ArgumentParser) -> None:
    """The colorize command's own options (the model options are added by build_parser)."""
    c.add_argument("paths", nargs="+", metavar="PATH", help="files, folders (searched recursively) or glob patterns")
    c.add_argument("-o", "--out", dest="out_dir", help="output folder (default: next to each input)")
    c.add_argument("-t", "--temperature", type=_temperature, help="annealing temperature 0.01..1 (default: model's)")
    c.add_argument("--max-side", type=_int_range(8, None, "--max-side"),
                   help="shrink outputs so their long side is at most this many pixels")
    c.add_argument("--format", default="same", choices=["same", "png", "tiff", "jpeg"], help="output format")
    c.add_argument("--bit-depth", default="source", choices=["source", "8", "16"], help="output bits per channel")
    c.add_argument("--suffix", default="_color", help="added to output file names (default: _color)")
    c.add_argument("--quality", type=_int_range(1, 100, "--quality"), default=95, help="JPEG quality 1..100 (95)")
    c.add_argument("--upsample", default="bicubic", choices=["bicubic", "bilinear", "guided"], help="ab upsampling")
    c.add_argument("--gamut", default="keep-lightness", choices=["keep-lightness", "clip"],
                   help="out-of-gamut colours: desaturate at constant L* (default) or clip channels (faster)")
    c.add_argument("--max-pixels", type=_positive_float("--max-pixels"), default=200,
                   help="refuse images over this many megapixels (200)")
    c.add_argument("--overwrite", action="store_true", help="replace existing outputs (inputs are never replaced)")
    c.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local: this process; ray: a Ray cluster (the 'cluster' extra), same outputs and record")
    c.add_argument("--address", metavar="ADDR", default=None,
                   help="with --engine ray: the cluster to join (e.g. auto, or ray://head:10001); none: a local Ray")
    c.add_argument("--redo", action="store_true",
                   help="colorize everything again, also what the batch record lists as done (our own earlier "
                        "outputs are replaced, other files never)")
    c.add_argument("--all-pages", action="store_true",
                   help="colorize every page of a multi-page TIFF and every frame of an animated PNG/WebP "
                        "(outputs <name>_p<n><suffix>); by default only the first, with a warning")
    c.add_argument("--report", metavar="FILE.csv", help="write source, output, status and reason of every entry")
    c.add_argument("--no-progress", action="store_true", help="no progress bar")
    c.add_argument("--hints", metavar="FILE.json", help="colour points (and a reference) for the one input (without "
                   "it, a <image stem>.hints.json beside each input is used)")
    c.add_argument("--reference", metavar="PHOTO", help="a colour photo whose palette the colours move toward")
    c.add_argument("--reference-strength", type=float, metavar="BETA", help="how strongly (0..5, default 1)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="polychrome",
        description="Colorize grayscale photographs (colorization as classification, Zhang et al. 2016).",
    )
    p.add_argument("--version", action="version", version=f"polychrome {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def model_args(sp):
        sp.add_argument("--model", "-m", help="model name or .onnx path (default: the default model)")
        sp.add_argument("--provider", help="execution provider: cpu, cuda, directml, coreml (default: best available)")
        sp.add_argument("--input-size", type=_int_range(16, MAX_INPUT_SIZE, "--input-size"),
                        help="long side fed to the network (default: the model's)")

    c = sub.add_parser("colorize", help="colorize image files or folders", description=(
        "Colorize images. A batch record (polychrome-batch.jsonl) in each output folder lists what was done with "
        "which model and options: running the same command again skips what is done, redoes what failed or "
        "changed, and finishes an interrupted run."))
    colorize_args(c)
    model_args(c)

    e = sub.add_parser("evaluate", help="score the model on colour photos", description=(
        "Turn colour photos gray, colorize them and compare with the originals (PSNR, SSIM, AuC, ΔE2000, "
        "colourfulness). Prints a per-image and a mean table."))
    e.add_argument("paths", nargs="+", metavar="PATH")
    model_args(e)
    e.add_argument("-t", "--temperatures", type=_temperatures, help="comma-separated T values (default: model's)")
    e.add_argument("--format", dest="fmt", default="table", choices=["table", "csv", "json"])
    e.add_argument("--output", help="write the report to this file instead of stdout")
    e.add_argument("--mean-only", action="store_true", help="only the mean rows")
    e.add_argument("--no-progress", action="store_true")

    m = sub.add_parser("models", help="list installed models and the provider that would run them")
    m.add_argument("--provider", help="show what forcing this provider would give")
    m.add_argument("--json", action="store_true")
    m.add_argument("--write-sums", nargs="?", const="", metavar="FOLDER",
                   help="write FOLDER/SHA256SUMS for its .onnx models (default: the shipped models folder); "
                        "models with sums beside them are checked before use")

    s = sub.add_parser("self-test", help="check the installation: color math, runtime, model, a sample")
    s.add_argument("--require-model", action="store_true", help="fail when no model is installed")
    s.add_argument("--provider")
    s.add_argument("--out", help="also write the colorized sample here")

    from . import import_model as import_cli
    from . import model as model_cli
    from . import train as train_cli  # the parser only: torch is imported when the command runs

    train_cli.add_parser(sub)
    model_cli.add_parser(sub)
    import_cli.add_parser(sub)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.argv = argv
    if not args.command:
        parser.print_help()
        return EXIT_USAGE
    if args.command in ("colorize", "evaluate", "self-test", "model"):
        from ..runtime.providers import limit_blas_threads

        limit_blas_threads()  # onnxruntime and OpenCV bring their own threads; idle BLAS threads would only spin
    try:
        if args.command == "colorize":
            return cmd_colorize(args)
        if args.command == "evaluate":
            return cmd_evaluate(args)
        if args.command == "models":
            return cmd_models(args)
        if args.command == "self-test":
            from .selftest import run_self_test

            return run_self_test(args)
        if args.command == "model":
            from . import model as model_cli

            return model_cli.run(args)
        if args.command == "train":
            from . import train as train_cli

            return train_cli.run(args)
        if args.command == "import-model":
            from . import import_model as import_cli

            return import_cli.run(args)
    except PolychromeError as exc:  # a ModelError too: the message names the model and the reason
        _err(str(exc))
        return EXIT_USAGE
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    parser.print_help()
    return EXIT_USAGE


def _colorizer(args):
    from ..runtime.colorizer import Colorizer

    return Colorizer(args.model, provider=args.provider, input_size=args.input_size)


def _export_options(args):
    from ..runtime.pipeline import ExportOptions

    return ExportOptions(
        out_dir=Path(args.out_dir) if args.out_dir else None,
        temperature=args.temperature,
        format=args.format,
        bit_depth=args.bit_depth,
        suffix=args.suffix,
        quality=args.quality,
        upsample=args.upsample,
        gamut=args.gamut,
        max_side=args.max_side,
        max_pixels=int(args.max_pixels * 1_000_000),
        overwrite=args.overwrite,
    )


class _Stop:
    """SIGINT and SIGTERM alike: the first asks the batch to stop after the current file (its cancel token), a
    second one stops at once (KeyboardInterrupt). Restores the previous handlers on exit."""

    def __init__(self, token) -> None:
        self.token = token
        self.signal_name = ""
        self._old = {}

    def __enter__(self):
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        import signal

        if self.token.cancelled:
            raise KeyboardInterrupt
        self.signal_name = signal.Signals(signum).name
        self.token.cancel()
        print(f"\npolychrome: {self.signal_name}: stopping after the current file (again to stop now)",
              file=sys.stderr, flush=True)

    def __exit__(self, *exc) -> None:
        import signal

        for sig, old in self._old.items():
            signal.signal(sig, old)

    @property
    def exit_code(self) -> int:
        return 143 if self.signal_name == "SIGTERM" else 130


def _steering(args, files):
    """The colorize command's steering (runtime.steer): --hints for one input, --reference, the sidecars."""
    from ..core.errors import PolychromeError
    from ..core.hintsfile import load_hints
    from ..runtime.steer import CliSteering

    hints = None
    if args.hints:
        if len(files) != 1:
            raise PolychromeError(f"--hints {args.hints}: a hints file belongs to one image, but {len(files)} "
                                  "inputs were given (put <image stem>.hints.json beside each input instead)")
        hints = load_hints(args.hints)
    if args.reference_strength is not None and not 0.0 <= args.reference_strength <= 5.0:
        raise PolychromeError("--reference-strength must lie in [0, 5]")
    if args.reference and not Path(args.reference).is_file():
        raise PolychromeError(f"{args.reference}: reference photo not found")
    return CliSteering(hints, args.reference, args.reference_strength)


def _say_steering(args, files) -> None:
    """One line on what steers the run, so a hints sidecar is never applied in silence."""
    from ..core.hintsfile import sidecar_path

    if args.hints:
        print(f"hints: {args.hints}", file=sys.stderr)
        return
    found = [side for side in map(sidecar_path, files) if side.is_file()]
    if found:
        shown = ", ".join(p.name for p in found[:3]) + (f" and {len(found) - 3} more" if len(found) > 3 else "")
        print(f"hints: {len(found)} input(s) steered by the hints file beside them ({shown})", file=sys.stderr)
    if args.reference:
        print(f"reference: {args.reference}", file=sys.stderr)


def cmd_colorize(args) -> int:
    import shlex

    from ..core.progress import CancelToken, Progress
    from ..runtime.batch import BatchBusy, plan_run
    from ..runtime.colorizer import Colorizer
    from ..runtime.inputs import collect_inputs
    from ..runtime.pipeline import expand_pages, model_run_spec, run_plan, write_report
    from ..runtime.registry import find_model
    from ..runtime.session import file_sha256
    from .progressbar import ProgressBar

    opts = _export_options(args)
    bad = opts.problems()
    if bad:  # before any model is loaded or any file is read
        for msg in bad:
            _err(msg)
        return EXIT_USAGE
    out_dir = opts.out_dir
    if out_dir is not None:
        if out_dir.exists() and not out_dir.is_dir():
            _err(f"{out_dir}: output path exists and is not a folder")
            return EXIT_USAGE
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            _err(f"{out_dir}: cannot create the output folder: {exc.strerror or exc}")
            return EXIT_USAGE
    if args.engine == "ray":
        from ..runtime.ray_engine import missing_ray

        problem = missing_ray() or (
            "--engine ray does not take --hints or --reference" if args.hints or args.reference else None)
        if problem:
            _err(problem)
            return EXIT_USAGE
    entry = find_model(args.model)  # the manifest and the checksum; the session is only opened for work to do
    for w in entry.warnings:
        print(f"warning: {w}", file=sys.stderr)

    found = collect_inputs(args.paths, out_dir=out_dir, suffix=opts.suffix)
    for s in found.skipped:
        print(f"{'error' if s.is_error else 'skipped'}: {s.line()}", file=sys.stderr)
    if not found.files:
        _err("nothing to colorize" + (f" ({found.summary()})" if found.skipped else ""))
        if args.report:
            from ..runtime.pipeline import BatchResult

            write_report(Path(args.report), BatchResult(), found.skipped)
        return EXIT_FAILURES

    steering = _steering(args, found.files)  # --hints / --reference, and the sidecars beside the inputs
    _say_steering(args, found.files)
    spec = model_run_spec(entry.manifest, file_sha256(entry.path), opts, args.input_size)
    sources = expand_pages(found.files) if args.all_pages else found.files
    try:
        plan = plan_run(sources, steering.spec_for(spec, entry.manifest, file_sha256(entry.path), opts,
                                                    args.input_size), out_dir, redo=args.redo)
    except BatchBusy as exc:
        _err(str(exc))
        return EXIT_USAGE
    with plan:
        for p in plan.stale_temps_removed:
            print(f"removed: {p}: temporary file left by an interrupted run", file=sys.stderr)
        todo = plan.todo
        col = None
        if todo:
            col = steering.wrap(Colorizer(entry, provider=args.provider, input_size=args.input_size))
            status = col.status
        else:
            status = "not loaded: nothing to do"
        print(f"model: {spec.model} {spec.model_version} (sha256 {spec.short_sha}) on {status}; T = {spec.T:g}",
              file=sys.stderr)
        if plan.skipped:
            print(f"{len(plan.skipped)} already done with this model and options (batch record); "
                  f"{len(todo)} to do" + (" (--redo to do all again)" if not args.redo else ""), file=sys.stderr)
        plan.mark_run(["polychrome", *args.argv], model=spec.model, model_version=spec.model_version,
                      model_sha256=spec.model_sha256, engine=args.engine)

        bar = ProgressBar("colorizing ", enabled=None if not args.no_progress else False)
        token = CancelToken()

        def report(res):
            if not res.ok:
                bar.clear()
                print(f"error: {res.source}: {res.error}", file=sys.stderr)
            for w in res.warnings:
                bar.clear()
                print(f"warning: {res.source}: {w}", file=sys.stderr)

        from ..runtime.pipeline import BatchResult

        batch = BatchResult()
        interrupted = False
        with _Stop(token) as stop:
            try:
                if todo and args.engine == "ray":
                    from ..runtime.ray_engine import run_plan_ray

                    batch = run_plan_ray(entry.path, plan, opts, provider=args.provider, input_size=args.input_size,
                                         address=args.address, progress=Progress(bar, cancel=token),
                                         on_result=report)
                elif todo:
                    batch = run_plan(col, plan, opts, Progress(bar, cancel=token), on_result=report,
                                     all_pages=args.all_pages)
                else:
                    batch = run_plan(None, plan, opts)  # nothing to do: only the skips
            except KeyboardInterrupt:
                interrupted = True
                batch.results = [_result_of(i) for i in todo if i.status]
                batch.left = [i.source for i in todo if not i.status]
                batch.cancelled = True
        interrupted = interrupted or batch.cancelled
        for r in batch.succeeded:
            print(r.output)
        counts = plan.counts()
        n_bad = counts["failed"] + len(found.errors)
        summary = f"{counts['done']} colorized, {n_bad} failed"
        if counts["skipped"]:
            summary += f", {counts['skipped']} already done"
        if found.skipped:
            summary += f", {found.summary()}"
        if batch.warnings:
            summary += f", {len(batch.warnings)} warning(s)"
        if args.report:
            try:
                write_report(Path(args.report), batch, found.skipped)
                print(f"report written to {args.report}", file=sys.stderr)
            except PolychromeError as exc:
                _err(str(exc))
                n_bad += 1
        if interrupted:
            print(f"interrupted: {counts['done']} done, {counts['failed']} failed, {counts['left']} left "
                  f"({counts['skipped']} done earlier)", file=sys.stderr)
            command = shlex.join(["polychrome", *getattr(args, "argv", ["colorize", "..."])])
            print(f"to resume, run the same command again: {command}", file=sys.stderr)
            return stop.exit_code if stop.signal_name else 130
        print(summary, file=sys.stderr)
        return EXIT_OK if n_bad == 0 else EXIT_FAILURES


def _result_of(item):
    from ..runtime.pipeline import FileResult

    return FileResult(item.source, item.output, error=item.error or None, page=item.page)


def _fmt(v) -> str:
    if isinstance(v, float):
        if math.isinf(v):
            return "inf"
        if math.isnan(v):
            return "nan"
        return f"{v:.4f}"
    return str(v)


def cmd_evaluate(args) -> int:
    from ..core.metrics import METRIC_INFO
    from ..core.progress import Progress
    from ..runtime.inputs import EMPTY, collect_inputs
    from ..runtime.pipeline import evaluate_files, summarize
    from .progressbar import ProgressBar

    found = collect_inputs(args.paths)
    files = found.files
    problems = [s for s in found.skipped if s.is_error or s.kind == EMPTY]
    for s in found.skipped:
        print(f"{'error' if s in problems else 'skipped'}: {s.line()}", file=sys.stderr)
    if not files:
        _err("nothing to evaluate")
        return EXIT_FAILURES
    col = _colorizer(args)
    temps = args.temperatures or [col.default_T]
    bar = ProgressBar("evaluating ", enabled=None if not args.no_progress else False)
    rows, errors = evaluate_files(col, files, temps, Progress(bar))
    for e in errors:
        print(f"error: {e.source}: {e.error}", file=sys.stderr)
    names = list(METRIC_INFO)
    per_image = [
        {"image": str(r.source), "T": ("gray" if r.metrics.get("baseline") else r.T),
         **{k: r.metrics[k] for k in names}}
        for r in rows
    ]
    means = [{"image": "MEAN", **m} for m in summarize(rows)]
    table = means if args.mean_only else per_image + means
    cols = ["image", "T"] + names + (["n"] if args.mean_only else [])
    if args.fmt == "json":
        text = json.dumps({"model": col.manifest.name, "images": per_image, "mean": means}, indent=2,
                          default=lambda o: None)
    elif args.fmt == "csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=cols + ["n"], extrasaction="ignore")
        w.writeheader()
        for row in table:
            w.writerow({k: row.get(k, "") for k in cols + ["n"]})
        text = buf.getvalue()
    else:
        head = ["image", "T"] + [METRIC_INFO[k].short for k in names]
        body = [[_fmt(row.get(k, "")) if k != "image" else Path(str(row[k])).name for k in ["image", "T"] + names]
                for row in table]
        widths = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(head)]
        lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths))]
        lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in body]
        text = "\n".join(lines) + "\n"
    if args.output:
        from ..core.imageio import atomic_write_bytes

        atomic_write_bytes(Path(args.output), text.encode("utf-8"))
        print(f"report written to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK if not errors and not problems else EXIT_FAILURES


def cmd_models(args) -> int:
    from ..runtime import providers
    from ..runtime.registry import default_model, list_models, user_models_dir

    if args.write_sums is not None:
        from ..runtime.registry import shipped_model_dirs, write_sums

        folder = Path(args.write_sums) if args.write_sums else next(iter(shipped_model_dirs()[-1:]), None)
        if folder is None:
            _err("no shipped models folder; name one: polychrome models --write-sums FOLDER")
            return EXIT_USAGE
        path = write_sums(folder)
        print(path.read_text(encoding="utf-8"), end="")
        print(f"written: {path}", file=sys.stderr)
        return EXIT_OK
    chain, reason = providers.choose(args.provider)
    entries = list_models()
    try:
        default = default_model().path.resolve()
    except ModelError:
        default = None
    if args.json:
        print(json.dumps({
            "provider": chain[0], "provider_reason": reason, "available_providers": providers.available(),
            "user_models_dir": str(user_models_dir()),
            "models": [{"name": e.name, "path": str(e.path), "source": e.source, "ok": e.ok, "error": e.error,
                        "default": default is not None and e.path.resolve() == default,
                        "version": e.manifest.version if e.manifest else None,
                        "sha256": _sha_or_none(e), "verified": e.verified, "warnings": e.warnings,
                        "bins": e.manifest.Q if e.manifest else None,
                        "default_T": e.manifest.default_T if e.manifest else None} for e in entries],
        }, indent=2))
        return EXIT_OK
    print(f"provider: {providers.FRIENDLY.get(chain[0], chain[0])} — {reason}")
    print(f"available: {', '.join(providers.FRIENDLY.get(p, p) for p in providers.available())}")
    print(f"user models folder: {user_models_dir()}")
    if not any(e.ok for e in entries):
        print("No colorization model is installed (the default model has not been added yet).")
    for e in entries:
        mark = "*" if default is not None and e.path.resolve() == default else " "
        if e.ok:
            m = e.manifest
            check = {True: "checksum ok", None: "no checksum listed", False: "checksum MISMATCH"}[e.verified]
            print(f"{mark} {m.name} {m.version}  [{e.source}]  Q={m.Q} stride={m.stride} T={m.default_T}  "
                  f"sha256 {e.short_sha} ({check})  {e.path}")
        else:
            print(f"  (unusable) {e.path}: {e.error}")
    for w in dict.fromkeys(w for e in entries for w in e.warnings):
        print(f"warning: {w}")
    return EXIT_OK


def _sha_or_none(entry):
    try:
        return entry.sha256
    except (OSError, PolychromeError):
        return None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
