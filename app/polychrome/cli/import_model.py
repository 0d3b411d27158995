"""``polychrome import-model {eccv16,siggraph17} WEIGHTS.pth -o OUT.onnx [--name NAME] [--install]``: turn the
original Zhang et al. release weights into a Polychrome model (the job is
:func:`polychrome.training.zhang.import_original_model`; this module parses arguments and prints)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def _err(text: str) -> None:
    print(f"polychrome import-model: {text}", file=sys.stderr)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    from ..training.zhang import ARCHS

    files = "; ".join(f"{a.key}: {a.release_file} ({a.url})" for a in ARCHS.values())
    p = subparsers.add_parser(
        "import-model",
        help="import the original ECCV16 / SIGGRAPH17 weights (Zhang et al.) as a Polychrome model",
        description="Convert the authors' PyTorch release weights of Zhang et al. into a Polychrome model (ONNX "
        "with the bin table, licence and the file's SHA-256 in its metadata). The release files: " + files + ". "
        "Needs PyTorch and ONNX (the 'train' extra).",
    )
    p.add_argument("arch", choices=sorted(ARCHS), help="which network the weights are for")
    p.add_argument("weights", type=Path, metavar="WEIGHTS.pth", help="the downloaded release file")
    p.add_argument("-o", "--output", type=Path, metavar="OUT.onnx",
                   help="the model file to write (optional with --install)")
    p.add_argument("--name", help="the model's name (default: zhang-eccv16 / zhang-siggraph17)")
    p.add_argument("--install", action="store_true", help="also install it into your models folder under NAME")
    p.add_argument("--regression-output", action="store_true",
                   help="siggraph17: also export the regression head as output 'ab' (slower inference)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output / installed model")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def run(args: argparse.Namespace) -> int:
    """Run the import; returns the exit code (0 done, 1 refused or failed, 2 usage)."""
    from ..core.errors import ModelError
    from ..core.progress import Progress
    from ..training import missing_dependencies
    from .progressbar import ProgressBar

    if args.output is None and not args.install:
        _err("give -o OUT.onnx, --install, or both")
        return EXIT_USAGE
    missing = missing_dependencies()
    if missing:
        _err(f"{' and '.join(missing)} not installed: importing needs the 'train' extra "
             "(pip install 'polychrome[train]', see the README)")
        return EXIT_FAILURE
    from ..training.zhang import import_original_model

    bar = ProgressBar("importing ", enabled=None if not args.no_progress else False)
    try:
        res = import_original_model(
            Progress(bar), None, args.arch, args.weights, output=args.output, name=args.name,
            install=args.install, regression=args.regression_output, overwrite=args.overwrite,
        )
    except ModelError as exc:
        bar.clear()
        _err(str(exc))
        return EXIT_FAILURE
    for w in res.warnings:
        print(f"warning: {w}", file=sys.stderr)
    print(f"{res.name}: {res.arch}, Q = {res.Q}, source SHA-256 {res.sha256}; ONNX Runtime matches PyTorch "
          f"(max relative difference {res.max_rel_diff:.1e})", file=sys.stderr)
    if res.path is not None:
        print(res.path)
    if res.installed is not None:
        print(f"installed as {res.name}: {res.installed}", file=sys.stderr)
        if res.path is None:
            print(res.installed)
    return EXIT_OK
