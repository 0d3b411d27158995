"""``polychrome model evaluate | average | stamp``: the model-card evaluation and the tools that made the shipped
model, as commands.

* ``evaluate``: score a model (and ``--compare NAME=PATH`` models) on validation photos, one folder per source;
  writes ``metrics.md``, ``metrics.json`` and ``contact_sheet.png`` and prints the table of all photos and a verdict
  against the targets (``--sweep``: colourfulness and PSNR per T instead). The exit status does not depend on the
  verdict (0 = evaluated, 1 = error).
* ``average A B OUT [--alpha 0.5]``: weight-space average of two models of the same network.
* ``stamp MODEL -o OUT [--license ...] [--description ...] [--version ...] [--default-t T] [--recipe-json F]``.

The work is done by :mod:`polychrome.runtime.evaluation` (+ ``evaluation_report``) and
:mod:`polychrome.training.model_files`; this module parses arguments and prints.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
OURS = "ours"  # the evaluated model's name in tables
DEFAULT_TEMPERATURES = (0.2, 0.38, 0.6, 1.0)
DEFAULT_DATA = Path(__file__).resolve().parents[4] / "shared" / "data" / "val"  # beside a source checkout


def parse_temperatures(text: str) -> Tuple[float, ...]:
    try:
        temps = tuple(float(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of numbers: {text!r}") from None
    if not temps or any(not (0.0 < t <= 10.0) for t in temps):
        raise argparse.ArgumentTypeError("temperatures must be > 0 (e.g. 0.2,0.38,0.6,1.0)")
    return temps


def parse_compare(text: str) -> Tuple[str, str]:
    name, sep, path = text.partition("=")
    name = name.strip()
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=PATH, got {text!r}")
    if name.lower() in ("gray", OURS):
        raise argparse.ArgumentTypeError(f"{name!r} is reserved; choose another name")
    return name, path


# -- parsers --------------------------------------------------------------------------------------------------


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``model`` command with its ``evaluate``, ``average`` and ``stamp`` sub-commands."""
    m = subparsers.add_parser("model", help="evaluate, average or stamp model files (model cards, releases)")
    sub = m.add_subparsers(dest="model_command", metavar="ACTION")
    _add_evaluate(sub)
    a = sub.add_parser("average", help="average the weights of two models of the same network",
                       description="out = alpha * A + (1 - alpha) * B for every floating-point weight; A's "
                       "metadata is kept, with the mix recorded. The output is checked against the runtime.")
    a.add_argument("a")
    a.add_argument("b")
    a.add_argument("output")
    a.add_argument("--alpha", type=float, default=0.5, help="weight of A (0..1)")
    s = sub.add_parser("stamp", help="set a model's licence, description, version or default T",
                       description="Write a copy of MODEL with new descriptive metadata (weights untouched).")
    s.add_argument("model")
    s.add_argument("-o", "--output", required=True)
    s.add_argument("--license")
    s.add_argument("--description")
    s.add_argument("--version")
    s.add_argument("--default-t", type=float)
    s.add_argument("--recipe-json", help="a JSON file stored under training['recipe']")
    return m


def _add_evaluate(sub: Any) -> None:
    p = sub.add_parser(
        "evaluate", help="score a model on validation photos: model-card tables, a verdict and a contact sheet",
        description="Evaluate a Polychrome model on validation photos (one folder per source): markdown/JSON "
        "tables, a contact sheet and a verdict against the targets.")
    p.add_argument("--model", required=True, help="the model to evaluate (.onnx path or installed model name)")
    p.add_argument("--compare", action="append", type=parse_compare, default=[], metavar="NAME=PATH",
                   help="another model to compare with, at its default T (repeatable; name one 'L2' for the "
                   "colourfulness target)")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA,
                   help="folder with one subfolder of colour photos per source (default: %(default)s)")
    p.add_argument("--temperatures", type=parse_temperatures, default=DEFAULT_TEMPERATURES,
                   help="temperatures for the model, comma-separated; its default T is always added "
                   "(default: 0.2,0.38,0.6,1.0)")
    p.add_argument("--max-per-source", type=int, default=None, metavar="N",
                   help="evaluate at most N photos per source, evenly spaced (default: all)")
    p.add_argument("--out", type=Path, default=None,
                   help="folder for metrics.md, metrics.json and contact_sheet.png (default: ./eval_<model stem>)")
    p.add_argument("--input-size", type=int, default=None, metavar="PX",
                   help="network input size (long side) for every model (default: each model's own)")
    p.add_argument("--compare-all-T", action="store_true",
                   help="also decode the compare models at every --temperatures value")
    p.add_argument("--sheet-per-source", type=int, default=2, metavar="K",
                   help="photos per source on the contact sheet (default: %(default)s)")
    p.add_argument("--hints", type=int, default=0, metavar="N",
                   help="also score the model at its default T with N hints taken from each photo's own colours "
                   "(hint-taking models only; default: 0)")
    p.add_argument("--sweep", action="store_true",
                   help="only sweep T = 0.10..1.00 for the model: mean CF / gt and PSNR per T (no tables)")


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    """Run ``polychrome model ACTION``; PolychromeError is reported by the caller."""
    if args.model_command == "evaluate":
        return run_evaluate(args)
    if args.model_command == "average":
        return run_average(args)
    if args.model_command == "stamp":
        return run_stamp(args)
    _log("polychrome model: choose an action: evaluate, average or stamp")
    return EXIT_USAGE


# -- average and stamp ----------------------------------------------------------------------------------------


def run_average(args: argparse.Namespace) -> int:
    from ..training.model_files import average_models

    done = average_models(Path(args.a), Path(args.b), Path(args.output), args.alpha)
    m = done.manifest
    print(f"wrote {done.path}: {done.mixed} tensors averaged (alpha {args.alpha}); {m.name} {m.version}, Q={m.Q}")
    return EXIT_OK


def run_stamp(args: argparse.Namespace) -> int:
    from ..training.model_files import stamp_model

    recipe = json.loads(Path(args.recipe_json).read_text(encoding="utf-8")) if args.recipe_json else None
    out, m = stamp_model(Path(args.model), Path(args.output), args.license, args.description, args.version,
                         args.default_t, recipe)
    print(f"wrote {out}: {m.name} {m.version}, default T {m.default_T}, licence: {m.license[:60]}")
    return EXIT_OK


# -- evaluate -------------------------------------------------------------------------------------------------


def load_models(
    model: str,
    compare: Sequence[Tuple[str, str]] = (),
    temperatures: Sequence[float] = DEFAULT_TEMPERATURES,
    input_size: Optional[int] = None,
    compare_all_T: bool = False,  # noqa: N803
    hints: int = 0,
) -> List[Any]:
    """The evaluated model ("ours", at ``temperatures`` plus its default T, and with ``hints`` ground-truth hints
    if it takes hints) and the compare models (default T), as :class:`~polychrome.runtime.evaluation.EvalModel`."""
    from ..core.errors import PolychromeError
    from ..runtime.colorizer import Colorizer
    from ..runtime.evaluation import EvalModel

    ours = Colorizer(model, input_size=input_size)
    models = [EvalModel(OURS, ours, tuple(sorted(set(map(float, temperatures)) | {float(ours.default_T)})), hints)]
    seen = {OURS}
    for name, path in compare:
        if name in seen:
            raise PolychromeError(f"--compare name {name!r} given twice")
        seen.add(name)
        col = Colorizer(path, input_size=input_size)
        temps = {float(col.default_T)} | (set(map(float, temperatures)) if compare_all_T else set())
        models.append(EvalModel(name, col, tuple(sorted(temps))))
    return models


def run_evaluate(args: argparse.Namespace) -> int:
    from ..core.errors import PolychromeError
    from ..runtime.evaluation import list_sources

    if args.max_per_source is not None and args.max_per_source < 1:
        _log("error: --max-per-source must be at least 1")
        return EXIT_USAGE
    try:
        sources = list_sources(args.data, args.max_per_source)
        models = load_models(
            args.model, args.compare, args.temperatures, args.input_size, args.compare_all_T, max(0, args.hints)
        )
        if args.sweep:
            return _run_sweep(args, models[0], sources)
        return _run_evaluation(args, models, sources)
    except PolychromeError as exc:
        _log(f"error: {exc}")
        return EXIT_FAILURE


def _run_sweep(args: argparse.Namespace, model: Any, sources: Dict[str, List[Path]]) -> int:
    from ..core.jsonsafe import json_safe
    from ..runtime.evaluation import sweep
    from ..runtime.evaluation_report import sweep_table

    result = sweep(model, sources, log=_log)
    print(f"Temperature sweep of {model.colorizer.manifest.name} on {result['n']} photos "
          f"(ground-truth CF {result['colorfulness_gt']:.1f}, gray PSNR {result['gray_psnr']:.2f} dB):")
    print(sweep_table(result))
    best = next(r for r in result["rows"] if r["T"] == result["best_T"])
    print(f"suggested default T = {result['best_T']:.2f} (CF / gt = {best['rel_colorfulness']:.3f}; "
          f"the model's current default is {model.default_T:g})")
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "sweep.json").write_text(json.dumps(json_safe(result), indent=2) + "\n", encoding="utf-8")
    return EXIT_OK


def _run_evaluation(args: argparse.Namespace, models: List[Any], sources: Dict[str, List[Path]]) -> int:
    from ..core import imageio
    from ..core.errors import PolychromeError
    from ..runtime import evaluation_report as report
    from ..runtime.evaluation import GRAY, all_variants, evaluate, evenly_spaced, group_members, summarize

    out: Path = args.out if args.out is not None else Path(f"eval_{Path(args.model).stem}")
    out.mkdir(parents=True, exist_ok=True)
    on_sheet = {p for files in sources.values() for p in evenly_spaced(files, args.sheet_per_source)}
    ev = evaluate(models, sources, keep=lambda source, path: path in on_sheet, log=_log)
    if not ev.records:
        raise PolychromeError("no photo could be evaluated")
    counts = {s: n for s, n in ev.counts.items() if n}
    groups = group_members(counts)
    variants = all_variants(models)
    summary = summarize(ev.records, groups, variants)
    checks = report.verdict(summary["all"], models)

    md = report.render_markdown(summary, groups, variants, models, args.data, counts, args.max_per_source, checks)
    (out / "metrics.md").write_text(md, encoding="utf-8")
    data = _report_data(args, models, counts, groups, variants, summary, checks, ev)
    (out / "metrics.json").write_text(report.dump_json(data), encoding="utf-8")
    if ev.kept:
        imageio.write_image(out / "contact_sheet.png", report.contact_sheet(ev.kept, models), overwrite=True)

    print(f"## {report.group_title('all', groups['all'], summary['all'][GRAY]['n'])}\n")
    print(report.markdown_table(summary["all"], variants))
    print()
    print(report.verdict_line(checks))
    sheet = f", {out / 'contact_sheet.png'}" if ev.kept else ""
    _log(f"wrote {out / 'metrics.md'}, {out / 'metrics.json'}{sheet}")
    return EXIT_OK


def _report_data(args: argparse.Namespace, models: List[Any], counts: Dict[str, int], groups: Dict[str, List[str]],
                 variants: List[Any], summary: Dict[str, Any], checks: List[Any], ev: Any) -> Dict[str, object]:
    from ..runtime.evaluation_report import verdict_line

    return {
        "tool": "polychrome model evaluate",
        "models": [m.describe() for m in models],
        "data": str(args.data),
        "max_per_source": args.max_per_source,
        "counts": counts,
        "groups": groups,
        "variants": [{"key": v.key, "model": v.model, "T": v.T, "default": v.is_default} for v in variants],
        "notes": "means over photos of polychrome.core.metrics.compute_all; auc as a fraction (0..1); "
        "rel_colorfulness = mean colorfulness / mean colorfulness_gt",
        "summary": summary,
        "verdict": {"passed": all(c.passed for c in checks), "line": verdict_line(checks),
                    "checks": [{"name": c.name, "passed": c.passed, "text": c.text} for c in checks]},
        "images": ev.records,
        "skipped": [s.record() for s in ev.skipped],
    }
