"""core.tiles: full-resolution tiles equal the same crop of the export's merge, made for the region only."""

import numpy as np
import pytest

from polychrome.core import tiles
from polychrome.core.merge import lightness, merge_full_resolution, upsample_ab_fixed
from polychrome.core.progress import CancelToken, Progress
from polychrome.runtime.jobs import run_to_end


def smooth_ab(h, w, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    a = 25 * np.sin(xx / 3.0 + rng.uniform(0, 6)) + rng.normal(0, 4, (h, w))
    b = 30 * np.cos(yy / 4.0 + rng.uniform(0, 6)) + rng.normal(0, 4, (h, w))
    return np.stack([a, b], -1).astype(np.float32)


@pytest.mark.parametrize("h,w,H,W", [(32, 48, 1000, 1500), (21, 17, 333, 251), (16, 16, 16, 16), (12, 20, 95, 161)])
def test_region_upsampling_equals_the_crop_of_the_whole_upsampling(h, w, H, W):
    ab = smooth_ab(h, w)
    full = upsample_ab_fixed(ab, (H, W)).astype(np.int32)
    for rect in [(0, 0, min(H, 64), min(W, 80)), (H // 3, W // 2, H, W), (H - 7, 0, H, W), (0, W - 1, H, W)]:
        y0, x0, y1, x1 = rect
        got = tiles.upsample_ab_region(ab, (H, W), rect).astype(np.int32)
        assert got.shape == (y1 - y0, x1 - x0, 2)
        assert np.abs(got - full[y0:y1, x0:x1]).max() <= 1  # ≤ 1/64 ab unit: float rounding only


def test_tiles_equal_the_export_merge_and_cover_the_image(tmp_path):
    rng = np.random.default_rng(1)
    H, W = 700, 1100
    gray = (np.add.outer(np.arange(H), np.arange(W)) % 256).astype(np.uint8)
    gray = np.clip(gray.astype(int) + rng.integers(-30, 30, (H, W)), 0, 255).astype(np.uint8)  # fine detail
    ab = smooth_ab(44, 69, seed=2)
    export = merge_full_resolution(gray, ab, np.uint8)
    L = lightness(gray)
    keys = tiles.tiles_covering((H, W), (0, 0, H, W), tile=256)
    assert len(keys) == 3 * 5
    requests = tiles.requests_for("result", keys, T=0.5)
    shown = np.zeros((H, W, 3), np.uint8)
    got = []
    n = run_to_end(tiles.render_tiles(Progress(), CancelToken(), L, gray, ab, requests, 256), got.append)
    assert n == len(keys) == len(got)
    for res in got:
        y0, x0, y1, x1 = res.rect
        shown[y0:y1, x0:x1] = res.rgb
    diff = np.abs(shown.astype(int) - export.astype(int))
    # equal up to rounding; a few pixels at the gamut's edge may flip between clipping and chroma mapping
    assert (diff <= 1).mean() > 0.999 and (diff > 8).mean() < 1e-4
    # and a magnified preview is not that: the detail is the scan's own
    small = merge_full_resolution(gray[::4, ::4], ab, np.uint8)
    blown = np.repeat(np.repeat(small, 4, 0), 4, 1)[:H, :W]
    assert np.abs(blown.astype(int) - export.astype(int)).mean() > 5


def test_gray_and_source_tiles_and_the_order_from_the_middle():
    pixels = np.arange(300 * 500 * 3, dtype=np.uint32).reshape(300, 500, 3).astype(np.uint16) * 7
    L = lightness(pixels)
    rect = tiles.tile_rect((300, 500), 1, 1, tile=128)
    assert rect == (128, 128, 256, 256)
    src = tiles.source_region(pixels, rect)
    np.testing.assert_array_equal(src, ((pixels[128:256, 128:256].astype(np.uint32) + 128) // 257).astype(np.uint8))
    g = tiles.gray_region(L, rect)
    assert np.abs(g[..., 0].astype(int) - g[..., 2]).max() <= 1
    order = tiles.tiles_covering((300, 500), (100, 200, 200, 300), tile=64)
    assert order[0] == (2, 3)  # the tile under the region's centre comes first
    assert set(order) == {(ty, tx) for ty in range(1, 4) for tx in range(3, 5)}
    assert tiles.tiles_covering((300, 500), (400, 0, 500, 10)) == []
    with pytest.raises(ValueError):
        tiles.tile_rect((300, 500), 5, 0, tile=128)
