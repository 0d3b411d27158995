"""Importing the original Zhang et al. models (ECCV16, SIGGRAPH17) from their PyTorch release files.

The real release weights cannot be downloaded here, so each test writes a random-weight state dict in the
release layout (same keys and shapes, full size) to a .pth file and imports that. The ONNX model is compared with
a reference forward pass written below directly from the state dict (torch.nn.functional on the keys, as the
issue describes the networks), independent of the importer's own modules.
"""

import hashlib
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
F = torch.nn.functional

from polychrome.cli.main import main as cli_main  # noqa: E402
from polychrome.core import imageio  # noqa: E402
from polychrome.core.bins import ABBins  # noqa: E402
from polychrome.core.color import srgb_to_lab  # noqa: E402
from polychrome.core.decode import DEFAULT_T  # noqa: E402
from polychrome.core.errors import ModelError  # noqa: E402
from polychrome.core.hints import ColorHint  # noqa: E402
from polychrome.runtime.colorizer import Colorizer  # noqa: E402
from polychrome.runtime.session import ModelSession, read_manifest  # noqa: E402
from polychrome.training.zhang import (  # noqa: E402
    SOURCE_KEY,
    hash_warning,
    import_original_model,
    layout_problem,
    random_state_dict,
)

MAX_REL = 1e-4


# -- release files --------------------------------------------------------------------------------------------


def save_release(sd, folder: Path, stem: str, true_hash: bool = True) -> Path:
    tmp = folder / f"{stem}.pth"
    torch.save(sd, tmp)
    if not true_hash:
        return tmp
    sha = hashlib.sha256(tmp.read_bytes()).hexdigest()
    path = folder / f"{stem}-{sha[:8]}.pth"  # named like the releases: the file's own hash prefix
    tmp.rename(path)
    return path


# -- the reference forward passes, straight from the state dicts -----------------------------------------------


def _conv(sd, x, key, stride=1, dilation=1):
    w = sd[key + ".weight"]
    pad = dilation * (w.shape[-1] - 1) // 2
    return F.conv2d(x, w, sd.get(key + ".bias"), stride=stride, padding=pad, dilation=dilation)


def _bn(sd, x, key):
    return F.batch_norm(x, sd[key + ".running_mean"], sd[key + ".running_var"], sd[key + ".weight"],
                        sd[key + ".bias"], training=False, eps=1e-5)


def _up(sd, x, key):
    return F.conv_transpose2d(x, sd[key + ".weight"], sd[key + ".bias"], stride=2, padding=1)


# (block, [(stride, dilation) per conv]); ECCV16 strides, SIGGRAPH17 subsamples between blocks instead
ENCODER = [(1, [2, 2]), (2, [2, 2]), (3, [1, 1, 2]), (4, [1, 1, 1]), (5, [1, 1, 1]), (6, [1, 1, 1]), (7, [1, 1, 1])]


def _encoder_block(sd, x, b, strides, strided):
    for i, s in enumerate(strides):
        stride = s if strided and i == len(strides) - 1 else 1
        x = F.relu(_conv(sd, x, f"model{b}.{2 * i}", stride=stride, dilation=2 if b in (5, 6) else 1))
    return _bn(sd, x, f"model{b}.{2 * len(strides)}")


def eccv16_reference(sd, L):
    """ECCV16 logits for L* (N, 1, H, W), H and W multiples of 8."""
    x = (L - 50.0) / 100.0
    for b, strides in ENCODER:
        x = _encoder_block(sd, x, b, strides, strided=True)
    x = F.relu(_up(sd, x, "model8.0"))
    x = F.relu(_conv(sd, x, "model8.2"))
    x = F.relu(_conv(sd, x, "model8.4"))
    return _conv(sd, x, "model8.6")


def siggraph17_reference(sd, L, hint_ab, hint_mask):
    """SIGGRAPH17 (class logits, regression ab) for L*, hint ab in CIELAB units and a 0/1 mask, as the authors
    train it: (L − 50) / 100, ab / 110, mask − 0.5."""
    x = torch.cat([(L - 50.0) / 100.0, hint_ab / 110.0, hint_mask - 0.5], dim=1)
    feats = {}
    for b, strides in ENCODER:
        if b in (2, 3, 4):
            x = x[:, :, ::2, ::2]
        x = _encoder_block(sd, x, b, strides, strided=False)
        feats[b] = x
    x = _up(sd, x, "model8up.0") + _conv(sd, feats[3], "model3short8.0")
    x = F.relu(_conv(sd, F.relu(x), "model8.1"))
    c8 = _bn(sd, F.relu(_conv(sd, x, "model8.3")), "model8.5")
    logits = _conv(sd, c8, "model_class.0")
    x = _up(sd, c8, "model9up.0") + _conv(sd, feats[2], "model2short9.0")
    c9 = _bn(sd, F.relu(_conv(sd, F.relu(x), "model9.1")), "model9.3")
    x = _up(sd, c9, "model10up.0") + _conv(sd, feats[1], "model1short10.0")
    c10 = F.leaky_relu(_conv(sd, F.relu(x), "model10.1"), 0.2)
    return logits, torch.tanh(_conv(sd, c10, "model_out.0")) * 110.0


def photo_like_L(h: int, w: int, seed: int = 3) -> np.ndarray:
    """A non-trivial L* map (0..100): smooth shapes, edges and noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    L = 50 + 30 * np.sin(xx / 7.0) * np.cos(yy / 11.0) + 15 * ((xx - w / 2) ** 2 + (yy - h / 3) ** 2 < (h / 4) ** 2)
    L += rng.normal(0, 4, (h, w))
    return np.clip(L, 0, 100).astype(np.float32)


def rel_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


# -- fixtures: one import per architecture for the module -------------------------------------------------------


@pytest.fixture(scope="module")
def releases(tmp_path_factory):
    folder = tmp_path_factory.mktemp("releases")
    eccv = random_state_dict("eccv16", seed=1)
    sig = random_state_dict("siggraph17", seed=2)
    return {
        "eccv16": (save_release(eccv, folder, "colorization_release_v2"), eccv),
        "siggraph17": (save_release(sig, folder, "siggraph17"), sig),
    }


@pytest.fixture(scope="module")
def imported(releases, tmp_path_factory):
    out = tmp_path_factory.mktemp("imported")
    res = {}
    for arch, (path, _sd) in releases.items():
        res[arch] = import_original_model(None, None, arch, path, output=out / f"{arch}.onnx",
                                          regression=arch == "siggraph17")
    return res


# -- the exported graphs against the reference ------------------------------------------------------------------


def test_eccv16_logits_equal_the_reference_forward(releases, imported):
    _path, sd = releases["eccv16"]
    res = imported["eccv16"]
    assert res.warnings == [] and res.Q == 313
    session = ModelSession(res.path, "cpu")
    L = photo_like_L(64, 96)
    out = session.run(((L - 50.0) / 50.0)[None, None])  # the runtime's own normalisation
    with torch.no_grad():
        ref = eccv16_reference(sd, torch.from_numpy(L)[None, None]).numpy()
    assert out.shape == ref.shape == (1, 313, 16, 24)
    assert ref.std() > 0.05  # non-trivial logits
    assert rel_diff(out, ref) <= MAX_REL
    # a side that is a multiple of 4 but not of 8 still gives H/4 × W/4 logits (padded inside the graph)
    assert session.run(np.zeros((1, 1, 68, 92), np.float32)).shape == (1, 313, 17, 23)


def test_eccv16_metadata_bins_are_model_out_times_110(releases, imported):
    path, sd = releases["eccv16"]
    m = read_manifest(imported["eccv16"].path)
    expected = sd["model_out.weight"][:, :, 0, 0].t().numpy() * 110.0
    assert m.Q == 313
    np.testing.assert_allclose(m.bins.centers, expected, atol=1e-3)  # same bins, same order
    assert (m.input_size, m.stride, m.default_T, m.hints) == (256, 4, DEFAULT_T, False)
    assert "BSD-2-Clause" in m.license and "Zhang" in m.license and "Efros" in m.license
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    assert m.training["imported"]["source_sha256"] == sha
    import onnx

    meta = {p.key: p.value for p in onnx.load(str(imported["eccv16"].path), load_external_data=False).metadata_props}
    assert meta[SOURCE_KEY] == sha


def test_siggraph17_logits_and_ab_equal_the_reference_with_hints(releases, imported):
    _path, sd = releases["siggraph17"]
    res = imported["siggraph17"]
    m = read_manifest(res.path)
    assert m.hints and m.Q == 529 and m.bins == ABBins.full_grid(110, 10)
    assert tuple(m.bins.centers[24]) == (-100.0, -100.0)  # a*-major: bin i·23 + j is (−110 + 10i, −110 + 10j)
    h, w = 64, 88
    L = photo_like_L(h, w)
    hint_ab = np.zeros((1, 2, h, w), np.float32)
    hint_mask = np.zeros((1, 1, h, w), np.float32)
    hint_ab[0, :, 20:24, 30:34] = np.array([40.0, -25.0])[:, None, None]
    hint_mask[0, :, 20:24, 30:34] = 1.0
    session = ModelSession(res.path, "cpu")
    feeds = session.feeds(((L - 50.0) / 50.0)[None, None], hint_ab, hint_mask)
    logits, ab = session.session.run(["logits", "ab"], feeds)
    with torch.no_grad():
        ref_logits, ref_ab = siggraph17_reference(sd, torch.from_numpy(L)[None, None], torch.from_numpy(hint_ab),
                                                  torch.from_numpy(hint_mask))
    assert logits.shape == (1, 529, 16, 22) and ab.shape == (1, 2, h, w)
    assert ref_logits.numpy().std() > 0.05
    assert rel_diff(logits, ref_logits.numpy()) <= MAX_REL
    assert rel_diff(ab, ref_ab.numpy()) <= MAX_REL


def test_siggraph17_logits_change_where_a_hint_is_set(imported):
    col = Colorizer(imported["siggraph17"].path, input_size=96)
    assert col.takes_hints
    gray = (np.tile(np.linspace(30, 220, 96, dtype=np.float32), (64, 1))).astype(np.uint8)
    L = col.predict(gray).L
    plain = col.logits_for(L)
    hinted = col.logits_for(L, hints=[ColorHint(y=32, x=48, a=60.0, b=40.0, size=5)])
    assert plain.shape == hinted.shape == (529, 16, 24)
    change = np.abs(hinted - plain).max(axis=0)
    assert change[8, 12] > 1e-3 * np.abs(plain).max()  # the cell under the hint
    # without hints the hint inputs are all zeros: the same logits as no hints at all
    np.testing.assert_array_equal(col.logits_for(L), col.logits_for(L, hints=[]))


# -- refusals -------------------------------------------------------------------------------------------------


def _cli(capsys, *args):
    rc = cli_main(["import-model", *map(str, args), "--no-progress"])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def test_a_wrong_layout_is_refused_naming_the_first_wrong_key(releases, tmp_path, capsys):
    sig_path, _ = releases["siggraph17"]
    rc, out, err = _cli(capsys, "eccv16", sig_path, "-o", tmp_path / "x.onnx")
    assert rc == 1 and out == ""
    line = err.strip()
    assert "\n" not in line and sig_path.name in line
    assert "model1.0.weight" in line and "import it as 'siggraph17'" in line
    assert not (tmp_path / "x.onnx").exists()
    sd = random_state_dict("eccv16")
    del sd["model8.6.bias"]
    assert layout_problem(sd, "eccv16") == "key 'model8.6.bias' is missing"
    sd = random_state_dict("eccv16")
    sd["model3.2.weight"] = torch.zeros(256, 256, 1, 1)
    assert "key 'model3.2.weight' has shape [256, 256, 1, 1]" in layout_problem(sd, "eccv16")
    sd = random_state_dict("eccv16")
    sd.pop("model1.4.num_batches_tracked")  # older PyTorch wrote no counters: still the layout
    sd["extra.weight"] = torch.zeros(1)
    assert layout_problem(sd, "eccv16") == "key 'extra.weight' is not part of the layout"


def test_truncated_and_non_state_dict_files_are_refused_in_one_line(releases, tmp_path, capsys):
    small = {"model1.0.weight": torch.randn(64, 1, 3, 3), "model1.0.bias": torch.randn(64)}
    full = tmp_path / "small.pth"
    torch.save(small, full)
    data = full.read_bytes()
    cases = {
        "truncated.pth": (data[: len(data) // 2], "truncated"),
        "list.pth": (None, "not a state dict"),
        "object.pth": (None, "Python objects"),
        "empty.pth": (b"", "empty"),
    }
    torch.save([1, 2, 3], tmp_path / "list.pth")
    import argparse

    torch.save({"model1.0.weight": argparse.Namespace(a=1)}, tmp_path / "object.pth")
    for name, (content, why) in cases.items():
        p = tmp_path / name
        if content is not None:
            p.write_bytes(content)
        rc, _out, err = _cli(capsys, "eccv16", p, "-o", tmp_path / "x.onnx")
        line = err.strip()
        assert rc == 1 and "\n" not in line, (name, err)
        assert name in line and why in line, (name, line)
    assert not (tmp_path / "x.onnx").exists()


def test_an_eccv16_file_whose_model_out_is_no_bin_table_is_refused(tmp_path):
    sd = random_state_dict("eccv16")
    sd["model_out.weight"] = torch.randn(2, 313, 1, 1, generator=torch.Generator().manual_seed(0)) * math.sqrt(2 / 313)
    path = save_release(sd, tmp_path, "eccv", true_hash=False)
    with pytest.raises(ModelError, match="model_out does not hold a bin table"):
        import_original_model(None, None, "eccv16", path, output=tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()


def test_the_release_hash_prefix_is_checked_against_the_files_sha256(tmp_path):
    p = tmp_path / "siggraph17-df00044c.pth"
    p.write_bytes(b"not the release")
    sha = hashlib.sha256(p.read_bytes()).hexdigest()
    w = hash_warning(p, sha)
    assert w and "df00044c" in w and sha[:8] in w and p.name in w
    good = tmp_path / f"siggraph17-{sha[:8]}.pth"
    assert hash_warning(good, sha) is None
    assert hash_warning(tmp_path / "my-weights.pth", sha) is None  # no hash in the name: nothing to check


# -- through the command line and the app -----------------------------------------------------------------------


def test_cli_imports_warns_installs_and_the_model_colorizes(releases, tmp_path, capsys, _isolated_user_models):
    path, _ = releases["eccv16"]
    release_named = tmp_path / "colorization_release_v2-9b330a0b.pth"  # random weights under the real name
    shutil.copyfile(path, release_named)
    out = tmp_path / "eccv.onnx"
    rc, stdout, err = _cli(capsys, "eccv16", release_named, "-o", out, "--name", "ECCV random", "--install")
    assert rc == 0, err
    assert stdout.strip() == str(out)
    assert "warning:" in err and "9b330a0b" in err  # the hash in the name is not this file's
    installed = _isolated_user_models / "ECCV random.onnx"
    assert installed.is_file() and read_manifest(installed).name == "ECCV random"
    # never overwritten
    rc, _o, err = _cli(capsys, "eccv16", release_named, "-o", out)
    assert rc == 1 and "exists" in err
    # the installed model colorizes through the CLI, by name
    img = tmp_path / "in.png"
    L = photo_like_L(48, 64)
    imageio.write_image(img, np.clip(L * 2.55, 0, 255).astype(np.uint8))
    assert cli_main(["colorize", str(img), "-o", str(tmp_path / "col"), "--model", "ECCV random",
                     "--no-progress"]) == 0
    written = list((tmp_path / "col").glob("in_color*.png"))
    assert len(written) == 1
    rgb = imageio.read_image(written[0]).pixels
    assert rgb.shape == (48, 64, 3)
    assert np.abs(srgb_to_lab(rgb)[..., 1:]).max() > 1.0  # colour came from the imported model
    capsys.readouterr()
    assert cli_main(["models"]) == 0
    assert "ECCV random" in capsys.readouterr().out


def test_the_app_imports_a_model_and_lists_it_in_the_model_menu(qtbot, releases, imported, tmp_path,
                                                                 _isolated_user_models):
    pytest.importorskip("PySide6.QtWidgets")
    pytest.importorskip("pytestqt")
    from polychrome.gui.main_window import MainWindow
    from polychrome.gui.queue.controller import DONE, ColorizeController
    from polychrome.gui.settings import AppSettings

    window = MainWindow(ColorizeController(Colorizer(imported["eccv16"].path)), AppSettings())
    qtbot.addWidget(window)
    try:
        window._fill_model_menu()
        action = next(a for a in window.model_menu.actions() if "Import Original Zhang Model" in a.text())
        action.trigger()
        dlg = window.import_dialog
        assert dlg.isVisible()
        # a file that is not the chosen layout: one line in the dialog, nothing installed
        bad = tmp_path / "list.pth"
        torch.save([1, 2], bad)
        dlg.set_weights(str(bad))
        assert dlg.import_button.isEnabled()
        dlg.import_button.click()
        qtbot.waitUntil(lambda: not dlg.controller.running and bool(dlg.controller.error), timeout=60000)
        assert dlg.status.text().startswith("Not imported:") and "not a state dict" in dlg.status.text()
        # the SIGGRAPH17 file: the network follows the file name; installed under the typed name
        sig_path, _ = releases["siggraph17"]
        dlg.set_weights(str(sig_path))
        assert dlg.arch_combo.currentData() == "siggraph17"
        dlg.name_edit.setText("Zhang hints")
        dlg.name_edit.textEdited.emit("Zhang hints")
        dlg.import_button.click()
        assert dlg.cancel_button.isEnabled()
        qtbot.waitUntil(lambda: dlg.controller.result is not None, timeout=120000)
        assert (_isolated_user_models / "Zhang hints.onnx").is_file()
        assert "Imported Zhang hints" in dlg.status.text() and dlg.progress.value() == 100
        window._fill_model_menu()
        assert any("Zhang hints" in a.text() for a in window.model_menu.actions())
        # Use This Model: the queue colorizes with it and the distribution shows its 529 bins
        assert dlg.use_button.isEnabled()
        assert dlg.use_model()
        c = window.controller
        assert c.colorizer.manifest.name == "Zhang hints"
        img = tmp_path / "gray.png"
        imageio.write_image(img, np.clip(photo_like_L(40, 56) * 2.55, 0, 255).astype(np.uint8))
        c.add_paths([str(img)])
        qtbot.waitUntil(lambda: not c.running and c.queue.counts()[DONE] == 1, timeout=60000)
        c.set_current(0)
        info = c.distribution_info(20.0, 28.0)
        assert info is not None and len(info["probabilities"]) == 529
        window.distribution.show_distribution(info)
        assert window.distribution.probabilities is not None and len(window.distribution.probabilities) == 529
        dlg.close()
    finally:
        window.controller.shutdown(10000)


def test_bin_tables_of_the_originals_q313_and_q529():
    grid = ABBins.full_grid(110.0, 10.0)
    assert grid.Q == 529 and tuple(grid.centers[0]) == (-110.0, -110.0) and tuple(grid.centers[1]) == (-110.0, -100.0)
    assert tuple(grid.centers[grid.neutral_index]) == (0.0, 0.0)
    ab = np.array([[-110.0, 110.0], [3.0, -4.9], [109.0, -111.0]], np.float32)  # the corners are looked up too
    np.testing.assert_array_equal(grid.centers[grid.nearest(ab)], [[-110, 110], [0, 0], [110, -110]])
    with pytest.raises(ValueError, match="multiple"):
        ABBins.full_grid(105.0, 10.0)
    rng = np.random.default_rng(0)
    cells = rng.permutation(np.array([(a, b) for a in range(-9, 10) for b in range(-11, 10)]))[:313] * 10.0
    noisy = cells / 110.0 * np.float32(110.0) + rng.normal(0, 1e-4, cells.shape)  # float32 weights × 110
    t = ABBins.from_centers(noisy)
    assert t.Q == 313 and np.array_equal(t.centers, cells.astype(np.float32))  # snapped, order kept
    assert ABBins.from_json(t.to_json()) == t
    off = cells.copy()
    off[7] += (3.0, 0.0)
    with pytest.raises(ValueError, match="bin 7 .* off the grid"):
        ABBins.from_centers(off)
