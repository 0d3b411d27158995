"""``polychrome model average`` and ``polychrome model stamp`` (used to make the shipped model) on real ONNX files."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

ROOT = Path(__file__).resolve().parent.parent


def run_tool(action, *args):
    return subprocess.run([sys.executable, "-m", "polychrome", "model", action, *map(str, args)], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)


def logits(path, x):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"L": x})[0]


def test_average_models_mixes_weights_and_keeps_the_contract(tmp_path, bins):
    from onnx_models import conv_model
    from polychrome.runtime.session import read_manifest

    a = conv_model(tmp_path / "a.onnx", bins, seed=0)
    b = conv_model(tmp_path / "b.onnx", bins, seed=1)
    out = tmp_path / "mix.onnx"
    res = run_tool("average", a, b, out, "--alpha", "0.25")
    assert res.returncode == 0, res.stderr
    wa = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(a)).graph.initializer}
    wb = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(b)).graph.initializer}
    wm = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(out)).graph.initializer}
    for k in wa:
        np.testing.assert_allclose(wm[k], 0.25 * wa[k] + 0.75 * wb[k], rtol=1e-6, atol=1e-7)
    m = read_manifest(out)
    assert m.training["averaged"]["alpha"] == 0.25
    # alpha = 1 gives A back exactly
    res = run_tool("average", a, b, tmp_path / "same.onnx", "--alpha", "1")
    assert res.returncode == 0, res.stderr
    x = np.random.default_rng(0).uniform(-1, 1, (1, 1, 32, 32)).astype(np.float32)
    np.testing.assert_array_equal(logits(tmp_path / "same.onnx", x), logits(a, x))


def test_average_models_refuses_different_networks(tmp_path, bins):
    from onnx_models import conv_model

    a = conv_model(tmp_path / "a.onnx", bins, hidden=8)
    b = conv_model(tmp_path / "b.onnx", bins, hidden=4)
    res = run_tool("average", a, b, tmp_path / "mix.onnx")
    assert res.returncode != 0 and "initializer" in res.stderr
    assert not (tmp_path / "mix.onnx").exists()


def test_stamp_model_sets_metadata_without_touching_weights(tmp_path, bins):
    from onnx_models import conv_model
    from polychrome.runtime.session import read_manifest

    src = conv_model(tmp_path / "m.onnx", bins)
    recipe = tmp_path / "recipe.json"
    recipe.write_text(json.dumps({"stages": [{"stage": 1}]}))
    out = tmp_path / "stamped.onnx"
    res = run_tool("stamp", src, "-o", out, "--license", "CC0 test", "--description", "a test",
                   "--version", "2.1", "--default-t", "0.3", "--recipe-json", recipe)
    assert res.returncode == 0, res.stderr
    m = read_manifest(out)
    assert (m.license, m.description, m.version, m.default_T) == ("CC0 test", "a test", "2.1", 0.3)
    assert m.training["recipe"] == {"stages": [{"stage": 1}]}
    x = np.random.default_rng(1).uniform(-1, 1, (1, 1, 32, 32)).astype(np.float32)
    np.testing.assert_array_equal(logits(out, x), logits(src, x))
    # the input itself is refused as the output
    res = run_tool("stamp", src, "-o", src, "--license", "x")
    assert res.returncode != 0
