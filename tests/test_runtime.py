import os

import cv2
import numpy as np
import onnx
import pytest

from onnx_models import known_ab_logits, known_ab_model, manifest_for, save_model
from polychrome.core.color import gray_to_lightness, srgb_to_lab
from polychrome.core.errors import ModelError
from polychrome.core.merge import upsample_ab
from polychrome.runtime import providers, registry
from polychrome.runtime.colorizer import Colorizer
from polychrome.runtime.manifest import ModelManifest
from polychrome.runtime.session import ModelSession, clear_cache, read_manifest


def test_manifest_round_trip(known_model, bins):
    m = read_manifest(known_model)
    assert m.name == "test-model" and m.Q == bins.Q and m.stride == 4 and m.default_T == 0.38
    assert m.bins == bins
    assert m.fixed_hw is None
    assert ModelManifest.from_metadata(m.to_metadata()).bins == bins


def test_known_model_decodes_to_known_ab_end_to_end(known_model, bins):
    """Two flat regions of known L: the decoded ab must equal the closed-form annealed mean of the fixture."""
    H, W = 64, 128
    gray = np.empty((H, W), np.uint8)
    gray[:, :64] = 100
    gray[:, 64:] = 160
    col = Colorizer(known_model, input_size=128)  # no resampling: one grid cell per 4×4 block
    pred = col.predict(gray)
    assert pred.grid_shape == (16, 32)
    L = gray_to_lightness(gray)
    for T in (0.01, 0.38, 1.0):
        ab = pred.ab(T)
        for region, Lval in ((slice(0, 14), L[0, 0]), (slice(18, 32), L[0, -1])):
            x = np.float32((Lval - 50.0) / 50.0)
            z = known_ab_logits(np.full((1, 1), x), bins)[:, 0, 0].astype(np.float64) / T
            p = np.exp(z - z.max())
            p /= p.sum()
            expected = p @ bins.centers
            np.testing.assert_allclose(ab[:, region].reshape(-1, 2), np.broadcast_to(expected, (16 * 14, 2)), atol=0.05)
    # dark pixels get negative a* (greenish), light ones positive (reddish): the fixture's map t = (60·x, 0)
    assert pred.ab(0.38)[:, :8, 0].mean() < -5 and pred.ab(0.38)[:, -8:, 0].mean() > 5
    # full-resolution merge of the same ab keeps L and carries the colour
    out = pred.render(0.38)
    assert out.shape == (H, W, 3) and out.dtype == np.uint8
    lab = srgb_to_lab(out)
    assert np.abs(lab[..., 0] - L).max() < 0.6
    np.testing.assert_allclose(lab[8:-8, 8:24, 1:], upsample_ab(pred.ab(0.38), (H, W))[8:-8, 8:24], atol=1.5)


def test_temperature_change_costs_no_inference(known_model, gradient_gray):
    col = Colorizer(known_model)
    before = col.run_count
    pred = col.predict(gradient_gray)
    assert col.run_count == before + 1
    previews = [pred.preview(T) for T in (0.05, 0.2, 0.38, 0.7, 1.0)]
    pred.render(0.5)
    pred.entropy(0.3)
    pred.distribution_at(10, 10, 0.9)
    assert col.run_count == before + 1
    assert not np.array_equal(previews[0], previews[-1])  # T changed the colours


def test_temperature_moves_colours_toward_mode(known_model, gradient_gray):
    pred = Colorizer(known_model).predict(gradient_gray)
    sat = [np.hypot(*np.moveaxis(pred.ab(T), -1, 0)).mean() for T in (0.05, 0.38, 1.0)]
    assert sat[0] >= sat[1] >= sat[2]  # the mean is greyer than the mode


def test_sixteen_bit_and_rgb_inputs(known_model):
    gray16 = np.tile(np.linspace(5000, 60000, 120).astype(np.uint16), (80, 1))
    pred = Colorizer(known_model).predict(gray16)
    out = pred.render(0.38)
    assert out.dtype == np.uint16 and out.shape == (80, 120, 3)
    # L is kept everywhere (the fixture's saturated extremes are gamut-mapped at constant L*)
    L = gray_to_lightness(gray16)
    assert np.abs(srgb_to_lab(out)[..., 0] - L).max() < 0.05
    rgb = np.dstack([gray16 >> 8] * 3).astype(np.uint8)
    assert Colorizer(known_model).predict(rgb).render(0.38).dtype == np.uint8


def test_aspect_and_input_size(known_model):
    col = Colorizer(known_model)
    prep = col.prepare(np.zeros((300, 1000), np.float32))
    assert prep.tensor.shape == (1, 1, 20, 64)  # long side 64, snapped to stride 4
    assert prep.cells == (5, 16)
    assert Colorizer(known_model, input_size=128).prepare(np.zeros((300, 1000), np.float32)).tensor.shape[-1] == 128


def test_fixed_size_model_is_padded_and_cropped(tmp_path, bins):
    path = known_ab_model(tmp_path / "fixed.onnx", bins, fixed_hw=(64, 64))
    col = Colorizer(path)
    assert col.manifest.fixed_hw == (64, 64)
    gray = np.full((40, 100), 128, np.uint8)
    pred = col.predict(gray)
    assert pred.grid_shape == (6, 16)
    assert pred.render(0.38).shape == (40, 100, 3)


def test_preview_is_small_and_fast_path_matches_render(conv_model_path):
    big = np.tile(np.linspace(25, 230, 2400).astype(np.uint8), (1800, 1))
    pred = Colorizer(conv_model_path).predict(big)
    pv = pred.preview(0.38)
    assert pv.shape[0] * pv.shape[1] <= 2_000_000 and pv.dtype == np.uint8
    # the fast preview maps out-of-gamut colours into the gamut as the export does: it matches the export...
    full = cv2.resize(pred.render(0.38), (pv.shape[1], pv.shape[0]), interpolation=cv2.INTER_AREA)
    err = np.abs(full.astype(int) - pv)
    assert err.mean() < 1.0 and np.percentile(err.max(-1), 95) <= 3, (err.mean(), np.percentile(err.max(-1), [95, 99]))
    # ...and not the clipping merge, which this model's saturated colours push visibly away
    clipped = cv2.resize(pred.render(0.38, gamut_map=False), (pv.shape[1], pv.shape[0]), interpolation=cv2.INTER_AREA)
    assert np.abs(clipped.astype(int) - pv).mean() > 2 * err.mean()
    # the exact preview is the export's merge at preview size
    exact = pred.preview(0.38, exact=True)
    assert exact.shape == pv.shape and np.abs(full.astype(int) - exact).mean() < 1.5


def test_distribution_at_pixel(known_model, bins):
    gray = np.full((32, 32), 200, np.uint8)
    pred = Colorizer(known_model).predict(gray)
    p = pred.distribution_at(5, 5, 1.0)
    assert p.shape == (bins.Q,) and np.isclose(p.sum(), 1, atol=1e-5)
    x = (gray_to_lightness(np.uint8(200)) - 50) / 50
    z = known_ab_logits(np.full((1, 1), x, np.float32), bins)[:, 0, 0]
    ref = np.exp(z - z.max())
    np.testing.assert_allclose(p, ref / ref.sum(), atol=1e-5)


# -- contract violations ------------------------------------------------------------------------

def _meta(table, **drop_or_set):
    md = manifest_for(table).to_metadata()
    for k, v in drop_or_set.items():
        key = "polychrome." + k
        if v is None:
            md.pop(key)
        else:
            md[key] = v
    return md


def _identity_model(path, bins, md, q, input_name="L", output_name="logits"):
    from onnx import helper, numpy_helper

    w = np.zeros((q, 1, 1, 1), np.float32)
    nodes = [
        helper.make_node("AveragePool", [input_name], ["p"], kernel_shape=[4, 4], strides=[4, 4]),
        helper.make_node("Conv", ["p", "W"], [output_name], kernel_shape=[1, 1]),
    ]
    return save_model(path, nodes, [numpy_helper.from_array(w, "W")], md, q, input_name=input_name,
                      output_name=output_name)


@pytest.mark.parametrize(
    "case, needle",
    [
        ("no_metadata", "not a Polychrome model"),
        ("bad_bins", "bin table"),
        ("q_mismatch", "bins"),
        ("input_name", "input named 'L'"),
        ("output_name", "no output named 'logits'"),
        ("garbage", "cannot be loaded"),
        ("bad_T", "out of range"),
    ],
)
def test_contract_violations_are_refused_with_a_reason(tmp_path, bins, case, needle):
    p = tmp_path / f"{case}.onnx"
    if case == "no_metadata":
        _identity_model(p, bins, {}, bins.Q)
    elif case == "bad_bins":
        _identity_model(p, bins, _meta(bins, bins="{not json"), bins.Q)
    elif case == "q_mismatch":
        _identity_model(p, bins, _meta(bins), bins.Q + 3)
    elif case == "input_name":
        _identity_model(p, bins, _meta(bins), bins.Q, input_name="image")
    elif case == "output_name":
        _identity_model(p, bins, _meta(bins), bins.Q, output_name="ab")
    elif case == "garbage":
        p.write_bytes(b"this is not an onnx file")
    elif case == "bad_T":
        _identity_model(p, bins, _meta(bins, default_T="3"), bins.Q)
    with pytest.raises(ModelError) as ei:
        read_manifest(p)
    assert needle in str(ei.value) and str(p) in str(ei.value)


def test_wrong_stride_detected_at_run_time(tmp_path, bins):
    p = known_ab_model(tmp_path / "s.onnx", bins, stride=8)
    md = {e.key: e.value for e in onnx.load(str(p)).metadata_props}
    m = onnx.load(str(p))
    for e in m.metadata_props:
        if e.key == "polychrome.stride":
            e.value = "4"
    onnx.save(m, str(p))
    with pytest.raises(ModelError, match="stride"):
        Colorizer(p).predict(np.full((64, 64), 100, np.uint8))
    assert md["polychrome.stride"] == "8"


# -- providers, sessions, registry ---------------------------------------------------------------

def test_provider_policy():
    chain, reason = providers.choose()
    assert chain[-1] == providers.CPU and reason
    assert providers.choose("cpu")[0] == [providers.CPU]
    chain, reason = providers.choose("coreml")
    if providers.COREML not in providers.available():
        assert chain == [providers.CPU] and "does not provide" in reason
    assert providers.resolve("DirectML") == providers.DML
    with pytest.raises(Exception, match="unknown execution provider"):
        providers.resolve("quantum")
    so = providers.session_options_for(providers.DML)
    assert so.enable_mem_pattern is False


def test_limit_blas_threads_leaves_numpy_and_opencv_blas_on_one_thread():
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import numpy, cv2\n"
        "from threadpoolctl import threadpool_info\n"
        "from polychrome.runtime.providers import limit_blas_threads\n"
        "blas = lambda: sorted(i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas')\n"
        "before = blas()\n"
        "assert limit_blas_threads()\n"
        "print(before, blas())\n"
    )
    app = str(Path(__file__).resolve().parent.parent / "app")
    env = {**os.environ, "PYTHONPATH": app, "OPENBLAS_NUM_THREADS": "2"}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    before, after = res.stdout.strip().split("] [")
    assert "2" in before and set(after.strip("[]").split(", ")) == {"1"}, res.stdout


def test_session_cache_and_status(known_model):
    clear_cache()
    from polychrome.runtime.session import get_session

    a = get_session(known_model)
    assert get_session(known_model) is a
    assert get_session(known_model, "cpu") is not a
    assert "CPU" in a.status


def test_accelerator_failure_falls_back_to_cpu(known_model, monkeypatch):
    """A provider whose session cannot start must leave a working CPU session and the reason."""
    monkeypatch.setattr(providers, "choose", lambda forced=None: (["NoSuchExecutionProvider", providers.CPU], "test"))
    import polychrome.runtime.session as S

    real_open = S._open

    def flaky_open(path, chain, light=False):
        if chain[0] != providers.CPU:
            raise ModelError(f"{path}: cannot be loaded by onnxruntime: device lost")
        return real_open(path, chain, light)

    monkeypatch.setattr(S, "_open", flaky_open)
    s = ModelSession(known_model)
    assert s.provider == providers.CPU
    assert "device lost" in s.fallback_reason and "using CPU" in s.status
    assert s.run(np.zeros((1, 1, 16, 16), np.float32)).shape[1] == s.manifest.Q


def test_registry_user_folder_default_and_install(tmp_path, bins, monkeypatch, _isolated_user_models):
    monkeypatch.setattr(registry, "shipped_model_dirs", lambda: [])
    with pytest.raises(ModelError, match="No colorization model is installed"):
        registry.default_model()
    src = known_ab_model(tmp_path / "mine.onnx", bins, name="My Town")
    dest = registry.install_model(src)
    assert dest.parent == _isolated_user_models and dest.exists()
    with pytest.raises(ModelError, match="already installed"):
        registry.install_model(src)
    (_isolated_user_models / "broken.onnx").write_bytes(b"junk")
    entries = registry.list_models()
    assert {e.name for e in entries if e.ok} == {"My Town"}
    assert any(not e.ok and "cannot be loaded" in e.error for e in entries)
    assert registry.default_model().name == "My Town"
    assert registry.find_model("My Town").path == dest
    assert registry.find_model("mine").path == dest
    with pytest.raises(ModelError, match="no model named"):
        registry.find_model("nope")
    # a shipped folder with a DEFAULT marker wins
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    known_ab_model(shipped / "a.onnx", bins, name="A")
    known_ab_model(shipped / "b.onnx", bins, name="B")
    (shipped / "DEFAULT").write_text("b.onnx")
    monkeypatch.setattr(registry, "shipped_model_dirs", lambda: [shipped])
    assert registry.default_model().name == "B"


def test_write_prediction_needs_no_second_read(tmp_path, known_model):
    """The export path writes from the prediction and the read image's metadata (format, bit depth, EXIF, ICC):
    the source may be gone by then; the result equals colorize_file's, and nothing is ever overwritten."""
    from PIL import Image

    from polychrome.core import imageio
    from polychrome.runtime.pipeline import ExportOptions, colorize_file, write_prediction

    src = tmp_path / "scan.jpg"
    exif = Image.Exif()
    exif[0x010F] = "Polychrome Test Camera"
    g = np.tile(np.linspace(30, 220, 64, dtype=np.float32), (48, 1)).astype(np.uint8)
    Image.fromarray(g).save(src, exif=exif.tobytes(), quality=95)
    opts = ExportOptions(out_dir=tmp_path / "out", temperature=0.2)
    (tmp_path / "out").mkdir()
    col = Colorizer(known_model)
    expected = imageio.read_image(colorize_file(col, src, opts))

    image = imageio.read_image(src)
    info = image.info
    pred = col.predict(image.pixels)
    src.unlink()  # the writer must not need the source file any more
    written = write_prediction(pred, info, opts)
    assert written.name == "scan_color (2).jpg"  # the first output is kept
    got = imageio.read_image(written)
    assert got.format == "JPEG" and got.exif is not None and b"Polychrome Test Camera" in got.exif
    assert np.abs(got.pixels.astype(int) - expected.pixels.astype(int)).max() <= 1
    at_default = imageio.read_image(write_prediction(pred, info, ExportOptions(out_dir=tmp_path / "out",
                                                                               format="png")))
    np.testing.assert_array_equal(at_default.pixels, pred.render(col.default_T, out_dtype=np.uint8))
