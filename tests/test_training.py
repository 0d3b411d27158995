"""Training core (PyTorch, CPU): encoder weights, soft-encoding, data, loop, checkpoints, cancel, export.

Everything runs on tiny generated photos (48×48 PNGs, 32 px crops) and a thin network, so the whole file takes
well under a minute or two on two CPU cores.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import cv2  # noqa: E402

from polychrome.core.bins import in_gamut_bins  # noqa: E402
from polychrome.core.encoding import soft_encode  # noqa: E402
from polychrome.core.errors import ModelError  # noqa: E402
from polychrome.core.progress import Cancelled, CancelToken, Progress  # noqa: E402

torch.set_num_threads(2)

APP = Path(__file__).resolve().parent.parent / "app"


# ---------------------------------------------------------------------------------------------------------------
# fixtures
# ---------------------------------------------------------------------------------------------------------------


def _photo(rng: np.random.Generator, size: int = 48) -> np.ndarray:
    """A colourful RGB uint8 image whose colours can be learnt from lightness and shape.

    Background: a gradient from dark blue to light yellow along a random direction (hue follows lightness);
    foreground: red discs and green squares, all colours slightly jittered.
    """
    dark, light = np.array([25, 40, 130]), np.array([240, 225, 110])
    ang = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:size, 0:size] / (size - 1) - 0.5
    t = np.clip((xx * np.cos(ang) + yy * np.sin(ang)) * 1.2 + 0.5, 0, 1)[..., None]
    img = dark * (1 - t) + light * t + rng.normal(0, 4, 3)
    img = np.ascontiguousarray(np.clip(img, 0, 255).astype(np.uint8))
    for _ in range(int(rng.integers(1, 4))):
        jitter = rng.integers(-12, 13, 3)
        if rng.random() < 0.5:
            col = tuple(int(v) for v in np.clip(np.array([205, 35, 35]) + jitter, 0, 255))
            cx, cy = (int(v) for v in rng.integers(8, size - 8, 2))
            cv2.circle(img, (cx, cy), int(rng.integers(4, 11)), col, -1)
        else:
            col = tuple(int(v) for v in np.clip(np.array([45, 175, 60]) + jitter, 0, 255))
            x0, y0 = (int(v) for v in rng.integers(0, size - 14, 2))
            w = int(rng.integers(7, 14))
            cv2.rectangle(img, (x0, y0), (x0 + w, y0 + w), col, -1)
    return img


def _write_png(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.ascontiguousarray(rgb[..., ::-1]))


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(42)
    for i in range(24):
        _write_png(d / ("a" if i % 2 else "b") / f"img{i:02d}.png", _photo(rng))
    return d


def _config(photos: Path, tmp: Path, **over):
    from polychrome.training.loop import TrainConfig

    kw = dict(
        data=[str(photos)],
        name="tiny",
        out_dir=str(tmp / "out"),
        checkpoint_dir=str(tmp / "ckpt"),
        size=32,
        epochs=20,
        batch_size=4,
        lr=3e-3,
        pretrained=False,
        width_mult=0.25,
        val_fraction=0.2,
        min_side=16,
        prior_images=50,
        val_metric_images=2,
        val_samples=2,
        warmup_steps=2,
        max_steps=8,
        checkpoint_every_steps=0,
        recalibrate_bn_images=0,
        export=False,
        seed=3,
    )
    kw.update(over)
    (tmp / "out").mkdir(parents=True, exist_ok=True)
    return TrainConfig(**kw)


# ---------------------------------------------------------------------------------------------------------------
# network
# ---------------------------------------------------------------------------------------------------------------


def test_pretrained_encoder_uses_every_key():
    from polychrome.training.network import EfficientNetLite0Encoder, pretrained_weights_path

    sd = torch.load(str(pretrained_weights_path()), map_location="cpu", weights_only=True)
    full = EfficientNetLite0Encoder(classifier=True)
    full.load_pretrained()
    own = full.state_dict()
    assert set(own) == set(sd)  # same layout, key for key
    assert all(torch.equal(own[k], sd[k]) for k in sd)
    assert full.pretrained_keys_used == len(sd)

    enc = EfficientNetLite0Encoder()  # without the ImageNet head (checked, then dropped)
    enc.load_pretrained()
    assert all(torch.equal(v, sd[k]) for k, v in enc.state_dict().items())
    feats = enc.eval()(torch.zeros(1, 3, 64, 96))
    assert [f.shape[-2:] for f in feats] == [(32, 48), (16, 24), (8, 12), (4, 6), (2, 3)]


def test_corrupted_state_dict_is_refused():
    from polychrome.training.network import EfficientNetLite0Encoder, pretrained_weights_path

    sd = torch.load(str(pretrained_weights_path()), map_location="cpu", weights_only=True)
    enc = EfficientNetLite0Encoder()
    missing = dict(sd)
    del missing["_blocks.7._bn1.running_var"]
    with pytest.raises(ModelError, match=r"missing keys.*_blocks\.7\._bn1\.running_var"):
        enc.load_pretrained(state_dict=missing)
    extra = dict(sd)
    extra["_blocks.99._bn1.weight"] = torch.zeros(3)
    with pytest.raises(ModelError, match="unexpected keys"):
        enc.load_pretrained(state_dict=extra)
    wrong = dict(sd)
    wrong["_conv_stem.weight"] = torch.zeros(32, 1, 3, 3)
    with pytest.raises(ModelError, match="shape mismatch"):
        enc.load_pretrained(state_dict=wrong)


@pytest.mark.data
@pytest.mark.slow
def test_pretrained_encoder_recognises_imagenet_samples(shared_data):
    """Sanity of the implementation (padding, normalisation): ImageNet photos get plausible classes."""
    from polychrome.training.network import RGB_MEAN, RGB_STD, EfficientNetLite0Encoder

    files = sorted((shared_data / "train" / "imagenet_sample").glob("*.jpg"))
    if len(files) < 900:
        pytest.skip("ImageNet sample not complete")
    picks = list(range(5, len(files), len(files) // 12))[:12]
    enc = EfficientNetLite0Encoder(classifier=True)
    enc.load_pretrained()
    enc.eval()
    batch = []
    for i in picks:
        im = cv2.cvtColor(cv2.imread(str(files[i])), cv2.COLOR_BGR2RGB)
        h, w = im.shape[:2]
        s = 224 / min(h, w)
        im = cv2.resize(im, (max(224, round(w * s)), max(224, round(h * s))), interpolation=cv2.INTER_AREA)
        y, x = (im.shape[0] - 224) // 2, (im.shape[1] - 224) // 2
        batch.append(im[y : y + 224, x : x + 224].astype(np.float32) / 255)
    x = torch.from_numpy(np.stack(batch)).permute(0, 3, 1, 2)
    x = (x - torch.tensor(RGB_MEAN).view(1, 3, 1, 1)) / torch.tensor(RGB_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        pred = enc.classify(x).argmax(1).numpy()
    # files are one per class in synset order with 40 classes absent: class index ∈ [rank, rank + 40]
    hits = sum(r <= p <= r + 40 for r, p in zip(picks, pred))
    assert hits >= 8, (picks, pred.tolist())


def test_network_shapes_input_mapping_and_freeze():
    from polychrome.core.color import lightness_to_gray
    from polychrome.training.network import ColorizationNet

    net = ColorizationNet(Q=30, pretrained=False, width_mult=0.25).eval()
    with torch.no_grad():
        assert net(torch.zeros(2, 1, 64, 64)).shape == (2, 30, 16, 16)
        assert net(torch.zeros(1, 1, 44, 36)).shape == (1, 30, 11, 9)  # not multiples of 32: padded inside
    net2 = ColorizationNet(Q=30, pretrained=False, width_mult=0.25, stride=2).eval()
    reg = ColorizationNet(Q=30, pretrained=False, width_mult=0.25, head="regression").eval()
    with torch.no_grad():
        assert net2(torch.zeros(1, 1, 40, 48)).shape == (1, 30, 20, 24)
        assert reg(torch.zeros(1, 1, 32, 32)).shape == (1, 2, 8, 8)

    L = np.linspace(0, 100, 101, dtype=np.float32)
    got = ColorizationNet.lightness_to_gray(torch.from_numpy((L - 50) / 50)).numpy()
    np.testing.assert_allclose(got, lightness_to_gray(L), atol=1e-5)

    net.train()
    net.freeze_encoder()
    assert not any(p.requires_grad for p in net.encoder.parameters())
    assert all(p.requires_grad for p in net.decoder_parameters())
    net.train()
    assert not net.encoder.training and net.up4.training
    assert all(not m.training for m in net.encoder.modules())
    assert ColorizationNet(Q=262, pretrained=False).num_parameters() < 5_000_000


# ---------------------------------------------------------------------------------------------------------------
# losses
# ---------------------------------------------------------------------------------------------------------------


def test_torch_soft_encoding_equals_core(bins):
    from polychrome.training.loss import soft_encode_torch

    rng = np.random.default_rng(0)
    ab = rng.uniform(-110, 110, (3000, 2)).astype(np.float32)
    ab[:5] = [[0, 0], [5, 5], [-37.2, 81.9], [100, -100], [12.5, -3.3]]
    idx_np, w_np = soft_encode(ab, bins)
    idx_t, w_t = soft_encode_torch(torch.from_numpy(ab), torch.from_numpy(bins.centers))
    idx_t, w_t = idx_t.numpy(), w_t.numpy()
    # Compare dense distributions; skip only exact-tie pixels (5th and 6th nearest bin equally far, where
    # either choice is right), decided in float64.
    d = np.sqrt(((ab[:, None, :].astype(np.float64) - bins.centers[None].astype(np.float64)) ** 2).sum(-1))
    ds = np.sort(d, axis=1)
    clear = (ds[:, 5] - ds[:, 4]) > 1e-3
    assert clear.mean() > 0.95
    dense_np = np.zeros((len(ab), bins.Q), np.float32)
    dense_t = np.zeros_like(dense_np)
    np.put_along_axis(dense_np, idx_np, w_np, axis=1)
    np.put_along_axis(dense_t, idx_t, w_t, axis=1)
    np.testing.assert_allclose(dense_t[clear], dense_np[clear], atol=1e-5)
    np.testing.assert_array_equal(np.sort(idx_t[clear], 1), np.sort(idx_np[clear], 1))
    # nearest first: the argmax of the soft target is the nearest bin
    np.testing.assert_array_equal(idx_t[clear, 0], bins.nearest(ab[clear]))


def test_rebalanced_cross_entropy(bins):
    from polychrome.core.encoding import soft_encode_dense
    from polychrome.core.prior import rebalance_weights
    from polychrome.training.loss import RebalancedCrossEntropy, RegressionLoss, downsample_ab

    rng = np.random.default_rng(1)
    ab = torch.from_numpy(rng.uniform(-60, 60, (2, 2, 16, 16)).astype(np.float32))
    logits = torch.from_numpy(rng.standard_normal((2, bins.Q, 4, 4)).astype(np.float32))
    small = downsample_ab(ab, (4, 4))
    np.testing.assert_allclose(small[0, 0, 0, 0].item(), ab[0, 0, :4, :4].mean().item(), rtol=1e-5)

    prior = rng.random(bins.Q) + 0.01
    prior /= prior.sum()
    loss = RebalancedCrossEntropy(bins, prior, lam=0.5)(logits, ab).item()
    # reference in numpy: dense soft targets, weights of the most likely target bin
    t = soft_encode_dense(small.permute(0, 2, 3, 1).numpy(), bins)
    logp = torch.log_softmax(logits, 1).permute(0, 2, 3, 1).numpy()
    w = rebalance_weights(prior, 0.5)[t.argmax(-1)]
    ref = float((w * -(t * logp).sum(-1)).mean())
    assert loss == pytest.approx(ref, rel=1e-4)
    # λ = 1 (no rebalancing) and no prior give the plain soft cross-entropy
    plain = RebalancedCrossEntropy(bins, None)(logits, ab).item()
    assert plain == pytest.approx(float((-(t * logp).sum(-1)).mean()), rel=1e-4)

    pred = torch.zeros(2, 2, 4, 4)
    assert RegressionLoss("l2")(pred, ab).item() == pytest.approx(float((small / 110).pow(2).mean()), rel=1e-5)
    l1 = float((small / 110).abs().mean())
    assert RegressionLoss("mse_l1")(pred, ab).item() == pytest.approx(float((small / 110).pow(2).mean()) + l1, rel=1e-5)


# ---------------------------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------------------------


def test_scan_counts_near_gray_too_small_and_unreadable(tmp_path):
    from polychrome.training.data import scan_folders

    rng = np.random.default_rng(5)
    for i in range(3):
        _write_png(tmp_path / "ok" / f"c{i}.png", _photo(rng, 40))
    gray = np.repeat(np.linspace(0, 255, 40, dtype=np.uint8)[None, :, None], 40, axis=0).repeat(3, axis=2)
    _write_png(tmp_path / "gray.png", np.ascontiguousarray(gray))  # exactly gray (read as a gray image)
    tint = np.ascontiguousarray(gray.astype(np.int16))
    tint[..., 0] += 2  # a faint colour cast: mean chroma below the threshold
    _write_png(tmp_path / "sub" / "faint.png", np.clip(tint, 0, 255).astype(np.uint8))
    _write_png(tmp_path / "sub" / "tiny.png", _photo(rng, 40)[:10, :12])
    (tmp_path / "sub" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (tmp_path / "sub" / "empty.png").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not an image")

    events = []
    rep = scan_folders([tmp_path], min_side=16, progress=Progress(events.append))
    assert rep.counts == {"usable": 3, "near_gray": 2, "too_small": 1, "unreadable": 2, "skipped": 1}
    assert {Path(p).name for p, _ in rep.unreadable} == {"broken.jpg", "empty.png"}
    assert all(reason for _, reason in rep.unreadable + rep.too_small)
    assert {r.rel for r in rep.usable} == {"ok/c0.png", "ok/c1.png", "ok/c2.png"}
    assert len(events) == 8 and all(e.data.get("phase") == "scan" for e in events)
    assert "3 usable" in rep.summary()


def test_split_is_deterministic_and_stable():
    from polychrome.training.data import ImageRecord, split_records

    recs = [ImageRecord(f"/x/{i}.png", f"d{i % 3}/{i}.png") for i in range(200)]
    tr, va = split_records(recs, 0.1)
    tr2, va2 = split_records(list(reversed(recs)), 0.1)
    assert [r.rel for r in va] == [r.rel for r in va2] and [r.rel for r in tr] == [r.rel for r in tr2]
    assert 8 <= len(va) <= 35 and len(tr) + len(va) == 200
    more = recs + [ImageRecord(f"/x/new{i}.png", f"new/{i}.png") for i in range(50)]
    _, va3 = split_records(more, 0.1)
    assert {r.rel for r in va} <= {r.rel for r in va3}  # adding photos never moves old ones
    assert split_records(recs[:3], 0.01)[1]  # at least one validation photo


def test_degradations_change_only_the_input(photos):
    from polychrome.training.data import ColorizationDataset, DegradeConfig

    paths = sorted(str(p) for p in photos.rglob("*.png"))[:4]
    clean = ColorizationDataset(paths, size=32, train=True, seed=1, degrade=DegradeConfig.none())
    damaged = ColorizationDataset(paths, size=32, train=True, seed=1, degrade=DegradeConfig.always())
    for ds in (clean, damaged):
        ds.set_epoch(2)
    for i in range(len(paths)):
        Lc, abc, Lc_clean, hc = clean[i]
        Ld, abd, Ld_clean, hd = damaged[i]
        assert hc.shape == (3, 32, 32) and not hc.any() and not hd.any()  # no hints unless asked for
        assert Lc.shape == (1, 32, 32) and abc.shape == (2, 32, 32)
        assert torch.equal(abc, abd) and torch.equal(Lc_clean, Ld_clean)  # target and clean L untouched
        assert torch.equal(Lc, Lc_clean)
        assert (Ld - Ld_clean).abs().mean() > 0.01  # the input L is damaged
        assert Ld.min() >= -1.0 and Ld.max() <= 1.0
    again = ColorizationDataset(paths, size=32, train=True, seed=1, degrade=DegradeConfig.always())
    again.set_epoch(2)
    assert torch.equal(again[1][0], damaged[1][0])  # reproducible per (seed, epoch, index)
    again.set_epoch(3)
    assert not torch.equal(again[1][0], damaged[1][0])  # new epoch, new crop / damage


def test_validation_items_are_deterministic(photos):
    from polychrome.training.data import ColorizationDataset

    paths = sorted(str(p) for p in photos.rglob("*.png"))[:3]
    val = ColorizationDataset(paths, size=32, train=False, seed=0, target_stride=4)
    a = val[0]
    val.set_epoch(5)
    b = ColorizationDataset(paths, size=32, train=False, seed=9, target_stride=4)[0]
    for x, y, z in zip(a, val[0], b):
        assert torch.equal(x, y) and torch.equal(x, z)
    assert a[1].shape == (2, 8, 8)
    assert torch.equal(a[0], a[2])  # no damage on validation input


# ---------------------------------------------------------------------------------------------------------------
# training loop
# ---------------------------------------------------------------------------------------------------------------


def test_training_loss_goes_down(photos, tmp_path):
    from polychrome.training.loop import Trainer

    events = []
    cfg = _config(photos, tmp_path, max_steps=48, epochs=20, lr=1e-2, degrade=False, val_every_epochs=4)
    tr = Trainer(cfg, Progress(events.append))
    res = tr.fit()
    losses = np.array(tr.step_losses)
    assert len(losses) == 48 and np.isfinite(losses).all()
    first, last = losses[:6].mean(), losses[-8:].mean()
    assert last < 0.8 * first, (first, last)

    train_ev = [e.data for e in events if e.data.get("phase") == "train"]
    assert [d["step"] for d in train_ev] == list(range(1, 49))
    assert {"epoch", "epochs", "loss", "train_loss", "lr", "total_steps"} <= set(train_ev[0])
    val_ev = [e.data for e in events if e.data.get("phase") == "val"]
    assert val_ev, "validation was reported"
    v = val_ev[-1]
    assert {"psnr", "auc", "colorfulness", "colorfulness_gt"} <= set(v["metrics"])
    assert np.isfinite(v["val_loss"]) and "colorfulness_ratio" in v
    s = v["samples"][0]
    assert s["gray"].dtype == np.uint8 and s["pred"].shape == s["truth"].shape == (32, 32, 3)
    assert res.summary["colorfulness_history"] and res.summary["steps"] == 48
    assert res.output is None  # export=False


def _final_state(tr):
    return {k: v.clone() for k, v in tr.model.state_dict().items()}


def test_resume_continues_exactly(photos, tmp_path):
    from polychrome.training.loop import Trainer

    a = Trainer(_config(photos, tmp_path / "a", max_steps=12))
    a.fit()
    spe = a.steps_per_epoch
    assert 2 <= spe < 7  # 12 steps cross epoch ends (with validation and a new shuffle)

    token = CancelToken()

    def stop_at_7(ev):
        if ev.data.get("phase") == "train" and ev.data["step"] == 7:
            token.cancel()

    b = Trainer(_config(photos, tmp_path / "b", max_steps=12), Progress(stop_at_7, cancel=token))
    with pytest.raises(Cancelled):
        b.fit()
    assert b.step == 7 and b.batch_in_epoch == 7 % spe and b.last_checkpoint.is_file()

    c = Trainer(_config(photos, tmp_path / "b", max_steps=12, num_workers=1))  # workers do not change the data
    c.resume(b.last_checkpoint)
    assert c.step == 12
    assert c.step_losses == a.step_losses  # bit for bit
    sa, sc = _final_state(a), _final_state(c)
    for k in sa:
        assert torch.allclose(sa[k].float(), sc[k].float(), atol=1e-6, rtol=0), k
    # the optimizer state continued too
    ma = a.optimizer.state_dict()["state"]
    mc = c.optimizer.state_dict()["state"]
    assert all(torch.allclose(ma[i]["exp_avg"], mc[i]["exp_avg"], atol=1e-7) for i in ma)
    assert [h["epoch"] for h in c.history] == [h["epoch"] for h in a.history]


def test_cancel_saves_a_checkpoint_and_writes_no_model(photos, tmp_path):
    from polychrome.training.loop import Trainer

    token = CancelToken()
    seen = []

    def cb(ev):
        if ev.data.get("phase") == "train":
            seen.append(ev.data["step"])
            if ev.data["step"] == 3:
                token.cancel()

    cfg = _config(photos, tmp_path, max_steps=12, export=True)
    tr = Trainer(cfg, Progress(cb, cancel=token))
    with pytest.raises(Cancelled):
        tr.fit()
    assert seen == [1, 2, 3]  # stopped right after the step during which it was cancelled
    ck = torch.load(str(tmp_path / "ckpt" / "last.pt"), map_location="cpu", weights_only=True)
    assert ck["step"] == 3 and ck["batch_in_epoch"] == 3
    assert list((tmp_path / "out").iterdir()) == []  # no model, no temp file
    assert not list((tmp_path / "ckpt").glob("*.tmp"))

    # the command line picks the run up again and finishes it (the checkpoint's settings win)
    from polychrome.cli.train import main

    assert main(["train", "--resume", str(tmp_path / "ckpt"), "-q"]) == 0
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["tiny.onnx"]
    ck = torch.load(str(tmp_path / "ckpt" / "last.pt"), map_location="cpu", weights_only=True)
    assert ck["step"] == 12


def test_data_bins_and_prior_from_the_training_photos(photos, tmp_path):
    from polychrome.training.loop import Trainer

    tr = Trainer(_config(photos, tmp_path, bins="data", bins_min_count=3))
    tr.prepare()
    assert tr.bins.name == "data" and 2 < tr.bins.Q < in_gamut_bins().Q
    assert tr.bins.neutral_index >= 0 and np.abs(tr.bins.centers).sum(1).min() == 0
    assert tr.prior.shape == (tr.bins.Q,) and tr.prior.sum() == pytest.approx(1.0)
    assert tr.model.Q == tr.bins.Q
    # the photos are mostly blue-to-yellow: the prior puts more mass on yellow (b > 30) than on magenta
    c = tr.bins.centers
    assert tr.prior[c[:, 1] > 30].sum() > tr.prior[(c[:, 0] > 30) & (c[:, 1] < -30)].sum()


def test_recalibrate_bn_sets_population_statistics():
    from polychrome.training.loop import recalibrate_bn
    from polychrome.training.network import ColorizationNet

    net = ColorizationNet(Q=10, pretrained=False, width_mult=0.25)
    data = [(torch.randn(2, 1, 32, 32) * 0.3 + 0.2,) for _ in range(3)]
    used = recalibrate_bn(net, data, n_batches=2)
    assert used == 2 and not net.training
    bn = net.encoder._bn0
    assert bn.num_batches_tracked.item() == 2 and bn.momentum == 0.1
    # the stem BN now holds the mean of the two batches' statistics
    with torch.no_grad():
        stats = []
        for (x,) in data[:2]:
            y = net.encoder._conv_stem(net.encoder_input(x))
            stats.append(y.mean(dim=(0, 2, 3)))
    torch.testing.assert_close(bn.running_mean, torch.stack(stats).mean(0), atol=1e-5, rtol=1e-4)


# ---------------------------------------------------------------------------------------------------------------
# export and fine-tuning
# ---------------------------------------------------------------------------------------------------------------


def test_export_round_trip_and_fine_tune(photos, tmp_path):
    import onnx
    import onnxruntime as ort

    from polychrome.runtime.colorizer import Colorizer
    from polychrome.runtime.session import read_manifest
    from polychrome.training.export import load_base_model
    from polychrome.training.loop import Trainer

    events = []
    cfg = _config(photos, tmp_path, max_steps=6, export=True, recalibrate_bn_images=8, license="test data")
    res = Trainer(cfg, Progress(events.append)).fit()
    path = res.output
    assert path == tmp_path / "out" / "tiny.onnx" and path.is_file()
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["tiny.onnx"]
    assert any(e.data.get("phase") == "export" for e in events)
    assert any(e.data.get("phase") == "val" and e.data.get("final") for e in events)

    m = read_manifest(path)
    assert (m.name, m.stride, m.l_offset, m.l_scale, m.input_size) == ("tiny", 4, 50.0, 50.0, 32)
    assert m.bins == in_gamut_bins() and m.default_T == pytest.approx(0.38) and m.license == "test data"
    assert m.training["steps"] == 6 and "colorfulness_history" in m.training
    proto = onnx.load(str(path))
    assert proto.opset_import[0].version >= 17
    assert [i.name for i in proto.graph.input] == ["L"] and [o.name for o in proto.graph.output] == ["logits"]

    # the weights come back exactly (the checkpoint holds the final, BN-recalibrated model that was exported)
    base = load_base_model(path)
    sd = base.model.state_dict()
    ck = torch.load(str(res.checkpoint), map_location="cpu", weights_only=True)["model"]
    for k, v in ck.items():
        if not k.endswith("num_batches_tracked"):
            assert torch.equal(sd[k], v), k
    assert base.prior is not None and base.prior.shape == (m.Q,)

    # ONNX Runtime vs torch at a size that is not a multiple of 32
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).uniform(-1, 1, (2, 1, 40, 52)).astype(np.float32)
    with torch.no_grad():
        ref = base.model(torch.from_numpy(x)).numpy()
    out = sess.run(["logits"], {"L": x})[0]
    assert out.shape == (2, m.Q, 10, 13) and np.abs(out - ref).max() < 1e-3

    col = Colorizer(path)
    gray = cv2.cvtColor(_photo(np.random.default_rng(9), 48), cv2.COLOR_RGB2GRAY)
    pred = col.predict(gray)
    rgb = pred.render(0.38)
    assert rgb.shape == (48, 48, 3) and rgb.dtype == np.uint8

    # fine-tune from the exported model: its bins and prior are reused, training continues from its weights
    ft_events = []
    ft = Trainer(_config(photos, tmp_path / "ft", base_model=str(path), max_steps=2, freeze_encoder=True),
                 Progress(ft_events.append))
    ft.prepare()
    assert ft.bins == m.bins and np.allclose(ft.prior, base.prior)
    for k, v in base.model.state_dict().items():
        assert torch.equal(ft.model.state_dict()[k].cpu(), v), k
    ft.fit()
    assert not any(p.grad is not None and p.grad.abs().sum() > 0 for p in ft.model.encoder.parameters())


def test_regression_baseline_exports_as_logits(photos, tmp_path):
    from polychrome.runtime.colorizer import Colorizer
    from polychrome.training.export import export_onnx
    from polychrome.training.loop import Trainer
    from polychrome.training.network import ColorizationNet

    tr = Trainer(_config(photos, tmp_path, loss="mse_l1", max_steps=3, val_every_epochs=1))
    res = tr.fit()
    assert tr.model.head_type == "regression" and np.isfinite(res.history[-1]["val_loss"])

    # a constant ab prediction must decode back to that ab at T = 1
    net = ColorizationNet(Q=in_gamut_bins().Q, pretrained=False, width_mult=0.25, head="regression").eval()
    with torch.no_grad():
        net.head.weight.zero_()
        net.head.bias.copy_(torch.tensor([23.0, -41.0]) / 110.0)
    path = export_onnx(net, {"bins": in_gamut_bins(), "name": "reg"}, tmp_path / "reg.onnx", size=32)
    col = Colorizer(path)
    assert col.default_T == 1.0
    pred = col.predict(np.full((32, 32), 128, np.uint8))
    ab = pred.ab(1.0)
    np.testing.assert_allclose(ab.reshape(-1, 2).mean(0), [23.0, -41.0], atol=0.5)


# ---------------------------------------------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------------------------------------------


def test_cli_parser_module_does_not_import_torch():
    code = (
        "import sys, argparse\n"
        "import polychrome.training, polychrome.cli.train as c\n"
        "p = argparse.ArgumentParser(); s = p.add_subparsers(dest='command'); c.add_parser(s)\n"
        "a = p.parse_args(['train', 'photos', '--out', 'x', '--epochs', '3', '--loss', 'l2', '--freeze-encoder'])\n"
        "assert a.name == 'x' and a.epochs == 3 and a.loss == 'l2' and a.freeze_encoder\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
        "print('ok')\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**__import__("os").environ, "PYTHONPATH": str(APP)})
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok"


def test_cli_train_end_to_end(photos, tmp_path, _isolated_user_models):
    from polychrome.cli.train import main

    out = tmp_path / "cli.onnx"
    rc = main([
        "train", str(photos), "--out", "cli-model", "--output", str(out), "--size", "32", "--epochs", "1",
        "--max-steps", "2", "--batch-size", "4", "--scratch", "--checkpoint-dir", str(tmp_path / "ck"),
        "--val-fraction", "0.2", "--install", "--no-degrade", "--min-side", "16",
    ])
    assert rc == 0
    assert out.is_file() and (_isolated_user_models / "cli-model.onnx").is_file()
    assert (tmp_path / "ck" / "last.pt").is_file()
    # refusing to overwrite; usage errors
    assert main(["train", str(photos), "--out", "cli-model", "--output", str(out), "--size", "32"]) == 2
    assert main(["train", str(photos)]) == 2
    assert main(["train", str(photos), "--out", "y", "--size", "40"]) == 2


def test_format_duration_is_shared_and_handles_unknowns():
    from polychrome.core.progress import format_duration

    assert [format_duration(s) for s in (None, float("inf"), float("nan"), "x", 12.4, 247, 3900)] == [
        "?", "?", "?", "?", "12s", "4m07s", "1h05m"]
