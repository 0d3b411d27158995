"""Polychrome model speed against the ECCV16 colorization network, both timed in the same run. Prints a table.

Goal (issue): with onnxruntime on the CPU at 256×256 input, ≥ 5× faster than a VGG-style ECCV16-architecture
network (Zhang et al. 2016, ~32 M parameters, random weights) exported to ONNX.

Baseline
    The ECCV16 layer table, built directly as an ONNX graph with ``onnx.helper`` (no torch needed), He-normal
    random weights from a fixed seed. Input ``L`` [1, 1, H, W]; output 313 logits at 1/4 resolution:

    conv1  2× 3×3  64, the 2nd stride 2        conv5  3× 3×3 512, dilation 2
    conv2  2× 3×3 128, the 2nd stride 2        conv6  3× 3×3 512, dilation 2
    conv3  3× 3×3 256, the 3rd stride 2        conv7  3× 3×3 512
    conv4  3× 3×3 512                          conv8  ConvTranspose 4×4 stride 2 -> 256, 2× 3×3 256
                                               out    1×1 conv -> 313
    ReLU after every conv. BatchNorm (after each block conv1..conv7, behind its last ReLU, as in the original) is
    omitted by default — the baseline as fast as it can be, which only makes the goal harder to meet; ``--eccv-bn``
    adds it as BatchNormalization nodes.

Ours
    ``ColorizationNet(Q, pretrained=False)`` (random weights; speed does not depend on them) exported with
    :func:`polychrome.training.export.export_onnx` to a temporary folder, or an existing model file (``--model``).

Imported originals
    The original Zhang et al. networks as ``polychrome import-model`` writes them (``--no-originals`` skips them;
    needs torch): ECCV16 and SIGGRAPH17 in the authors' release layout with random weights
    (:func:`polychrome.training.zhang.random_state_dict`), imported with
    :func:`polychrome.training.zhang.import_original_model` — the graphs a user gets from the real release files
    (SIGGRAPH17 fed all-zero hints, its logits only). The table adds how much faster ours is than each.

Timing
    onnxruntime CPUExecutionProvider, graph optimisations ALL, default thread count. Both sessions are warmed up,
    then timed in alternation (baseline, ours, baseline, ours ...) so that a busy machine slows both alike.
    Median and p95 per model; the speed-up is median(baseline) / median(ours).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "app"))
sys.path.insert(0, str(HERE))

from run import photo_like_gray  # noqa: E402

from polychrome.core.color import gray_to_lightness  # noqa: E402

ECCV16_Q = 313
GOAL_RATIO = 5.0
BN_STAT_SUFFIXES = ("running_mean", "running_var", "num_batches_tracked")

# (block, [(out channels, stride, dilation), ...]) for conv1..conv7; conv8 and the head are added separately
ECCV16_TABLE = (
    ("conv1", [(64, 1, 1), (64, 2, 1)]),
    ("conv2", [(128, 1, 1), (128, 2, 1)]),
    ("conv3", [(256, 1, 1), (256, 1, 1), (256, 2, 1)]),
    ("conv4", [(512, 1, 1)] * 3),
    ("conv5", [(512, 1, 2)] * 3),
    ("conv6", [(512, 1, 2)] * 3),
    ("conv7", [(512, 1, 1)] * 3),
)


# ---------------------------------------------------------------------------------------------------------------
# the ECCV16 baseline as an ONNX graph
# ---------------------------------------------------------------------------------------------------------------


def build_eccv16(seed: int = 0, batchnorm: bool = False, opset: int = 17):
    """The ECCV16 colorization network (Zhang et al. 2016) with random weights, as an ONNX ModelProto.

    Returns ``(model, n_params)``; ``n_params`` counts weights, biases and BatchNorm scale/shift (not the
    running statistics).
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    nodes, inits = [], []
    n_params = 0

    def add_init(name: str, arr: np.ndarray, trainable: bool = True) -> str:
        nonlocal n_params
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr, dtype=np.float32), name))
        if trainable:
            n_params += arr.size
        return name

    def he(shape, fan_in: float) -> np.ndarray:
        return rng.standard_normal(shape, dtype=np.float32) * np.float32(math.sqrt(2.0 / fan_in))

    def relu(x: str, name: str) -> str:
        nodes.append(helper.make_node("Relu", [x], [name + ".relu"], name=name + ".relu"))
        return name + ".relu"

    def conv(x: str, cin: int, cout: int, name: str, k: int = 3, stride: int = 1, dilation: int = 1) -> str:
        w = add_init(name + ".weight", he((cout, cin, k, k), cin * k * k))
        b = add_init(name + ".bias", rng.standard_normal(cout, dtype=np.float32) * np.float32(0.01))
        pad = dilation * (k - 1) // 2
        nodes.append(helper.make_node("Conv", [x, w, b], [name], name=name, kernel_shape=[k, k],
                                      strides=[stride, stride], dilations=[dilation, dilation], pads=[pad] * 4))
        return name

    def bn(x: str, c: int, name: str) -> str:
        s = add_init(name + ".weight", 1.0 + 0.1 * rng.standard_normal(c, dtype=np.float32))
        b = add_init(name + ".bias", 0.1 * rng.standard_normal(c, dtype=np.float32))
        m = add_init(name + ".running_mean", 0.1 * rng.standard_normal(c, dtype=np.float32), trainable=False)
        v = add_init(name + ".running_var", 1.0 + 0.1 * rng.random(c, dtype=np.float32), trainable=False)
        nodes.append(helper.make_node("BatchNormalization", [x, s, b, m, v], [name], name=name, epsilon=1e-5))
        return name

    x, cin = "L", 1
    for block, convs in ECCV16_TABLE:
        for i, (cout, stride, dil) in enumerate(convs, 1):
            x = relu(conv(x, cin, cout, f"{block}_{i}", stride=stride, dilation=dil), f"{block}_{i}")
            cin = cout
        if batchnorm:
            x = bn(x, cin, f"{block}_norm")
    # conv8: ConvTranspose 4×4 stride 2 (pads 1 -> exactly ×2), then 2× 3×3 256
    w = add_init("conv8_1.weight", he((cin, 256, 4, 4), cin * 4))  # each output sees cin·(4/2)² inputs
    b = add_init("conv8_1.bias", rng.standard_normal(256, dtype=np.float32) * np.float32(0.01))
    nodes.append(helper.make_node("ConvTranspose", [x, w, b], ["conv8_1"], name="conv8_1", kernel_shape=[4, 4],
                                  strides=[2, 2], pads=[1, 1, 1, 1]))
    x, cin = relu("conv8_1", "conv8_1"), 256
    for i in (2, 3):
        x = relu(conv(x, cin, 256, f"conv8_{i}"), f"conv8_{i}")
    x = conv(x, 256, ECCV16_Q, "model_out", k=1)
    nodes.append(helper.make_node("Identity", [x], ["logits"], name="logits"))

    graph = helper.make_graph(
        nodes, "eccv16",
        [helper.make_tensor_value_info("L", TensorProto.FLOAT, [1, 1, "H", "W"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, ECCV16_Q, "h", "w"])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="polychrome-benchmark")
    model.ir_version = min(model.ir_version, 8)  # readable by older onnxruntime builds too
    onnx.checker.check_model(model)
    return model, int(n_params)


# ---------------------------------------------------------------------------------------------------------------
# our network
# ---------------------------------------------------------------------------------------------------------------


def export_ours(folder: Path, size: int):
    """Export a randomly initialised ColorizationNet; returns ``(path, torch parameter count)`` or ``(None, why)``."""
    try:
        import torch
    except ImportError as e:  # the app itself runs without torch
        return None, f"torch is not importable ({e}); pass --model PATH to time a model file"
    from polychrome.core.bins import in_gamut_bins
    from polychrome.training.export import export_onnx
    from polychrome.training.network import ColorizationNet

    torch.manual_seed(0)
    bins = in_gamut_bins()
    net = ColorizationNet(Q=bins.Q, pretrained=False).eval()
    n = sum(p.numel() for p in net.parameters())
    path = export_onnx(net, {"bins": bins, "name": "benchmark-random"}, folder / "ours.onnx", size=size)
    return path, int(n)


def import_originals(folder: Path):
    """The imported ECCV16 and SIGGRAPH17 graphs (random release-layout weights); ``([(name, path, params)], note)``."""
    try:
        import torch
    except ImportError as e:
        return [], f"imported originals: skipped — torch is not importable ({e})"
    from polychrome.training.zhang import ARCHS, import_original_model, random_state_dict

    rows = []
    for arch in ("eccv16", "siggraph17"):
        sd = random_state_dict(arch, seed=0)
        n = sum(int(v.numel()) for k, v in sd.items() if not k.endswith(BN_STAT_SUFFIXES))
        pth = folder / f"{arch}.pth"
        torch.save(sd, pth)
        del sd
        res = import_original_model(None, None, arch, pth, output=folder / f"imported-{arch}.onnx")
        pth.unlink()
        title = "ECCV16" if arch == "eccv16" else "SIGGRAPH17 (zero hints)"
        rows.append((f"imported {title}: {ARCHS[arch].release_file} layout, random weights", res.path, n))
    return rows, None


def onnx_param_count(path: Path) -> int:
    """Elements of the float initializers, not counting BatchNorm running statistics (by their torch names)."""
    import onnx
    from onnx import TensorProto

    model = onnx.load(str(path), load_external_data=False)
    n = 0
    for t in model.graph.initializer:
        if t.data_type in (TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.BFLOAT16, TensorProto.DOUBLE) \
                and not t.name.endswith(BN_STAT_SUFFIXES):
            n += int(np.prod(t.dims)) if len(t.dims) else 1
    return n


# ---------------------------------------------------------------------------------------------------------------
# timing
# ---------------------------------------------------------------------------------------------------------------


def make_session(path: Path):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def _p50_p95(times):
    times = sorted(times)
    p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
    return statistics.median(times) * 1000, p95 * 1000


def time_interleaved(fns, repeat: int, warmup: int):
    """Warm every function up, then time them in turn ``repeat`` times; returns [(p50 ms, p95 ms), ...]."""
    for fn in fns:
        for _ in range(warmup):
            fn()
    times = [[] for _ in fns]
    for _ in range(repeat):
        for k, fn in enumerate(fns):
            t = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t)
    return [_p50_p95(t) for t in times]


def _runner(sess, x: np.ndarray):
    """Runs the session on L = ``x``; further inputs (hint maps) get zeros of the same N, H, W."""
    ins = sess.get_inputs()
    n, _, h, w = x.shape
    feed = {ins[0].name: x}
    for i in ins[1:]:
        c = i.shape[1] if isinstance(i.shape[1], int) else 1
        feed[i.name] = np.zeros((n, c, h, w), np.float32)
    out = [sess.get_outputs()[0].name]
    return lambda: sess.run(out, feed)


# ---------------------------------------------------------------------------------------------------------------


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    ap.add_argument("--model", type=Path, default=None,
                    help="time this .onnx model file instead of exporting a random ColorizationNet")
    ap.add_argument("--size", type=int, default=256, help="input side in pixels (default 256)")
    ap.add_argument("--repeat", type=int, default=None, help="timed runs per model (default 20; --quick 4)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed runs per model first (default 3; --quick 1)")
    ap.add_argument("--eccv-bn", action="store_true",
                    help="include the ECCV16 BatchNorm layers as BatchNormalization nodes (default: omitted)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the ECCV16 random weights")
    ap.add_argument("--no-originals", action="store_true",
                    help="skip the imported ECCV16 / SIGGRAPH17 graphs (polychrome import-model, random weights)")
    args = ap.parse_args(argv)
    if args.size < 32 or args.size % 32:
        ap.error("--size must be a positive multiple of 32")
    repeat = args.repeat if args.repeat is not None else (4 if args.quick else 20)
    warmup = args.warmup if args.warmup is not None else (1 if args.quick else 3)

    import onnx
    import onnxruntime as ort

    size = args.size
    gray = photo_like_gray(size, size)
    x = ((gray_to_lightness(gray).astype(np.float32) - 50.0) / 50.0)[None, None]
    x = np.ascontiguousarray(x, dtype=np.float32)

    with tempfile.TemporaryDirectory(prefix="polychrome-bench-") as tmp:
        tmp = Path(tmp)
        eccv_model, eccv_params = build_eccv16(args.seed, batchnorm=args.eccv_bn)
        eccv_path = tmp / "eccv16.onnx"
        onnx.save(eccv_model, str(eccv_path))
        del eccv_model
        bn = ", with BN" if args.eccv_bn else ", BN omitted"
        rows = [{"name": "ECCV16 (Zhang et al. 2016), random weights" + bn, "path": eccv_path, "params": eccv_params}]

        notes = []
        if args.model is not None:
            if not args.model.is_file():
                ap.error(f"{args.model}: no such file")
            rows.append({"name": f"ours: {args.model.name}", "path": args.model,
                         "params": onnx_param_count(args.model)})
        else:
            ours_path, info = export_ours(tmp, size)
            if ours_path is None:
                notes.append(f"ours: skipped — {info}")
            else:
                rows.append({"name": "ours: ColorizationNet (EfficientNet-Lite0 + U-Net), random weights",
                             "path": ours_path, "params": info})

        n_ours = len(rows)
        if not args.no_originals:
            originals, why = import_originals(tmp)
            if why:
                notes.append(why)
            rows += [{"name": name, "path": path, "params": n, "original": True} for name, path, n in originals]

        for r in rows:
            r["bytes"] = r["path"].stat().st_size
            r["sess"] = _runner(make_session(r["path"]), x)
            r["out"] = tuple(r["sess"]()[0].shape)
        results = time_interleaved([r["sess"] for r in rows], repeat, warmup)
        for r, (p50, p95) in zip(rows, results):
            r["p50"], r["p95"] = p50, p95

    print(f"onnxruntime {ort.__version__}, CPUExecutionProvider, graph optimisations ALL, default threads; "
          f"input {size}×{size}; {warmup} warm-up + {repeat} timed runs each, interleaved")
    head = ("model", "params", "ONNX MB", "output", "p50 ms", "p95 ms", "speed-up vs ECCV16", "goal", "met")
    table = [head]
    base = rows[0]["p50"]
    for k, r in enumerate(rows):
        ratio = base / r["p50"]
        is_ours = 0 < k < n_ours
        table.append((
            r["name"], f"{r['params'] / 1e6:.2f} M", f"{r['bytes'] / 2**20:.1f}",
            "×".join(str(d) for d in r["out"][1:]),
            f"{r['p50']:.1f}", f"{r['p95']:.1f}", f"{ratio:.2f}×",
            f"≥ {GOAL_RATIO:g}× faster" if is_ours else ("(baseline)" if k == 0 else "(imported original)"),
            ("yes" if ratio >= GOAL_RATIO else "NO") if is_ours else "",
        ))
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    for k, row in enumerate(table):
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |")
        if k == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    ours = rows[1:n_ours]
    for r in rows[n_ours:]:
        for o in ours:
            print(f"{o['name']} is {r['p50'] / o['p50']:.2f}× faster than {r['name']} "
                  f"(median {o['p50']:.1f} ms vs {r['p50']:.1f} ms, same run)")
    for n in notes:
        print(n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
