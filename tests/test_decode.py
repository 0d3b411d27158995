import numpy as np
import pytest

from polychrome.core.decode import LogitsDecoder, annealed_mean, entropy, mode, softmax_t, top_k


@pytest.fixture
def logits(bins):
    rng = np.random.default_rng(0)
    return (rng.standard_normal((bins.Q, 6, 7)) * 3).astype(np.float32)


def reference_mean(logits, centers, T):
    z = logits.astype(np.float64) / T
    z -= z.max(0, keepdims=True)
    p = np.exp(z)
    p /= p.sum(0, keepdims=True)
    return np.einsum("qhw,qc->hwc", p, centers.astype(np.float64))


@pytest.mark.parametrize("T", [0.01, 0.05, 0.2, 0.38, 0.6, 1.0])
def test_annealed_mean_matches_float64_reference(logits, bins, T):
    got = annealed_mean(logits, bins.centers, T)
    np.testing.assert_allclose(got, reference_mean(logits, bins.centers, T), atol=2e-3)
    assert np.all(np.isfinite(got))


def test_t_to_zero_is_the_mode_and_t_one_is_the_mean(logits, bins):
    logits = logits.copy()
    top = np.argmax(logits, axis=0)
    np.put_along_axis(logits, top[None], np.take_along_axis(logits, top[None], 0) + 0.2, axis=0)  # a clear mode
    m = mode(logits, bins.centers)
    d = LogitsDecoder(logits, bins.centers)
    np.testing.assert_allclose(d.annealed_mean(0.01), m, atol=0.5)
    np.testing.assert_array_equal(d.annealed_mean(0.0), m)
    p = softmax_t(np.moveaxis(logits, 0, -1), 1.0)
    np.testing.assert_allclose(d.annealed_mean(1.0), p @ bins.centers, atol=1e-3)


def test_large_logits_stay_finite(bins):
    z = np.zeros((bins.Q, 2, 2), np.float32)
    z[5] = 1e4
    z[7] = -1e4
    d = LogitsDecoder(z, bins.centers)
    for T in (0.01, 0.38, 1.0):
        ab = d.annealed_mean(T)
        assert np.all(np.isfinite(ab))
        np.testing.assert_allclose(ab, np.broadcast_to(bins.centers[5], ab.shape), atol=1e-3)


def test_entropy_bounds_and_top_k(bins):
    Q = bins.Q
    uniform = np.full((1, 1, Q), 1.0 / Q, np.float32)
    np.testing.assert_allclose(entropy(uniform), 1.0, atol=1e-5)
    onehot = np.zeros((1, 1, Q), np.float32)
    onehot[..., 3] = 1
    np.testing.assert_allclose(entropy(onehot), 0.0, atol=1e-5)
    p = softmax_t(np.arange(Q, dtype=np.float32), 1.0)
    idx, val = top_k(p, 3)
    assert idx.tolist() == [Q - 1, Q - 2, Q - 3]
    assert val[0] > val[1] > val[2]


def test_entropy_grows_with_temperature(logits, bins):
    d = LogitsDecoder(logits, bins.centers)
    e = [d.entropy(T).mean() for T in (0.05, 0.38, 1.0)]
    assert e[0] < e[1] < e[2]


def test_pixel_distribution(logits, bins):
    d = LogitsDecoder(logits, bins.centers)
    p = d.pixel(2, 3, 0.38)
    np.testing.assert_allclose(p, d.probabilities(0.38)[2, 3], atol=1e-6)
    assert np.isclose(p.sum(), 1.0, atol=1e-5)


def test_bad_shapes(bins):
    with pytest.raises(ValueError):
        LogitsDecoder(np.zeros((bins.Q + 1, 2, 2), np.float32), bins.centers)
