"""Colour hints: the runtime feeds them to hint-taking models, the network uses them, training simulates them.

A fixture ONNX model (tests/onnx_models.hint_model) moves exactly the cells a hint covers to the hint's colour,
so the runtime path can be checked in closed form; a thin trainable network checks that hints reach the
network's output through export and ONNX Runtime.
"""


import numpy as np
import pytest

from onnx_models import conv_model, hint_model
from polychrome.core.errors import ModelError
from polychrome.core.hints import ColorHint, hints_from_truth, rasterize_hints, sample_hints
from polychrome.runtime.colorizer import Colorizer
from polychrome.runtime.session import ModelSession, read_manifest


def test_rasterize_hints_maps_full_resolution_points_onto_the_input_grid():
    hints = [ColorHint(y=10, x=390, a=40, b=-20, size=3), ColorHint(y=199, x=0, a=-5, b=60, size=1)]
    ab, mask = rasterize_hints(hints, (200, 400), (32, 64))
    assert ab.shape == (2, 32, 64) and mask.shape == (1, 32, 64)
    assert mask.sum() == 9 + 1
    ys, xs = np.nonzero(mask[0])
    assert set(zip(ys.tolist(), xs.tolist())) >= {(31, 0)}  # the bottom-left pixel's cell
    top = mask[0, :4, 58:].nonzero()  # the first hint lands in the top-right corner
    assert len(top[0]) == 9 and np.all(ab[0][mask[0] == 1][:9] == 40)
    assert np.all(ab[:, mask[0] == 0] == 0)
    with pytest.raises(ValueError, match="outside"):
        rasterize_hints([ColorHint(200, 5, 0, 0)], (200, 400), (32, 64))


def test_sampled_training_hints_hold_the_truths_patch_means():
    rng = np.random.default_rng(0)
    ab = np.zeros((40, 40, 2), np.float32)
    ab[:, 20:] = (50.0, -30.0)  # two flat halves: every hint patch is one of the two colours or a mix
    counts = []
    for seed in range(200):
        hint_ab, mask = sample_hints(ab, np.random.default_rng(seed), p_none=0.5, mean_points=8, max_patch=5)
        counts.append(mask.any())
        inside = mask > 0
        assert np.all(hint_ab[~inside] == 0)
        a, b = hint_ab[inside][:, 0], hint_ab[inside][:, 1]
        assert np.allclose(b, a * (-30.0 / 50.0), atol=1e-4)  # on the segment between the two colours
    assert 0.35 < np.mean(counts) < 0.65  # about half the samples have no hint
    picked = hints_from_truth(ab, 10, rng, patch=3, image_shape=(400, 400))
    assert len(picked) == 10 and all(0 <= h.y < 400 and 0 <= h.x < 400 for h in picked)
    for h in picked:  # a hint in the right half carries the right half's colour, and vice versa
        if h.x > 230:
            assert (h.a, h.b) == pytest.approx((50.0, -30.0))
        elif h.x < 170:
            assert (h.a, h.b) == pytest.approx((0.0, 0.0))


def test_hints_reach_a_hint_taking_model_and_move_only_their_cells(tmp_path, bins):
    path = hint_model(tmp_path / "hint.onnx", bins)
    assert read_manifest(path).hints
    col = Colorizer(path, input_size=64)
    assert col.takes_hints
    gray = np.full((64, 64), 118, np.uint8)  # L* ≈ 50: the model's own colour is neutral there
    plain = col.predict(gray).ab(0.05)
    assert np.abs(plain).max() < 6.0
    hint = ColorHint(y=10, x=10, a=0.0, b=60.0, size=4)  # covers exactly the input cell (2, 2)
    steered = col.predict(gray, hints=[hint]).ab(0.05)
    assert steered[2, 2, 1] == pytest.approx(60.0, abs=6.0)  # the hinted cell takes the hint's colour
    changed = np.argwhere(np.abs(steered - plain).max(-1) > 1.0)
    assert changed.tolist() == [[2, 2]]  # and nothing else moved
    assert col.run_count == 2


def test_models_without_hint_inputs_work_unchanged_and_refuse_hints(tmp_path, bins):
    col = Colorizer(conv_model(tmp_path / "plain.onnx", bins))
    assert not col.takes_hints
    gray = np.tile(np.linspace(0, 255, 48).astype(np.uint8), (32, 1))
    a = col.predict(gray).ab(0.38)
    assert a.shape == (11, 16, 2)  # input size 64: 43×64, stride 4
    with pytest.raises(ModelError, match="does not take colour hints"):
        col.predict(gray, hints=[ColorHint(5, 5, 10, 10)])


def test_hint_inputs_must_agree_with_the_metadata(tmp_path, bins):
    path = hint_model(tmp_path / "undeclared.onnx", bins, declare=False)
    with pytest.raises(ModelError, match="does not declare colour hints"):
        read_manifest(path)


def test_session_feeds_zero_hints_by_default(tmp_path, bins):
    s = ModelSession(hint_model(tmp_path / "hint.onnx", bins), "cpu")
    x = np.zeros((1, 1, 16, 16), np.float32)
    feeds = s.feeds(x)
    assert set(feeds) == {"L", "hint_ab", "hint_mask"}
    assert not feeds["hint_ab"].any() and not feeds["hint_mask"].any()
    with pytest.raises(ModelError, match="hint maps must be"):
        s.feeds(x, np.zeros((1, 2, 8, 8), np.float32), np.zeros((1, 1, 8, 8), np.float32))


# ---------------------------------------------------------------------------------------------------------------
# the trainable network (needs torch)
# ---------------------------------------------------------------------------------------------------------------


def _thin_net(**kw):
    torch = pytest.importorskip("torch")
    from polychrome.training.network import ColorizationNet

    torch.manual_seed(0)
    return ColorizationNet(Q=kw.pop("Q", 30), pretrained=False, width_mult=0.25, **kw)


def test_new_branches_start_at_zero_and_upgrading_keeps_the_output():
    torch = pytest.importorskip("torch")
    from polychrome.training.network import upgrade_model

    old = _thin_net().eval()
    new = upgrade_model(old, hints=True, global_context=True).eval()
    assert new.arch["hints"] and new.arch["global_context"]
    x = torch.rand(2, 1, 40, 56) * 2 - 1
    hint_ab = torch.zeros(2, 2, 40, 56)
    hint_ab[:, 1, 10:14, 10:14] = 60.0
    mask = (hint_ab.abs().sum(1, keepdim=True) > 0).float()
    with torch.no_grad():
        ref = old(x)
        assert torch.equal(new(x), ref)  # untrained branches change nothing
        assert torch.equal(new(x, hint_ab, mask), ref)
    with pytest.raises(ModelError):
        upgrade_model(new, hints=False, global_context=True)


def test_hints_reach_the_output_through_export(tmp_path):
    torch = pytest.importorskip("torch")
    from polychrome.core.bins import in_gamut_bins
    from polychrome.training.export import export_onnx, load_base_model

    bins = in_gamut_bins()
    net = _thin_net(Q=bins.Q, hints=True, global_context=True).eval()
    with torch.no_grad():  # a trained model's branches are not zero: give them weights
        for p in list(net.hint_fusion.parameters()) + [net.hint_stem.weight]:
            p.copy_(torch.randn_like(p) * 0.3)
        for p in net.global_context.fuse.parameters():
            p.copy_(torch.randn_like(p) * 0.05)
    path = export_onnx(net, {"bins": bins, "name": "hinty"}, tmp_path / "hinty.onnx", size=32)
    m = read_manifest(path)
    assert m.hints and load_base_model(path).model.arch["hints"]

    col = Colorizer(path)
    rng = np.random.default_rng(3)
    gray = rng.integers(0, 255, (48, 64)).astype(np.uint8)
    plain = col.predict(gray)
    steered = col.predict(gray, hints=[ColorHint(20, 30, -40.0, 50.0, size=3)])
    diff = np.abs(steered.decoder.z - plain.decoder.z).max(-1)
    assert diff.max() > 1e-2  # the hint reaches the logits ...
    cy, cx = plain.cell_of(20, 30)
    assert diff[cy, cx] == diff.max() or diff[cy, cx] > 0.5 * diff.max()  # ... most strongly where it was given
    again = col.predict(gray)
    assert np.array_equal(again.decoder.z, plain.decoder.z)  # no hints = zero maps, deterministic


def test_training_with_simulated_hints_teaches_the_hint_branches(tmp_path):
    torch = pytest.importorskip("torch")
    from polychrome.core.progress import Progress
    from polychrome.training.loop import Trainer
    from test_training import _config, _photo, _write_png

    photos = tmp_path / "photos"
    rng = np.random.default_rng(5)
    for i in range(12):
        _write_png(photos / f"p{i:02d}.png", _photo(rng, 64))
    cfg = _config(photos, tmp_path, hints=True, global_context=True, crop="inference", input_size=64,
                  hint_p_none=0.3, max_steps=4)
    tr = Trainer(cfg, Progress())
    tr.prepare()
    assert tr.model.hints and tr.train_ds.hints is not None and tr.val_ds.hints is None
    item = tr.train_ds[0]
    assert len(item) == 4 and item[3].shape == (3, 32, 32)
    before = tr.model.hint_fusion.out.weight.detach().clone()
    tr.fit()
    assert not torch.equal(tr.model.hint_fusion.out.weight.detach(), before)  # it learnt from hints
    assert tr.model.hint_stem.weight.abs().sum() > 0
    assert tr.summary()["hints"] and tr.summary()["global_context"]
