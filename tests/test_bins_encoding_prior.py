import numpy as np
import pytest

from polychrome.core.bins import ABBins
from polychrome.core.color import srgb_to_lab
from polychrome.core.encoding import soft_encode, soft_encode_dense
from polychrome.core.prior import PriorAccumulator, empirical_prior, rebalance_weights, smooth_prior


def test_in_gamut_table_covers_every_srgb_colour_and_nothing_far_outside(bins):
    assert 240 <= bins.Q <= 320
    assert bins.grid == 10
    cells = set(map(tuple, np.round(bins.centers / 10).astype(int).tolist()))
    assert (0, 0) in cells
    rng = np.random.default_rng(1)
    ab = srgb_to_lab(rng.random((20000, 3)).astype(np.float32))[:, 1:]
    for a, b in np.round(ab / 10).astype(int).tolist():
        assert (a, b) in cells
    # every centre is within one cell of a real colour
    assert np.abs(bins.centers).max() <= 110


def test_nearest_matches_brute_force(bins):
    rng = np.random.default_rng(0)
    ab = rng.uniform(-100, 100, (5000, 2)).astype(np.float32)
    idx = bins.nearest(ab)
    d = ((ab[:, None] - bins.centers[None]) ** 2).sum(-1)
    best = d.min(1)
    got = d[np.arange(len(ab)), idx]
    np.testing.assert_allclose(got, best, rtol=1e-5, atol=1e-3)


def test_data_derived_table_and_persistence(tmp_path):
    ab = np.array([[3, 4], [12, -8], [11, -9], [55, 60]], np.float32)
    b = ABBins.from_ab(ab, name="faces")
    assert sorted(map(tuple, b.centers.tolist())) == [(0.0, 0.0), (10.0, -10.0), (60.0, 60.0)]
    assert ABBins.from_ab(ab, min_count=2).Q == 2  # (10,-10) has two samples, (0,0) always kept
    b.save(tmp_path / "bins.json")
    assert ABBins.load(tmp_path / "bins.json") == b
    assert ABBins.from_json(b.to_json()).name == "faces"
    with pytest.raises(ValueError):
        ABBins(np.array([[1.0, 2.0], [10.0, 0.0]]))  # off grid


def test_histogram_counts(bins):
    ab = np.array([[0, 0], [1, 2], [20, 20]], np.float32)
    h = bins.histogram(ab)
    assert h.sum() == 3 and h[bins.neutral_index] == 2


def test_soft_encode_is_gaussian_over_5_nearest(bins):
    rng = np.random.default_rng(2)
    ab = rng.uniform(-60, 60, (300, 2)).astype(np.float32)
    idx, w = soft_encode(ab, bins, k=5, sigma=5.0)
    assert idx.shape == (300, 5) and w.shape == (300, 5)
    np.testing.assert_allclose(w.sum(1), 1.0, atol=1e-5)
    d2 = ((ab[:, None] - bins.centers[None]) ** 2).sum(-1)
    ref_idx = np.argsort(d2, 1)[:, :5]
    np.testing.assert_array_equal(np.sort(idx, 1), np.sort(ref_idx, 1))
    ref_w = np.exp(-np.take_along_axis(d2, idx, 1) / (2 * 25.0))
    ref_w /= ref_w.sum(1, keepdims=True)
    np.testing.assert_allclose(w, ref_w, atol=1e-5)
    assert np.all(np.diff(w, axis=1) <= 1e-7)  # nearest first


def test_soft_encode_dense_shape_and_mean(bins):
    ab = np.array([[[20.0, -30.0], [0.0, 0.0]]], np.float32)
    dense = soft_encode_dense(ab, bins)
    assert dense.shape == (1, 2, bins.Q)
    np.testing.assert_allclose(dense.sum(-1), 1.0, atol=1e-5)
    mean = dense @ bins.centers
    np.testing.assert_allclose(mean, ab, atol=3.0)  # the soft code's mean stays near the target


def test_prior_smoothing_and_rebalancing(bins):
    counts = np.zeros(bins.Q)
    counts[bins.neutral_index] = 900
    far = int(np.argmax(np.abs(bins.centers).sum(1)))
    counts[far] = 100
    p = smooth_prior(counts, bins, sigma=5.0)
    assert p.shape == (bins.Q,) and np.isclose(p.sum(), 1.0)
    assert p[bins.neutral_index] < 0.9  # smoothing spread mass to neighbours
    assert p[bins.neutral_index] > p[far] > 0
    w = rebalance_weights(p, lam=0.5)
    assert np.isclose((p * w).sum(), 1.0)
    assert w[far] > w[bins.neutral_index]  # rare colours weigh more
    np.testing.assert_allclose(rebalance_weights(p, lam=1.0), 1.0)  # λ=1: uniform
    ref = 1.0 / (0.5 * p + 0.5 / bins.Q)
    np.testing.assert_allclose(w, ref / (p * ref).sum())


def test_empirical_prior_from_images(bins):
    red = np.zeros((8, 8, 3), np.uint8)
    red[..., 0] = 200
    gray = np.full((8, 8, 3), 128, np.uint8)
    p = empirical_prior([red, gray, gray, gray], bins, sigma=0)
    red_bin = bins.nearest(srgb_to_lab(red[:1, :1])[0, 0, 1:])
    assert np.isclose(p[bins.neutral_index], 0.75)
    assert np.isclose(p[red_bin], 0.25)
    acc = PriorAccumulator(bins)
    acc.add_rgb(red)
    assert acc.counts.sum() == 64


def test_in_gamut_table_size_is_documented(bins):
    # README and bins.py document Q = 261 for the in-gamut table at grid 10; keep them true.
    assert bins.Q == 261
