"""Set the descriptive metadata of a Polychrome ONNX model (licence, description, version, default T, extra
training notes) without touching its weights, and check that the runtime still accepts it.

    PYTHONPATH=app .venv/bin/python tools/stamp_model.py MODEL.onnx -o OUT.onnx --license "..." \
        [--description "..."] [--version 1.0] [--default-t 0.38] [--recipe-json recipe.json]

``--recipe-json``: a JSON object stored under ``training["recipe"]`` (e.g. the stages of a multi-stage run).
The output is written to a temporary file and renamed; the input is never replaced.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "app"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--license")
    ap.add_argument("--description")
    ap.add_argument("--version")
    ap.add_argument("--default-t", type=float)
    ap.add_argument("--recipe-json")
    args = ap.parse_args(argv)

    import onnx

    from polychrome.core.imageio import atomic_write_bytes
    from polychrome.runtime.manifest import PREFIX
    from polychrome.runtime.session import read_manifest

    src, out = Path(args.model), Path(args.output)
    if src.resolve() == out.resolve():
        ap.error("the output must be a new file")
    model = onnx.load(str(src))
    props = {p.key: p.value for p in model.metadata_props}
    if args.license is not None:
        props[PREFIX + "license"] = args.license
    if args.description is not None:
        props[PREFIX + "description"] = args.description
    if args.version is not None:
        props[PREFIX + "version"] = args.version
    if args.default_t is not None:
        props[PREFIX + "default_T"] = repr(float(args.default_t))
    if args.recipe_json:
        training = json.loads(props.get(PREFIX + "training", "{}") or "{}")
        training["recipe"] = json.loads(Path(args.recipe_json).read_text(encoding="utf-8"))
        props[PREFIX + "training"] = json.dumps(training)
    del model.metadata_props[:]
    for k, v in props.items():
        model.metadata_props.add(key=k, value=v)
    atomic_write_bytes(out, model.SerializeToString())
    m = read_manifest(out)  # the runtime's contract check
    print(f"wrote {out}: {m.name} {m.version}, default T {m.default_T}, licence: {m.license[:60]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
