"""Models you can trust: sha256 sums beside the models (a test builds its own), a damaged model refused, a
name found twice named with both files, metadata bounded, the sha256 in the banner and the batch record."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from polychrome.cli.main import main
from polychrome.core.errors import ModelError
from polychrome.runtime import registry
from polychrome.runtime.session import file_sha256

ROOT = Path(__file__).resolve().parent.parent


def _flip_weight_bytes(path: Path, n: int = 2000) -> None:
    import onnx

    weights = max(onnx.load(str(path)).graph.initializer, key=lambda t: len(t.raw_data)).raw_data
    data = bytearray(path.read_bytes())
    at = data.find(weights)
    assert at > 0
    for i in range(at, at + min(n, len(weights))):
        data[i] ^= 0x01
    path.write_bytes(bytes(data))


def test_sums_are_written_checked_and_a_damaged_model_is_refused(tmp_path, known_model, monkeypatch, capsys):
    folder = tmp_path / "models"
    folder.mkdir()
    model = folder / "mine.onnx"
    shutil.copy(known_model, model)
    assert main(["models", "--write-sums", str(folder)]) == 0
    sums = (folder / "SHA256SUMS").read_text()
    assert sums == f"{file_sha256(model)}  mine.onnx\n"  # the `sha256sum` format: `sha256sum -c` reads it
    monkeypatch.setenv("POLYCHROME_MODEL_PATH", str(folder))
    entry = registry.find_model("mine")
    assert entry.ok and entry.verified is True

    # up to 2,000 flipped weight bytes: still a valid model that onnxruntime runs, with wrong colours
    _flip_weight_bytes(model)
    from polychrome.runtime.session import read_manifest

    read_manifest(model)  # loads fine: only the checksum can tell
    registry_entry = next(e for e in registry.list_models() if e.path == model)
    assert not registry_entry.ok and "checksum mismatch" in registry_entry.error
    with pytest.raises(ModelError, match="checksum mismatch.*polychrome models --write-sums"):
        registry.find_model("mine")
    with pytest.raises(ModelError, match="checksum mismatch"):
        registry.find_model(str(model))  # by path too
    src = tmp_path / "a.png"
    from PIL import Image

    Image.new("L", (64, 48), 100).save(src)
    assert main(["colorize", str(src), "--model", "mine", "--no-progress"]) == 2
    assert "checksum mismatch" in capsys.readouterr().err
    assert not list(tmp_path.glob("a_color*"))


def test_shipped_models_match_their_sums():
    folder = ROOT / "models"
    sums = registry.read_sums(folder)
    assert sums is not None, "models/SHA256SUMS is missing: run `polychrome models --write-sums models`"
    for f in folder.glob("*.onnx"):
        assert sums.get(f.name) == file_sha256(f), f"{f.name}: regenerate with `polychrome models --write-sums`"


def test_a_name_found_twice_is_a_warning_naming_both_files(tmp_path, known_model, monkeypatch, capsys,
                                                            _isolated_user_models):
    user_copy = _isolated_user_models / "known.onnx"
    shutil.copy(known_model, user_copy)
    other = tmp_path / "elsewhere"
    other.mkdir()
    shadow = other / "known.onnx"
    shutil.copy(known_model, shadow)
    monkeypatch.setenv("POLYCHROME_MODEL_PATH", str(other))
    entry = registry.find_model("known")
    assert entry.path == shadow
    assert any(str(shadow) in w and str(user_copy) in w and "found twice" in w for w in entry.warnings)
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "warning: model name 'known' found twice" in out and str(user_copy) in out


@pytest.mark.parametrize("over, words", [
    ({"input_size": 12000}, "input_size 12000 is outside 16..2048"),
    ({"input_size": 8, "stride": 4}, "input_size 8 is outside"),
    ({"name": " "}, "the name is empty"),
])
def test_metadata_out_of_bounds_is_a_clear_error(tmp_path, bins, over, words):
    from onnx_models import known_ab_model

    path = known_ab_model(tmp_path / "big.onnx", bins, **over)
    with pytest.raises(ModelError, match="metadata out of bounds") as exc:
        registry.find_model(str(path))
    assert words in str(exc.value) and str(path) in str(exc.value)


def test_the_banner_and_the_record_carry_the_sha256(tmp_path, known_model):
    from PIL import Image

    Image.new("L", (64, 48), 100).save(tmp_path / "a.png")
    out = tmp_path / "out"
    res = subprocess.run([sys.executable, "-m", "polychrome.cli.main", "colorize", str(tmp_path / "a.png"), "-o",
                          str(out), "--model", str(known_model), "--no-progress"], capture_output=True, text=True,
                         timeout=120)
    sha = file_sha256(known_model)
    assert res.returncode == 0 and f"(sha256 {sha[:12]})" in res.stderr
    lines = [json.loads(x) for x in (out / "polychrome-batch.jsonl").read_text().splitlines()]
    assert next(e for e in lines if e["event"] == "spec")["model_sha256"] == sha


def test_the_app_status_bar_shows_the_sha256(qtbot, known_model, tmp_path):
    pytest.importorskip("PySide6")
    from polychrome.gui.main_window import MainWindow
    from polychrome.gui.queue.controller import ColorizeController
    from polychrome.runtime.colorizer import Colorizer

    c = ColorizeController(Colorizer(str(known_model)))
    window = MainWindow(c)
    qtbot.addWidget(window)
    window.resize(1100, 700)
    window.show()
    text = window.provider_label.text()
    assert f"sha256 {file_sha256(known_model)[:12]}" in text and "test-model" in text
    shots = ROOT / "docs" / "screenshots"
    if shots.is_dir():
        window.grab().save(str(tmp_path / "status_bar_sha.png"))
