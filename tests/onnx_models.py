"""Small real ONNX colorization models for tests, built with onnx.helper (no training, no downloads).

``known_ab_model``: AveragePool(stride) over the normalised L, then a 1×1 convolution whose weights make the
logit of bin q equal to -α·|c_q − t|² + const with t = (k·x, 0), x the pooled input. So the distribution is a
Gaussian on the ab plane centred on a known target that moves along a* with the lightness — decoding can be
checked against a closed form.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from polychrome.core.bins import ABBins
from polychrome.runtime.manifest import ModelManifest

OPSET = 17


def manifest_for(bins: ABBins, **over) -> ModelManifest:
    kw = dict(
        name="test-model",
        version="0.0.1",
        bins=bins,
        l_offset=50.0,
        l_scale=50.0,
        input_size=64,
        stride=4,
        default_T=0.38,
        license="test",
        description="fixture",
        training={"fixture": True},
    )
    kw.update(over)
    return ModelManifest(**kw)


def save_model(
    path: Path,
    nodes,
    initializers,
    metadata: Dict[str, str],
    q: Optional[int],
    in_hw=("H", "W"),
    out_hw=("h", "w"),
    input_name: str = "L",
    output_name: str = "logits",
    extra_inputs: Sequence = (),
) -> Path:
    inp = helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["N", 1, in_hw[0], in_hw[1]])
    out = helper.make_tensor_value_info(output_name, TensorProto.FLOAT, ["N", q if q else "Q", out_hw[0], out_hw[1]])
    graph = helper.make_graph(nodes, "polychrome_fixture", [inp, *extra_inputs], [out], initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="polychrome-tests")
    model.ir_version = 8
    for k, v in metadata.items():
        e = model.metadata_props.add()
        e.key, e.value = k, v
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def known_ab_weights(bins: ABBins, alpha: float = 0.02, k: float = 60.0):
    c = bins.centers.astype(np.float64)
    w = (2.0 * alpha * k * c[:, 0]).astype(np.float32).reshape(-1, 1, 1, 1)
    b = (-alpha * (c ** 2).sum(1)).astype(np.float32)
    return w, b


def known_ab_logits(x_pooled: np.ndarray, bins: ABBins, alpha: float = 0.02, k: float = 60.0) -> np.ndarray:
    """Reference (Q, h, w) logits for pooled normalised input x (h, w)."""
    w, b = known_ab_weights(bins, alpha, k)
    return w.reshape(-1, 1, 1) * x_pooled[None].astype(np.float32) + b.reshape(-1, 1, 1)


def known_ab_model(
    path: Path,
    bins: ABBins,
    stride: int = 4,
    alpha: float = 0.02,
    k: float = 60.0,
    fixed_hw: Optional[Sequence[int]] = None,
    **manifest_over,
) -> Path:
    w, b = known_ab_weights(bins, alpha, k)
    nodes = [
        helper.make_node("AveragePool", ["L"], ["pooled"], kernel_shape=[stride, stride], strides=[stride, stride]),
        helper.make_node("Conv", ["pooled", "W", "B"], ["logits"], kernel_shape=[1, 1]),
    ]
    inits = [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B")]
    md = manifest_for(bins, stride=stride, **manifest_over).to_metadata()
    in_hw = tuple(fixed_hw) if fixed_hw else ("H", "W")
    out_hw = (fixed_hw[0] // stride, fixed_hw[1] // stride) if fixed_hw else ("h", "w")
    return save_model(path, nodes, inits, md, bins.Q, in_hw, out_hw)


def conv_model(path: Path, bins: ABBins, seed: int = 0, hidden: int = 8, **manifest_over) -> Path:
    """A tiny random conv net (two strided 3×3 convs + ReLU + 1×1 head), stride 4, like a real colorizer."""
    rng = np.random.default_rng(seed)
    w1 = (rng.standard_normal((hidden, 1, 3, 3)) * 0.5).astype(np.float32)
    w2 = (rng.standard_normal((hidden, hidden, 3, 3)) * 0.3).astype(np.float32)
    w3 = (rng.standard_normal((bins.Q, hidden, 1, 1)) * 0.5).astype(np.float32)
    z = lambda n: np.zeros(n, np.float32)  # noqa: E731
    nodes = [
        helper.make_node("Conv", ["L", "w1", "b1"], ["c1"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("Conv", ["r2", "w3", "b3"], ["logits"], kernel_shape=[1, 1]),
    ]
    inits = [
        numpy_helper.from_array(w1, "w1"),
        numpy_helper.from_array(z(hidden), "b1"),
        numpy_helper.from_array(w2, "w2"),
        numpy_helper.from_array(z(hidden), "b2"),
        numpy_helper.from_array(w3, "w3"),
        numpy_helper.from_array(z(bins.Q), "b3"),
    ]
    md = manifest_for(bins, stride=4, **manifest_over).to_metadata()
    return save_model(path, nodes, inits, md, bins.Q)


def hint_model(path: Path, bins: ABBins, alpha: float = 0.02, k: float = 60.0, declare: bool = True) -> Path:
    """The known-ab model with colour-hint inputs: the Gaussian's centre is t = (k·x, 0) + h, where h is the mean
    hint ab inside each output cell (0 in cells without a hint). So a hint moves exactly the cells it covers to
    its colour (plus k·x on a*), which decoding can check in closed form. ``declare=False`` leaves the manifest
    without the hints flag (a contract violation)."""
    stride = 4
    w, b = known_ab_weights(bins, alpha, k)
    v = (2.0 * alpha * bins.centers.astype(np.float64)).astype(np.float32).reshape(-1, 2, 1, 1)
    pool = dict(kernel_shape=[stride, stride], strides=[stride, stride])
    nodes = [
        helper.make_node("AveragePool", ["L"], ["pooled"], **pool),
        helper.make_node("Conv", ["pooled", "W", "B"], ["from_l"], kernel_shape=[1, 1]),
        helper.make_node("Mul", ["hint_ab", "hint_mask"], ["masked"]),
        helper.make_node("AveragePool", ["masked"], ["ab_sum"], **pool),
        helper.make_node("AveragePool", ["hint_mask"], ["m_sum"], **pool),
        helper.make_node("Add", ["m_sum", "eps"], ["m_safe"]),
        helper.make_node("Div", ["ab_sum", "m_safe"], ["h"]),
        helper.make_node("Conv", ["h", "V"], ["from_h"], kernel_shape=[1, 1]),
        helper.make_node("Add", ["from_l", "from_h"], ["logits"]),
    ]
    inits = [
        numpy_helper.from_array(w, "W"),
        numpy_helper.from_array(b, "B"),
        numpy_helper.from_array(v, "V"),
        numpy_helper.from_array(np.array([1e-6], np.float32), "eps"),
    ]
    extra = [
        helper.make_tensor_value_info("hint_ab", TensorProto.FLOAT, ["N", 2, "H", "W"]),
        helper.make_tensor_value_info("hint_mask", TensorProto.FLOAT, ["N", 1, "H", "W"]),
    ]
    md = manifest_for(bins, stride=stride, hints=declare).to_metadata()
    return save_model(path, nodes, inits, md, bins.Q, extra_inputs=extra)
