"""``polychrome model evaluate`` (runtime.evaluation + evaluation_report, cli.model) end to end on a tiny fake
validation tree with two small real ONNX models."""

import argparse
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from onnx_models import conv_model, known_ab_model
from polychrome.cli import model as model_cli
from polychrome.cli.main import main as cli_main
from polychrome.core.color import rgb_to_gray
from polychrome.core.imageio import read_image
from polychrome.core.metrics import compute_all
from polychrome.runtime import evaluation, evaluation_report
from polychrome.runtime.colorizer import Colorizer

TEMPS = (0.2, 0.38, 0.6, 1.0)


def evaluate_main(argv):
    return cli_main(["model", "evaluate", *argv])


def _colour_png(path: Path, size, seed: int) -> Path:
    """A smooth, colourful RGB image: random colours at the corners, bilinearly blended, plus mild noise."""
    rng = np.random.default_rng(seed)
    h, w = size
    corners = rng.uniform(20, 235, (2, 2, 3))
    y = np.linspace(0, 1, h)[:, None, None]
    x = np.linspace(0, 1, w)[None, :, None]
    img = (corners[0, 0] * (1 - y) * (1 - x) + corners[0, 1] * (1 - y) * x
           + corners[1, 0] * y * (1 - x) + corners[1, 1] * y * x)
    img = np.clip(img + rng.normal(0, 4, img.shape), 0, 255).astype(np.uint8)
    Image.fromarray(img).save(path)
    return path


@pytest.fixture
def data_tree(tmp_path):
    """Two sources, one of the scene group (intel) and one of the face group (lfw), three photos each."""
    root = tmp_path / "val"
    sizes = [(40, 56), (48, 48), (56, 40)]
    for k, source in enumerate(("intel", "lfw")):
        (root / source).mkdir(parents=True)
        for i, size in enumerate(sizes):
            _colour_png(root / source / f"img{i}.png", size, seed=10 * k + i)
    (root / "lfw" / "notes.txt").write_text("not an image")  # ignored: unsupported extension
    return root


@pytest.fixture
def models(tmp_path, bins):
    ours = known_ab_model(tmp_path / "known.onnx", bins)  # default T 0.38
    l2 = conv_model(tmp_path / "conv.onnx", bins, default_T=1.0)
    return ours, l2


def _run(capsys, data_tree, models, out, *extra):
    ours, l2 = models
    argv = ["--model", str(ours), "--compare", f"L2={l2}", "--data", str(data_tree), "--out", str(out), *extra]
    rc = evaluate_main(argv)
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    return captured.out


def _table(md: str, heading_start: str):
    """The markdown table under the first '## ' heading starting with ``heading_start``: (header, rows)."""
    section = md.split(f"## {heading_start}", 1)[1].split("\n## ", 1)[0]
    lines = [ln for ln in section.splitlines() if ln.startswith("|")]
    split = lambda ln: [c.strip() for c in ln.strip("|").split("|")]  # noqa: E731
    return split(lines[0]), [split(ln) for ln in lines[2:]]


EXPECTED_HEADER = ["Method", "T", "PSNR (dB) ↑", "SSIM ↑", "AuC (%) ↑", "ΔE00 ↓", "CF", "CF gt", "CF / gt"]
EXPECTED_ROWS = [("gray (ab = 0)", "–"), ("ours", "0.2"), ("ours", "0.38 (default)"), ("ours", "0.6"),
                 ("ours", "1"), ("L2", "1 (default)")]


def test_outputs_tables_and_stdout(tmp_path, capsys, data_tree, models):
    out = tmp_path / "out"
    stdout = _run(capsys, data_tree, models, out)
    for name in ("metrics.md", "metrics.json", "contact_sheet.png"):
        assert (out / name).is_file()

    md = (out / "metrics.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## (.*)$", md, flags=re.M)
    assert headings == ["All photos (n = 6)", "Scenes: intel (n = 3)", "Faces: lfw (n = 3)", "intel (n = 3)",
                        "lfw (n = 3)"]
    for heading in headings:
        header, rows = _table(md, heading)
        assert header == EXPECTED_HEADER
        assert [(r[0], r[1]) for r in rows] == EXPECTED_ROWS
        assert all(len(r) == len(EXPECTED_HEADER) for r in rows)
    header, rows = _table(md, "All photos")
    assert rows[0][EXPECTED_HEADER.index("CF")] == "0.0"  # the gray baseline has no colour
    assert "verdict:" in md

    # stdout: the table of all photos and one verdict line that covers the L2 target too
    assert "| Method | T |" in stdout and "| gray (ab = 0) | – |" in stdout
    verdicts = [ln for ln in stdout.splitlines() if ln.startswith("verdict: ")]
    assert len(verdicts) == 1 and re.search(r"^verdict: (PASS|FAIL) \(\d/4 targets\)", verdicts[0])
    assert "vs L2" in verdicts[0]


def test_json_metrics_match_compute_all(tmp_path, capsys, data_tree, models):
    out = tmp_path / "out"
    _run(capsys, data_tree, models, out)
    report = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert report["counts"] == {"intel": 3, "lfw": 3}
    assert set(report["summary"]) == {"all", "scenes", "faces", "intel", "lfw"}
    keys = [v["key"] for v in report["variants"]]
    assert keys == ["gray", "ours@0.2", "ours@0.38", "ours@0.6", "ours@1", "L2@1"]
    assert len(report["images"]) == 6 * len(keys)

    gray_all = report["summary"]["all"]["gray"]
    assert gray_all["n"] == 6
    assert abs(gray_all["colorfulness"]) < 1e-9 and abs(gray_all["rel_colorfulness"]) < 1e-9
    assert gray_all["colorfulness_gt"] > 10

    # One photo recomputed from scratch: gray with the same L*, one inference, render at T, compute_all.
    src = data_tree / "lfw" / "img1.png"
    rgb = read_image(src).pixels
    gray = rgb_to_gray(rgb)
    pred = Colorizer(models[0]).predict(gray)
    by_variant = {r["variant"]: r for r in report["images"] if r["source"] == "lfw" and r["file"] == "img1.png"}
    expected = {"gray": compute_all(np.dstack([gray] * 3), rgb).to_dict()}
    for T in TEMPS:
        expected[f"ours@{T:g}"] = compute_all(pred.render(T, out_dtype=rgb.dtype), rgb).to_dict()
    expected["L2@1"] = compute_all(Colorizer(models[1]).predict(gray).render(1.0, out_dtype=rgb.dtype), rgb).to_dict()
    for key, metrics in expected.items():
        got = by_variant[key]
        for name, value in metrics.items():
            assert got[name] == pytest.approx(value, rel=1e-9, abs=1e-12), (key, name)

    # group means are means over the photos of the group; CF / gt is the ratio of the means
    rows = [r for r in report["images"] if r["source"] == "lfw" and r["variant"] == "ours@0.38"]
    s = report["summary"]["faces"]["ours@0.38"]
    for name in ("psnr", "ssim", "auc", "delta_e", "colorfulness", "colorfulness_gt"):
        assert s[name] == pytest.approx(np.mean([r[name] for r in rows]))
    assert s["rel_colorfulness"] == pytest.approx(s["colorfulness"] / s["colorfulness_gt"])
    assert report["summary"]["faces"] == report["summary"]["lfw"]

    checks = {c["name"]: c for c in report["verdict"]["checks"]}
    assert set(checks) == {"psnr", "colorfulness", "auc", "vs_l2"}
    ours, l2 = report["summary"]["all"]["ours@0.38"], report["summary"]["all"]["L2@1"]
    assert checks["vs_l2"]["passed"] == (ours["colorfulness"] > l2["colorfulness"])
    assert checks["psnr"]["passed"] == (ours["psnr"] >= gray_all["psnr"] + 1.0)
    assert checks["colorfulness"]["passed"] == (abs(ours["rel_colorfulness"] - 1) <= 0.2)


def test_contact_sheet_size_and_content(tmp_path, capsys, data_tree, models):
    out = tmp_path / "out"
    _run(capsys, data_tree, models, out, "--sheet-per-source", "2")
    sheet = read_image(out / "contact_sheet.png").pixels
    # 2 sources x 2 photos = 4 rows; columns gray, ground truth, ours, L2 -> 4 cells of 256 px with 8 px gaps
    assert sheet.shape == (40 + 4 * (22 + 256 + 8), 4 * 256 + 5 * 8, 3)
    assert evaluation_report.sheet_geometry(4, 4) == (256, sheet.shape[1], sheet.shape[0])
    assert sheet.shape[1] <= 2400
    assert (sheet[:40] < 128).any()  # column labels are drawn
    def cell(row, col):
        top, left = 40 + row * (22 + 256 + 8) + 22, 8 + col * (256 + 8)
        return sheet[top: top + 256, left: left + 256]

    first = cell(0, 0).astype(int)
    assert np.abs(first[..., 0] - first[..., 1]).max() <= 1  # the gray input is neutral
    # the ground-truth cell shows intel's first sheet photo (evenly spaced 2 of 3: img0, img2) letterboxed:
    # 40 x 56 scaled by 256 / 56 to 183 x 256, 36 px of letterbox above and below
    gt = read_image(data_tree / "intel" / "img0.png").pixels
    assert gt.shape[:2] == (40, 56)
    gt_cell = cell(0, 1)
    assert (gt_cell[:30] == evaluation_report.SHEET_LETTERBOX).all()
    assert (gt_cell[-30:] == evaluation_report.SHEET_LETTERBOX).all()
    inner = gt_cell[36 + 32: 36 + 151, 32:224].reshape(-1, 3).mean(0)  # image rows 7..33, columns 7..49
    np.testing.assert_allclose(inner, gt[7:33, 7:49].reshape(-1, 3).mean(0), atol=4)

    # many compare columns still fit in 2400 px
    cell_side, width, height = evaluation_report.sheet_geometry(10, 12)
    assert width <= 2400 and cell_side < 256


def test_max_per_source_and_compare_all_T(tmp_path, capsys, data_tree, models):
    out = tmp_path / "out"
    _run(capsys, data_tree, models, out, "--max-per-source", "1", "--temperatures", "0.5", "--compare-all-T")
    report = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert report["counts"] == {"intel": 1, "lfw": 1}
    assert {r["file"] for r in report["images"]} == {"img1.png"}  # the middle photo of three
    keys = [v["key"] for v in report["variants"]]
    assert keys == ["gray", "ours@0.38", "ours@0.5", "L2@0.5", "L2@1"]


def test_sweep(tmp_path, capsys, data_tree, models):
    out = tmp_path / "sweep"
    stdout = _run(capsys, data_tree, models, out, "--sweep")
    rows = [ln for ln in stdout.splitlines() if re.match(r"^\| \d\.\d\d", ln)]
    assert len(rows) == 19 and rows[0].startswith("| 0.10") and rows[-1].startswith("| 1.00")
    result = json.loads((out / "sweep.json").read_text(encoding="utf-8"))
    rel = [r["rel_colorfulness"] for r in result["rows"]]
    best = min(result["rows"], key=lambda r: abs(r["rel_colorfulness"] - 1))
    assert result["best_T"] == best["T"]
    assert f"suggested default T = {best['T']:.2f}" in stdout
    assert all(math.isfinite(v) and v > 0 for v in rel)
    assert not (out / "metrics.md").exists()  # the sweep writes no tables


def test_helpers_and_errors(tmp_path, capsys, models):
    assert evaluation.evenly_spaced(range(10), 3) == [1, 5, 8]
    assert evaluation.evenly_spaced(range(3), 5) == [0, 1, 2]
    assert evaluation.evenly_spaced(range(4), None) == [0, 1, 2, 3]
    assert model_cli.parse_compare("L2=a/b.onnx") == ("L2", "a/b.onnx")
    with pytest.raises(argparse.ArgumentTypeError):
        model_cli.parse_compare("no-equals-sign")
    assert model_cli.parse_temperatures("0.2, 1") == (0.2, 1.0)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert evaluate_main(["--model", str(models[0]), "--data", str(empty), "--out", str(tmp_path / "o")]) == 1
    assert "no subfolders with images" in capsys.readouterr().err


def test_side_by_side_for_the_wizard(data_tree, models):
    """The wizard's evaluation is the same routine: its means are the means of pipeline.evaluate_image."""
    from polychrome.runtime.pipeline import evaluate_image

    files = sorted(str(p) for p in (data_tree / "intel").glob("*.png")) + [str(data_tree / "lfw" / "notes.txt")]
    out = evaluation.evaluate_side_by_side(None, [("new", str(models[0])), ("old", str(models[1]))], files,
                                           [0.38, 1.0], n_samples=2, sample_side=32)
    assert out["temperatures"] == [0.38, 1.0] and out["n"] == 3
    assert [Path(f).name for f, _ in out["errors"]] == ["notes.txt"]
    assert set(out["models"]) == {"new", "old"} and set(out["models"]["new"]) == {0.38, 1.0}
    per_photo = [evaluate_image(Colorizer(models[0]), read_image(f).pixels, [0.38]) for f in files[:3]]
    for key in ("psnr", "colorfulness"):
        assert out["models"]["new"][0.38][key] == pytest.approx(np.mean([p[0][0.38][key] for p in per_photo]))
        assert out["gray"][key] == pytest.approx(np.mean([p[1][key] for p in per_photo]), abs=1e-9)
    assert len(out["samples"]) == 2
    sample = out["samples"][0]
    assert set(sample) == {"name", "gray", "truth", "new", "old"}
    assert max(sample["truth"].shape[:2]) == 32 and sample["new"].dtype == np.uint8
    assert sample["new"].shape == sample["truth"].shape
