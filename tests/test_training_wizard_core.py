"""What the training core offers front ends such as the training wizard (PyTorch, CPU, tiny networks):

the step hook (pause / cancel at a step boundary, not counted in the ETA), handing over a scan and colour
statistics made beforehand, the time estimate, describing interrupted runs, and publishing a trained model under
its final name with its card.
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from polychrome.core.errors import ModelError  # noqa: E402
from polychrome.core.progress import Cancelled, Progress  # noqa: E402
from test_training import _config, _photo, _write_png  # noqa: E402  (tests/ is on sys.path: conftest)


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("core_photos")
    rng = np.random.default_rng(11)
    for i in range(16):
        _write_png(d / ("x" if i % 2 else "y") / f"p{i:02d}.png", _photo(rng))
    return d


@pytest.fixture(scope="module")
def exported(tmp_path_factory, photos) -> Path:
    from polychrome.training.loop import Trainer

    tmp = tmp_path_factory.mktemp("exported")
    return Trainer(_config(photos, tmp, max_steps=2, export=True, license="test")).fit().output


# -- the step hook ---------------------------------------------------------------------------------------------


def test_step_hook_runs_at_every_step_boundary_and_its_time_is_not_in_the_eta(photos, tmp_path, monkeypatch):
    from types import SimpleNamespace

    from polychrome.training import loop, trainer

    clock = SimpleNamespace(t=0.0)

    def monotonic():  # the loop's clock: 1 ms per reading, plus whatever a pause adds
        clock.t += 0.001
        return clock.t

    monkeypatch.setattr(trainer, "time", SimpleNamespace(monotonic=monotonic))
    seen, etas = [], {}

    def hook(tr):
        seen.append(tr.step)  # steps taken so far: the hook runs before the next one
        if tr.step == 2:
            clock.t += 100.0  # a 100-second pause

    def cb(ev):
        if ev.data.get("phase") == "train":
            etas[ev.data["step"]] = ev.data["eta_s"]

    tr = loop.Trainer(_config(photos, tmp_path, max_steps=5), Progress(cb), step_hook=hook)
    tr.fit()
    assert seen == [0, 1, 2, 3, 4]
    assert tr.hook_seconds == pytest.approx(100.0, abs=0.01)
    # the ETA after the pause reflects the steps' own speed ((elapsed − pause) / done × left), not the pause
    assert etas[3] < 1.0 and etas[4] < 1.0  # with the pause counted it would be 100 × 2/3 and 100 × 1/4


def test_a_hook_that_cancels_stops_before_the_step_and_checkpoints(photos, tmp_path):
    from polychrome.training.loop import Trainer

    def hook(tr):
        if tr.step == 3:
            raise Cancelled("stop")

    tr = Trainer(_config(photos, tmp_path, max_steps=8, export=True), step_hook=hook)
    with pytest.raises(Cancelled):
        tr.fit()
    assert tr.step == 3
    ck = torch.load(str(tmp_path / "ckpt" / "last.pt"), map_location="cpu", weights_only=True)
    assert ck["step"] == 3
    assert not list((tmp_path / "out").iterdir())  # no model
    # without a hook the constructor is what it was (backwards compatible)
    assert Trainer(_config(photos, tmp_path / "b")).step_hook is None


# -- scan and colour statistics handed over --------------------------------------------------------------------


def test_use_scan_trains_on_the_same_split_without_scanning_again(photos, tmp_path):
    from polychrome.training.data import scan_folders
    from polychrome.training.loop import Trainer, split_for_training

    cfg = _config(photos, tmp_path, max_val_images=2)
    a = Trainer(cfg)
    a.prepare()
    report = scan_folders([str(photos)], min_side=cfg.min_side)
    events = []
    b = Trainer(_config(photos, tmp_path, max_val_images=2), Progress(events.append))
    b.use_scan(report)
    b.prepare()
    assert [r.path for r in b.train_records] == [r.path for r in a.train_records]
    assert [r.path for r in b.val_records] == [r.path for r in a.val_records] and len(b.val_records) == 2
    assert b.scan_counts == a.scan_counts
    assert not any(e.message.startswith("scanning ") for e in events)  # no per-file scan
    train, val = split_for_training(report, cfg)
    assert [r.path for r in train] == [r.path for r in a.train_records]


def test_color_statistics_are_what_the_trainer_uses(photos, tmp_path, exported, monkeypatch):
    from polychrome.training import loop, statistics
    from polychrome.training.export import load_base_model

    cfg = _config(photos, tmp_path, bins="data", bins_min_count=3)
    tr = loop.Trainer(cfg)
    tr.prepare()
    stats = loop.color_statistics(cfg, tr.train_records)
    assert stats.bins == tr.bins and np.allclose(stats.prior, tr.prior) and stats.prior_source == "data"
    assert np.allclose(stats.data_prior, stats.prior) and stats.n_images == len(tr.train_records)
    w = stats.weights(0.5)
    assert w.shape == (stats.bins.Q,) and float((stats.prior * w).sum()) == pytest.approx(1.0)

    # fine-tuning: the base's bins and prior; always_sample adds the photos' own prior
    base = load_base_model(exported)
    ft = _config(photos, tmp_path, base_model=str(exported))
    few = tr.train_records[:3]  # other photos than the base was trained on: another prior
    s2 = loop.color_statistics(ft, few, base, always_sample=True)
    assert s2.bins == base.bins and s2.prior_source == "base" and np.allclose(s2.prior, base.prior)
    assert s2.data_prior is not None and not np.allclose(s2.data_prior, s2.prior) and s2.n_images == 3
    assert loop.color_statistics(ft, few, base).data_prior is None  # not sampled unless asked
    s3 = loop.color_statistics(_config(photos, tmp_path, base_model=str(exported), prior_source="data"), few, base)
    assert s3.prior_source == "data" and np.allclose(s3.prior, s2.data_prior)

    # handed to a trainer, nothing is sampled again
    monkeypatch.setattr(statistics, "sample_ab", lambda *a, **k: pytest.fail("sampled again"))
    t2 = loop.Trainer(_config(photos, tmp_path, bins="data", bins_min_count=3))
    t2.use_color_statistics(stats)
    t2.prepare()
    assert t2.bins == stats.bins and np.allclose(t2.prior, stats.prior) and t2.model.Q == stats.bins.Q


# -- time estimate -----------------------------------------------------------------------------------------------


def test_estimate_times_real_steps_and_writes_nothing(photos, tmp_path):
    from polychrome.training.loop import Trainer, estimate_epoch_time

    cfg = _config(photos, tmp_path, epochs=3, max_steps=None, export=True, checkpoint_every_steps=1,
                  recalibrate_bn_images=8)
    events = []
    est = estimate_epoch_time(cfg, n_batches=2, progress=Progress(events.append))
    tr = Trainer(_config(photos, tmp_path, epochs=3, max_steps=None))
    tr.prepare()
    assert est.steps_per_epoch == tr.steps_per_epoch and est.total_steps == 3 * tr.steps_per_epoch
    assert est.batches_timed == 2 and est.seconds_per_step > 0 and est.val_seconds > 0
    assert est.epoch_seconds == pytest.approx(est.steps_per_epoch * est.seconds_per_step + est.val_seconds)
    assert est.finish_seconds > est.val_seconds  # BatchNorm re-estimation + the final validation
    assert est.total_seconds == pytest.approx(
        est.total_steps * est.seconds_per_step + 3 * est.val_seconds + est.finish_seconds)
    assert est.device == "cpu" and est.images_per_second > 0
    assert sum(e.data.get("phase") == "estimate" for e in events) == 4  # 3 steps (1 warm-up) + 1 val batch
    assert not (tmp_path / "ckpt").exists() and not list((tmp_path / "out").iterdir())


# -- interrupted runs ----------------------------------------------------------------------------------------------


def test_checkpoint_info_and_find_checkpoints(photos, tmp_path):
    from polychrome.core.progress import CancelToken
    from polychrome.training.loop import Trainer, TrainingError, checkpoint_info, find_checkpoints

    token = CancelToken()

    def cb(ev):
        if ev.data.get("phase") == "train" and ev.data["step"] == 2:
            token.cancel()

    root = tmp_path / "runs"
    a = Trainer(_config(photos, tmp_path, checkpoint_dir=str(root / "a"), max_steps=6), Progress(cb, cancel=token))
    with pytest.raises(Cancelled):
        a.fit()
    time.sleep(0.05)
    b = Trainer(_config(photos, tmp_path, checkpoint_dir=str(root / "b"), max_steps=3))
    b.fit()
    (root / "junk").mkdir()
    (root / "junk" / "last.pt").write_bytes(b"not a checkpoint")

    info = checkpoint_info(root / "a")
    assert (info.step, info.total_steps, info.finished, info.name) == (2, 6, False, "tiny")
    assert info.n_train == len(a.train_records) and info.val_paths == [r.path for r in a.val_records]
    assert info.scan_counts == a.scan_counts and info.config.max_steps == 6
    assert checkpoint_info(root / "b" / "last.pt").finished
    assert [i.path.parent.name for i in find_checkpoints(root)] == ["a"]
    assert [i.path.parent.name for i in find_checkpoints(root, include_finished=True)] == ["b", "a"]
    assert find_checkpoints(tmp_path / "nowhere") == []
    with pytest.raises(TrainingError):
        checkpoint_info(root / "junk")


def test_available_devices_lists_the_cpu_first():
    from polychrome.training.loop import available_devices

    devs = available_devices()
    assert devs[0][0] == "cpu" and all(isinstance(label, str) for _, label in devs)
    assert len(devs) == 1 + (torch.cuda.device_count() if torch.cuda.is_available() else 0)


def test_missing_dependencies(monkeypatch):
    from polychrome import training

    assert training.missing_dependencies() == []
    monkeypatch.setitem(sys.modules, "torch", None)
    assert training.missing_dependencies() == ["torch"]
    assert "pip install" in training.INSTALL_HINT


# -- publishing ----------------------------------------------------------------------------------------------------


def test_relabel_keeps_the_weights_and_changes_the_manifest(exported, tmp_path):
    import onnx

    from polychrome.runtime.session import read_manifest
    from polychrome.training.publish import relabel_model

    out = relabel_model(exported, tmp_path / "renamed.onnx", training_updates={"note": np.float32(1.5)},
                        name="Renamed", description="new words")
    m0, m1 = read_manifest(exported), read_manifest(out)
    assert (m1.name, m1.description, m1.license) == ("Renamed", "new words", m0.license)
    assert m1.bins == m0.bins and m1.training["steps"] == m0.training["steps"] and m1.training["note"] == 1.5
    a, b = onnx.load(str(exported)), onnx.load(str(out))
    assert [t.SerializeToString() for t in a.graph.initializer] == [t.SerializeToString() for t in b.graph.initializer]
    with pytest.raises(ValueError):
        relabel_model(exported, tmp_path / "x.onnx", bins="no")


def test_publish_installs_model_and_card_and_never_overwrites_silently(exported, tmp_path, _isolated_user_models,
                                                                        monkeypatch):
    from polychrome.runtime import registry
    from polychrome.runtime.session import read_manifest
    from polychrome.training import publish

    path = publish.publish_model(exported, "Family 1950s", "# card one\n", license="private")
    assert path == _isolated_user_models / "Family 1950s.onnx"
    assert (_isolated_user_models / "Family 1950s.md").read_text(encoding="utf-8") == "# card one\n"
    assert read_manifest(path).name == "Family 1950s" and read_manifest(path).license == "private"
    assert registry.find_model("Family 1950s").path == path
    assert not list(Path(exported).parent.glob(".relabel-*"))  # the temp copy is gone

    with pytest.raises(ModelError, match="already installed"):
        publish.publish_model(exported, "Family 1950s", "# card two\n")
    assert (_isolated_user_models / "Family 1950s.md").read_text(encoding="utf-8") == "# card one\n"
    publish.publish_model(exported, "Family 1950s", "# card two\n", overwrite=True)
    assert (_isolated_user_models / "Family 1950s.md").read_text(encoding="utf-8") == "# card two\n"

    for bad in ("", " x", "a/b", "../up", ".hidden", "x" * 65, "end."):
        assert publish.name_problem(bad), bad
        with pytest.raises(ModelError):
            publish.publish_model(exported, bad, "card")
    assert publish.name_problem("Ünïcode names (v2)") is None

    # a failed install leaves neither a model nor a card behind
    def broken(*a, **k):
        raise ModelError("disk full")

    monkeypatch.setattr(registry, "install_model", broken)
    with pytest.raises(ModelError, match="disk full"):
        publish.publish_model(exported, "other", "card")
    assert sorted(p.name for p in _isolated_user_models.iterdir()) == ["Family 1950s.md", "Family 1950s.onnx"]


def test_model_card_markdown(exported):
    from polychrome.runtime.session import read_manifest
    from polychrome.training.publish import evaluation_table, model_card_markdown

    summary = read_manifest(exported).training
    evaluation = {"temperatures": [0.38, 1.0], "n": 3, "gray": {"psnr": 20.0},
                  "models": {"start": {0.38: {"psnr": 21.0}, 1.0: {"psnr": 22.5}},
                             "new": {0.38: {"psnr": 23.25, "ssim": 0.9}, 1.0: {}}}}
    card = model_card_markdown("tiny", summary, data=["/photos/family"], description="Our colours",
                               license="private", evaluation=evaluation, base_model="polychrome-lite0")
    assert card.startswith("# tiny\n\nOur colours")
    assert "- `/photos/family`" in card and "**Licence / terms:** private" in card
    assert "fine-tuned from `polychrome-lite0`" in card and "class-rebalanced cross-entropy" in card
    assert f"| epochs / steps | {summary['epochs']} / {summary['steps']} |" in card
    assert "| PSNR (dB) ↑ | 0.38 | 21.00 | 23.25 | 20.00 |" in card and "| SSIM ↑ | 1 | – | – | – |" in card
    assert "Side by side on the 3 validation photos" in card
    table = evaluation_table(json.loads(json.dumps({**evaluation, "models": {"a": {"0.38": {"psnr": 1.0}}}})))
    assert "| PSNR (dB) ↑ | 0.38 | 1.00 | 20.00 |" in table  # keys as JSON strings work too
    plain = model_card_markdown("x", {})
    assert "not stated" in plain and "from scratch" in plain
