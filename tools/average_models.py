"""Average the weights of two Polychrome ONNX models of the same network (weight-space interpolation, as in
"model soups" / WiSE-FT): ``out = alpha · A + (1 − alpha) · B`` for every floating-point initializer.

    PYTHONPATH=app .venv/bin/python tools/average_models.py A.onnx B.onnx OUT.onnx [--alpha 0.5]

Both models must have the same graph (same nodes and initializer names/shapes) — e.g. B fine-tuned from A with
``polychrome train --from A``. A's metadata (bins, manifest, training summary) is kept, with the mix recorded
under ``training["averaged"]``. The output is checked against the runtime's contract.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "app"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("output")
    ap.add_argument("--alpha", type=float, default=0.5, help="weight of A (0..1)")
    args = ap.parse_args(argv)
    if not 0.0 <= args.alpha <= 1.0:
        ap.error("--alpha must lie in [0, 1]")

    import onnx
    from onnx import numpy_helper

    from polychrome.core.imageio import atomic_write_bytes
    from polychrome.runtime.manifest import PREFIX
    from polychrome.runtime.session import read_manifest

    a, b = onnx.load(args.a), onnx.load(args.b)
    if [n.op_type for n in a.graph.node] != [n.op_type for n in b.graph.node]:
        sys.exit("the two models have different graphs")
    b_init = {t.name: t for t in b.graph.initializer}
    mixed = 0
    for t in a.graph.initializer:
        if t.name not in b_init:
            sys.exit(f"initializer {t.name} is missing from {args.b}")
        x, y = numpy_helper.to_array(t), numpy_helper.to_array(b_init[t.name])
        if x.shape != y.shape or x.dtype != y.dtype:
            sys.exit(f"initializer {t.name}: {x.shape} {x.dtype} vs {y.shape} {y.dtype}")
        if np.issubdtype(x.dtype, np.floating):
            z = (args.alpha * x.astype(np.float64) + (1.0 - args.alpha) * y.astype(np.float64)).astype(x.dtype)
            t.CopyFrom(numpy_helper.from_array(z, t.name))
            mixed += 1
        elif not np.array_equal(x, y):
            sys.exit(f"integer initializer {t.name} differs between the models")
    props = {p.key: p.value for p in a.metadata_props}
    training = json.loads(props.get(PREFIX + "training", "{}") or "{}")
    training["averaged"] = {"a": Path(args.a).name, "b": Path(args.b).name, "alpha": args.alpha}
    props[PREFIX + "training"] = json.dumps(training)
    del a.metadata_props[:]
    for k, v in props.items():
        a.metadata_props.add(key=k, value=v)
    out = atomic_write_bytes(args.output, a.SerializeToString())
    m = read_manifest(out)
    print(f"wrote {out}: {mixed} tensors averaged (alpha {args.alpha}); {m.name} {m.version}, Q={m.Q}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
