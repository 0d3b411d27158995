"""A reference photo as a global hint: its palette reweights the cached distribution (no inference), toward its
colours, at any strength, for any classification model."""

from pathlib import Path

import numpy as np
import pytest

from onnx_models import known_ab_model
from polychrome.core import imageio
from polychrome.core.color import srgb_to_lab
from polychrome.core.reference import Reference, biased, log_ratio, reference_histogram
from polychrome.runtime import steer
from polychrome.runtime.colorizer import Colorizer


@pytest.fixture
def broad(tmp_path, bins):
    """The known-ab model with a broad distribution (σ ≈ 22 ab units), like a real network's."""
    return Colorizer(known_ab_model(tmp_path / "broad.onnx", bins, alpha=0.001), input_size=64)


def one_colour(rgb, h=24, w=32):
    return np.broadcast_to(np.array(rgb, np.uint8), (h, w, 3)).copy()


def test_histogram_of_a_one_colour_image_peaks_at_its_bin(bins):
    img = one_colour((40, 90, 200))
    h = reference_histogram(img, bins)
    ab = srgb_to_lab(img[:1, :1])[0, 0, 1:]
    assert h.shape == (bins.Q,) and h.sum() == pytest.approx(1.0)
    assert int(np.argmax(h)) == int(bins.nearest(ab[None])[0])


@pytest.mark.parametrize("rgb", [(200, 40, 40), (40, 150, 60), (40, 90, 200)])
def test_a_one_colour_reference_moves_every_pixels_annealed_mean_toward_that_colour(broad, gradient_gray, rgb):
    pred = broad.predict(gradient_gray)
    target = srgb_to_lab(one_colour(rgb)[:1, :1])[0, 0, 1:]
    runs = broad.run_count
    ref = steer.reference_for(broad, one_colour(rgb), pred)
    out = steer.with_reference(pred, ref, 1.0)
    assert broad.run_count == runs  # no inference
    for T in (0.2, 0.38, 1.0):
        before = np.linalg.norm(pred.ab(T) - target, axis=-1)
        after = np.linalg.norm(out.ab(T) - target, axis=-1)
        assert np.all(after < before - 1.0), (T, float((before - after).min()))
    # stronger moves further; strength 0 is the network's own output
    stronger = steer.with_reference(pred, ref, 2.0)
    assert np.linalg.norm(stronger.ab(0.38) - target, axis=-1).mean() < np.linalg.norm(
        out.ab(0.38) - target, axis=-1).mean()
    assert steer.with_reference(pred, ref, 0.0) is pred


def test_bias_is_a_per_bin_log_ratio_and_leaves_the_base_decoder_untouched(broad, gradient_gray, bins):
    pred = broad.predict(gradient_gray)
    z0 = pred.decoder.z.copy()
    h_ref = np.full(bins.Q, 1.0 / bins.Q)
    prior = np.full(bins.Q, 1.0 / bins.Q)
    assert np.allclose(log_ratio(h_ref, prior), 0.0)  # the reference equals the prior: nothing changes
    assert biased(pred.decoder, log_ratio(h_ref, prior)) is pred.decoder
    h_ref = np.zeros(bins.Q)
    h_ref[bins.neutral_index] = 1.0
    ref = Reference(h_ref, prior)
    d = ref.apply(pred.decoder, 1.0)
    assert np.array_equal(pred.decoder.z, z0)
    # softmax(z + b) == softmax(z) * exp(b), renormalised: p' ∝ p · (h_ref / prior)^β
    p = pred.decoder.probabilities(1.0)[3, 5]
    want = p * np.exp(ref.bias(1.0))
    assert d.probabilities(1.0)[3, 5] == pytest.approx(want / want.sum(), rel=1e-3, abs=1e-7)


def test_reference_read_from_a_file_and_a_gray_reference_is_refused(broad, gradient_gray, tmp_path):
    pred = broad.predict(gradient_gray)
    path = imageio.write_image(tmp_path / "ref.png", one_colour((200, 40, 40), 40, 60))
    ref = steer.reference_for(broad, path, pred)
    assert np.argmax(ref.h_ref) == np.argmax(reference_histogram(one_colour((200, 40, 40)), broad.manifest.bins))
    gray = imageio.write_image(tmp_path / "gray.png", np.full((20, 20), 128, np.uint8))
    with pytest.raises(Exception, match="gray.png.*colour photo"):
        steer.reference_for(broad, gray, pred)


def test_model_prior_from_metadata_is_used_when_present(tmp_path, bins, gradient_gray):
    prior = np.linspace(1, 2, bins.Q)
    path = known_ab_model(tmp_path / "with_prior.onnx", bins, alpha=0.001)
    import onnx

    m = onnx.load(str(path))
    e = m.metadata_props.add()
    e.key, e.value = "polychrome.prior", "[" + ",".join(f"{v:.6g}" for v in prior) + "]"
    onnx.save(m, str(path))
    col = Colorizer(Path(path), input_size=64)
    got = steer.model_prior(col)
    assert got is not None and got == pytest.approx(prior / prior.sum(), rel=1e-4)


def test_the_app_reference_panel_reweights_without_inference(qtbot, tmp_path, bins):
    pytest.importorskip("pytestqt")
    from polychrome.gui.main_window import MainWindow
    from polychrome.gui.queue.controller import DONE, ColorizeController

    col = Colorizer(known_ab_model(tmp_path / "broad.onnx", bins, alpha=0.001), input_size=64)
    w = MainWindow(ColorizeController(col))
    qtbot.addWidget(w)
    x = np.linspace(20, 235, 160, dtype=np.float32)
    img = imageio.write_image(tmp_path / "g.png", np.repeat(x[None, :], 96, axis=0).astype(np.uint8))
    ref = imageio.write_image(tmp_path / "blue.png", one_colour((40, 90, 200)))
    c, h = w.controller, w.hints
    try:
        c.add_paths([str(img)])
        qtbot.waitUntil(lambda: c.queue.counts()[DONE] == 1 and c.prediction is not None, timeout=30000)
        base = c.prediction.ab(0.38).copy()
        runs = col.run_count
        h.set_reference(str(ref))
        qtbot.waitUntil(lambda: h.reference_rgb is not None and not h.busy, timeout=30000)
        qtbot.waitUntil(lambda: getattr(c.prediction, "steered", False), timeout=30000)
        panel = w.hints_dock.panel
        assert panel.strength.isEnabled() and "blue.png" in panel.ref_label.text()
        b_at = []
        for beta in (0.0, 0.5, 1.0, 2.0):
            h.set_strength(beta)
            b_at.append(float(c.prediction.ab(0.38)[..., 1].mean()))
        assert col.run_count == runs  # reading the reference and every strength: no inference
        assert b_at[0] == pytest.approx(float(base[..., 1].mean()), abs=1e-3)
        assert b_at[1] > b_at[2] > b_at[3] and b_at[3] < b_at[0] - 10  # toward the blue reference
        assert c.current_item.extras["hints"]["reference"].endswith("blue.png")
        h.set_reference(None)
        assert c.prediction.ab(0.38) == pytest.approx(base, abs=1e-3)
    finally:
        h.shutdown()
        c.shutdown(10000)
