import cv2
import numpy as np
import pytest

from polychrome.core.color import gray_to_lightness, lab_to_srgb, srgb_to_lab
from polychrome.core.merge import merge_full_resolution, naive_merge, upsample_ab


@pytest.fixture
def smooth_ab():
    y, x = np.mgrid[0:12, 0:16].astype(np.float32)
    return np.dstack([20 * np.sin(x / 5), 25 * np.cos(y / 4) - 5]).astype(np.float32)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_merge_keeps_source_lightness_and_matches_exact_path(dtype, smooth_ab):
    rng = np.random.default_rng(0)
    maxv = 255 if dtype == np.uint8 else 65535
    gray = cv2.resize((rng.random((30, 40)) * 0.8 + 0.15) * maxv, (400, 300), interpolation=cv2.INTER_CUBIC)
    gray = np.clip(gray, 0, maxv).astype(dtype)
    out = merge_full_resolution(gray, smooth_ab)
    assert out.shape == (300, 400, 3) and out.dtype == dtype
    L_src = gray_to_lightness(gray)
    L_out = srgb_to_lab(out)[..., 0]
    unclipped = lab_to_srgb(np.dstack([L_src, upsample_ab(smooth_ab, gray.shape)]), clip=False)
    in_gamut = np.all((unclipped >= 0) & (unclipped <= 1), axis=-1)
    assert 0.5 < in_gamut.mean() < 1.0  # some colours fall outside sRGB and must be gamut-mapped
    # L* is kept everywhere, also where the colour had to be desaturated to fit sRGB
    assert np.abs(L_out - L_src).max() < (0.6 if dtype == np.uint8 else 0.05)
    exact = np.clip(unclipped, 0, 1)
    np.testing.assert_allclose((out / maxv)[in_gamut], exact[in_gamut], atol=1.01 / 255 if dtype == np.uint8 else 2e-3)
    # out-of-gamut pixels keep their hue, with less chroma
    lab_out = srgb_to_lab(out)[~in_gamut]
    ab_in = upsample_ab(smooth_ab, gray.shape)[~in_gamut]
    c_out, c_in = np.hypot(*lab_out[:, 1:].T), np.hypot(*ab_in.T)
    assert np.all(c_out <= c_in + 1.0)
    big = (c_in > 10) & (c_out > 5)
    h_out, h_in = np.arctan2(lab_out[big, 2], lab_out[big, 1]), np.arctan2(ab_in[big, 1], ab_in[big, 0])
    assert np.abs(np.angle(np.exp(1j * (h_out - h_in)))).max() < 0.1


def test_zero_ab_gives_gray_back():
    gray = np.tile(np.arange(256, dtype=np.uint8), (20, 1))
    out = merge_full_resolution(gray, np.zeros((5, 64, 2), np.float32))
    assert np.abs(out.astype(int) - gray[..., None]).max() <= 1
    assert np.abs(out[..., 0].astype(int) - out[..., 2]).max() <= 1


def test_rgb_source_and_float_output(smooth_ab):
    rgb = np.full((50, 60, 3), (120, 140, 90), np.uint8)
    out = merge_full_resolution(rgb, smooth_ab, out_dtype=np.float32)
    assert out.dtype == np.float32 and out.shape == (50, 60, 3)
    np.testing.assert_allclose(srgb_to_lab(out)[..., 0], srgb_to_lab(rgb)[..., 0], atol=0.2)


def test_guided_upsampling_follows_edges():
    # left half dark, right half light; coarse ab is a blur across the edge
    gray = np.zeros((128, 128), np.uint8)
    gray[:, 64:] = 200
    gray[:, :64] = 40
    ab = np.zeros((8, 8, 2), np.float32)
    ab[:, 4:, 0] = 40  # colour only on the right half
    ab_small = cv2.GaussianBlur(ab, (0, 0), 1.0)
    up_cubic = upsample_ab(ab_small, (128, 128), "bicubic")
    L = gray_to_lightness(gray)
    up_guided = upsample_ab(ab_small, (128, 128), "guided", guide_L=L)
    # with the guide the colour steps at the luminance edge instead of ramping across it
    jump_cubic = np.abs(up_cubic[:, 64, 0] - up_cubic[:, 63, 0]).mean()
    jump_guided = np.abs(up_guided[:, 64, 0] - up_guided[:, 63, 0]).mean()
    assert jump_guided > 5 * jump_cubic
    # and less colour leaks into the dark (uncoloured) side
    assert np.abs(up_guided[:, 48:64, 0]).mean() < 0.85 * np.abs(up_cubic[:, 48:64, 0]).mean()
    out = merge_full_resolution(gray, ab_small, method="guided")
    assert out.shape == (128, 128, 3)


def test_naive_and_fast_agree(smooth_ab):
    gray = np.tile(np.linspace(30, 220, 200).astype(np.uint8), (150, 1))
    mild = smooth_ab * 0.4  # inside the gamut: clipping (naive) and gamut mapping (ours) do not differ
    a = naive_merge(gray, mild)
    b = merge_full_resolution(gray, mild)
    # the naive path's own Lab conversion is less exact; they still agree within a few levels
    assert np.abs(a.astype(int) - b).max() <= 8


def test_bad_method():
    with pytest.raises(ValueError):
        upsample_ab(np.zeros((2, 2, 2), np.float32), (4, 4), "lanczos9")


def test_preview_merger_matches_exact_path():
    from polychrome.core.merge import PreviewMerger

    rng = np.random.default_rng(3)
    gray = np.clip(cv2.resize(rng.random((20, 30)).astype(np.float32), (300, 200)) * 230 + 15, 0, 255).astype(np.uint8)
    ab = (rng.standard_normal((8, 12, 2)) * 12).astype(np.float32)
    L = gray_to_lightness(gray)
    pm = PreviewMerger(L)
    fast = pm.render(ab)
    exact = merge_full_resolution(gray, ab, method="bilinear")  # the export path, gamut mapping included
    err = np.abs(fast.astype(int) - exact).max(-1)
    assert err.mean() < 1.0 and np.percentile(err, 98) <= 2
    # strongly saturated: the preview maps into the gamut like the export, not like a per-channel clip
    vivid = merge_full_resolution(gray, ab * 3, method="bilinear")
    clipped = merge_full_resolution(gray, ab * 3, method="bilinear", gamut_map=False)
    err3 = np.abs(pm.render(ab * 3).astype(int) - vivid).max(-1)
    mapped = np.abs(clipped.astype(int) - vivid).max(-1)
    changed = mapped > 4  # where gamut mapping and clipping disagree visibly
    assert changed.mean() > 0.05 and err3[changed].mean() < 0.2 * mapped[changed].mean(), (
        err3[changed].mean(), mapped[changed].mean())
    # pure black and pure white stay neutral whatever the predicted colour
    L2 = L.copy()
    L2[:, :10] = 0.0
    L2[:, -10:] = 100.0
    ends = PreviewMerger(L2).render(ab * 3)
    assert ends[:, :10].max() <= 2 and ends[:, -10:].min() >= 253
    assert not np.array_equal(pm.render(ab * 0.2), fast)  # new ab, new colours


def _table_entry(table, k, a, b):
    """The preview table's colour for gray level k at whole-unit (a*, b*): the documented layout."""
    from polychrome.core import merge

    return table[(a - merge._PREVIEW_A[0]) * 16 + k // 16, (b - merge._PREVIEW_B[0]) * 16 + k % 16]


def test_preview_table_holds_the_exports_colours():
    """Every node of the live preview's table is what the export writes for that gray level and ab, gamut mapping
    included (sampled: 20,000 of its 10 million nodes)."""
    from polychrome.core import merge
    from polychrome.core.color import _lightness_lut

    table = merge.preview_table()
    assert table.shape == (189 * 16, 207 * 16, 3) and table.dtype == np.uint8
    rng = np.random.default_rng(5)
    n = 20000
    k = rng.integers(0, 256, n)
    a = rng.integers(merge._PREVIEW_A[0], merge._PREVIEW_A[1] + 1, n)
    b = rng.integers(merge._PREVIEW_B[0], merge._PREVIEW_B[1] + 1, n)
    got = _table_entry(table, k, a, b)
    L = _lightness_lut(np.uint8)[k].reshape(1, n)
    ab = (np.stack([a, b], -1) * 64).astype(np.int16).reshape(1, n, 2)
    want = merge.merge_lab(L, ab, np.uint8)[0]
    err = np.abs(got.astype(int) - want).max(-1)
    assert (err == 0).mean() > 0.999, np.bincount(err)[:8]
    # neutral nodes are the gray ramp itself
    ramp = _table_entry(table, np.arange(256), 0, 0)
    np.testing.assert_array_equal(ramp, np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, 1))


def test_preview_rounds_lightness_and_ab_to_the_nearest_node():
    from polychrome.core import merge
    from polychrome.core.color import _lightness_lut
    from polychrome.core.merge import PreviewMerger

    table = merge.preview_table()
    levels = _lightness_lut(np.uint8)
    L = np.empty((4, 6), np.float32)
    L[:2] = levels[128]
    L[2:] = levels[40] * 0.3 + levels[41] * 0.7  # nearer to level 41
    pm = PreviewMerger(L)
    for (a, b), (na, nb) in (((10.4, -20.6), (10, -21)), ((10.6, -20.4), (11, -20)), ((-30.2, 44.8), (-30, 45))):
        out = pm.render(np.full((2, 3, 2), (a, b), np.float32))
        np.testing.assert_array_equal(out[0, 0], _table_entry(table, 128, na, nb))
        np.testing.assert_array_equal(out[3, 5], _table_entry(table, 41, na, nb))
    # beyond the gamut's box: clamped to the box, still a real in-gamut colour; NaN reads as neutral
    far = pm.render(np.full((1, 1, 2), (300.0, -500.0), np.float32))
    np.testing.assert_array_equal(far[0, 0], _table_entry(table, 128, merge._PREVIEW_A[1], merge._PREVIEW_B[0]))
    gray = pm.render(np.full((1, 1, 2), np.nan, np.float32))
    np.testing.assert_array_equal(gray[0, 0], (128, 128, 128))


def test_preview_of_a_panorama_wider_than_cv2_remap_allows():
    from polychrome.core.merge import PreviewMerger, merge_lab, upsample_ab_fixed

    L = np.tile(np.linspace(5, 95, 33000, dtype=np.float32), (3, 1))
    ab = np.dstack([np.full((2, 8), 20.0), np.linspace(-40, 40, 16).reshape(2, 8)]).astype(np.float32)
    out = PreviewMerger(L).render(ab)
    exact = merge_lab(L, upsample_ab_fixed(ab, L.shape, "bilinear"), np.uint8)
    assert out.shape == (3, 33000, 3) and np.abs(out.astype(int) - exact).max() <= 3


def test_overlapping_merges_restore_opencvs_thread_count():
    """An export beside an exact preview: each merge switches OpenCV to one thread for its strips. A merge that
    starts while another runs and ends after it must not leave OpenCV on one thread."""
    import threading
    import time

    before = cv2.getNumThreads()
    cv2.setNumThreads(2)
    rng = np.random.default_rng(1)
    ab = (rng.standard_normal((20, 16, 2)) * 20).astype(np.float32)
    small = (rng.random((400, 300)) * 255).astype(np.uint8)
    large = (rng.random((2400, 1800)) * 255).astype(np.uint8)
    first = threading.Thread(target=merge_full_resolution, args=(small, ab), kwargs={"threads": 2})
    second = threading.Thread(target=merge_full_resolution, args=(large, ab), kwargs={"threads": 2})
    first.start()
    t0 = time.monotonic()
    while cv2.getNumThreads() != 1 and first.is_alive() and time.monotonic() - t0 < 5:
        pass  # until the first merge is in its strips
    second.start()  # starts inside the first, ends after it
    first.join()
    second.join()
    try:
        assert cv2.getNumThreads() == 2
    finally:
        cv2.setNumThreads(before)
