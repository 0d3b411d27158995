"""The exported model's fixed output layers (training.calibration): prior correction and hint propagation."""

import json

import numpy as np
import pytest

from polychrome.core.decode import annealed_mean
from polychrome.core.hints import ColorHint
from polychrome.runtime.colorizer import Colorizer
from polychrome.runtime.session import ModelSession

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

from polychrome.core.bins import in_gamut_bins  # noqa: E402
from polychrome.training.calibration import Calibration, prior_bias  # noqa: E402
from polychrome.training.export import CALIBRATION_KEY, export_onnx  # noqa: E402
from polychrome.training.network import ColorizationNet  # noqa: E402


def _net(hints: bool):
    torch.manual_seed(0)
    return ColorizationNet(Q=in_gamut_bins().Q, pretrained=False, width_mult=0.25, hints=hints).eval()


def _export(tmp_path, name, net, cal, prior):
    kw = dict(bins=in_gamut_bins(), name=name, version="1", input_size=64)
    return export_onnx(net, kw, tmp_path / f"{name}.onnx", size=64, prior=prior, calibration=cal)


def _meta(path):
    return {p.key: p.value for p in onnx.load(str(path)).metadata_props}


def test_prior_correction_adds_the_rebalancing_log_weights(tmp_path):
    Q = in_gamut_bins().Q
    prior = np.random.default_rng(1).random(Q) ** 4 + 1e-4
    net = _net(hints=False)
    raw = _export(tmp_path, "raw", net, None, prior)
    cal = _export(tmp_path, "cal", net, Calibration(prior_alpha=0.5, lam=0.6), prior)
    x = np.random.default_rng(2).uniform(-1, 1, (1, 1, 64, 96)).astype(np.float32)
    a = ModelSession(raw).run(x)
    b = ModelSession(cal).run(x)
    bias = prior_bias(prior, 0.6, 0.5)
    np.testing.assert_allclose(b - a, np.broadcast_to(bias[None, :, None, None], a.shape), atol=1e-4)
    # the rare (low-prior) bins lose weight: the correction pulls the annealed mean toward common colours
    assert bias[np.argmin(prior)] < bias[np.argmax(prior)]
    assert json.loads(_meta(cal)[CALIBRATION_KEY])["prior_alpha"] == 0.5
    assert CALIBRATION_KEY not in _meta(raw)


def _two_region_L(h=64, w=96):
    """Normalised L: a dark left half and a bright right half (a strong edge at w/2)."""
    L = np.full((h, w), 30.0, np.float32)
    L[:, w // 2 :] = 80.0
    return L


def test_hint_propagation_spreads_a_hint_within_its_region_not_across_an_edge(tmp_path):
    net = _net(hints=True)
    plain = Colorizer(_export(tmp_path, "plain", net, Calibration(), None))
    spread = Colorizer(_export(tmp_path, "spread", net, Calibration(hint_gamma=10.0), None))
    L = _two_region_L()
    hint = [ColorHint(32.0, 12.0, 60.0, 50.0, 3)]  # a red hint in the dark half
    centers = in_gamut_bins().centers
    # no hints: the propagation layer changes nothing
    np.testing.assert_allclose(spread.logits_for(L), plain.logits_for(L), atol=1e-5)
    with_hint = annealed_mean(spread.logits_for(L, hint), centers, 0.38)
    without = annealed_mean(plain.logits_for(L, hint), centers, 0.38)
    target = np.array([60.0, 50.0])
    dist = np.linalg.norm(with_hint - target, axis=-1)
    dist0 = np.linalg.norm(without - target, axis=-1)
    h, w = dist.shape
    same_region = (slice(h // 2 - 2, h // 2 + 2), slice(w // 4 - 1, w // 4 + 1))  # dark half, away from the hint
    other_region = (slice(h // 2 - 2, h // 2 + 2), slice(3 * w // 4 - 1, 3 * w // 4 + 1))  # bright half
    assert dist[same_region].mean() < 0.5 * dist0[same_region].mean()
    moved_same = dist0[same_region].mean() - dist[same_region].mean()
    moved_other = dist0[other_region].mean() - dist[other_region].mean()
    assert moved_other < 0.25 * moved_same
    assert json.loads(_meta(tmp_path / "spread.onnx")[CALIBRATION_KEY])["hint_gamma"] == 10.0


def test_fine_tuning_keeps_the_base_models_branches_and_prior_correction(tmp_path):
    """`polychrome train --from polychrome-lite0` (a hint model with global context and a prior correction) must
    work without repeating --hints / --global-context and must export what the base had."""
    import cv2

    from polychrome.core.progress import Progress
    from polychrome.runtime.session import read_manifest
    from polychrome.training.config import TrainConfig
    from polychrome.training.trainer import Trainer

    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i in range(10):
        img = np.zeros((48, 48, 3), np.uint8)
        img[:24] = rng.integers(0, 255, 3)
        img[24:] = rng.integers(0, 255, 3)
        cv2.imwrite(str(photos / f"p{i}.png"), img)
    torch.manual_seed(0)
    net = ColorizationNet(Q=in_gamut_bins().Q, pretrained=False, width_mult=0.25, hints=True,
                          global_context=True).eval()
    prior = np.random.default_rng(1).random(in_gamut_bins().Q) + 0.01
    base = _export(tmp_path, "base", net, Calibration(prior_alpha=0.3, lam=0.6, hint_gamma=20.0), prior)

    cfg = TrainConfig(data=[str(photos)], name="ft", out_dir=str(tmp_path / "out"), checkpoint_dir=str(tmp_path / "ck"),
                      base_model=str(base), size=32, epochs=1, batch_size=4, pretrained=False, width_mult=0.25,
                      val_fraction=0.2, min_side=16, prior_images=10, val_metric_images=2, val_samples=0,
                      max_steps=1, checkpoint_every_steps=0, recalibrate_bn_images=0, seed=1)
    (tmp_path / "out").mkdir()
    result = Trainer(cfg, Progress(lambda e: None)).fit()
    assert cfg.hints and cfg.global_context and cfg.prior_alpha == 0.3
    m = read_manifest(result.output)
    assert m.hints
    cal = json.loads(_meta(result.output)[CALIBRATION_KEY])
    assert cal["prior_alpha"] == 0.3 and cal["hint_gamma"] > 0
