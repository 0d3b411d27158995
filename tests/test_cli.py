"""The command line, end to end: real files on disk, a real ONNX model run by onnxruntime."""

import csv
import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image

from polychrome.cli.main import main
from polychrome.core.color import gray_to_lightness, srgb_to_lab
from polychrome.core.imageio import read_image

ROOT = Path(__file__).resolve().parent.parent


def _gray_img(path: Path, size=(48, 64), value=None, seed=0):
    rng = np.random.default_rng(seed)
    h, w = size
    g = np.tile(np.linspace(30, 220, w), (h, 1)) if value is None else np.full(size, value)
    g = np.clip(g + rng.normal(0, 3, size), 0, 255).astype(np.uint8)
    Image.fromarray(g).save(path)
    return path


def _png_with_fake_size(path: Path, w: int, h: int):
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)  # noqa
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 10)) + chunk(b"IEND", b"")
    )
    return path


def _no_temp_files(folder: Path):
    return [p for p in folder.rglob("*") if p.name.startswith(".") or p.suffix == ".tmp"]


def test_batch_with_hostile_inputs_reports_each_and_completes(tmp_path, known_model, capsys):
    src = tmp_path / "in"
    src.mkdir()
    good = [_gray_img(src / f"good{i}.png", seed=i) for i in range(3)]
    (src / "empty.jpg").write_bytes(b"")
    jpg = src / "truncated.jpg"
    Image.fromarray(np.full((64, 64), 128, np.uint8)).save(jpg, quality=90)
    jpg.write_bytes(jpg.read_bytes()[: len(jpg.read_bytes()) // 2])
    (src / "notes.png").write_text("this is not an image")
    Image.fromarray(np.zeros((1, 1), np.uint8)).save(src / "tiny.png")
    _png_with_fake_size(src / "bomb.png", 50_000, 50_000)
    out = tmp_path / "out"
    rc = main(["colorize", str(src), "-o", str(out), "--model", str(known_model), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 1
    lines = [ln for ln in err.splitlines() if ln.startswith("error: ")]
    assert len(lines) == 5, err
    for name, words in [("empty.jpg", "empty"), ("truncated.jpg", "truncated"), ("notes.png", "not"),
                        ("tiny.png", "1×1"), ("bomb.png", "50000×50000")]:
        line = next(ln for ln in lines if name in ln)
        assert words in line, line
    assert "3 colorized, 5 failed" in err
    made = sorted(p.name for p in out.iterdir())
    assert made == ["good0_color.png", "good1_color.png", "good2_color.png", "polychrome-batch.jsonl"]
    assert not _no_temp_files(out)
    for g in good:  # inputs untouched
        assert read_image(g).pixels.shape == (48, 64)


def test_unwritable_output_folder_is_one_clear_line(tmp_path, known_model, capsys):
    src = _gray_img(tmp_path / "a.png")
    blocker = tmp_path / "out"
    blocker.write_text("a file where the folder should be")
    rc = main(["colorize", str(src), "-o", str(blocker), "--model", str(known_model), "--no-progress"])
    err = capsys.readouterr().err
    assert rc != 0 and "not a folder" in err and str(blocker) in err
    assert blocker.read_text() == "a file where the folder should be"


def test_write_failure_per_file_keeps_batch_going(tmp_path, known_model, capsys):
    src = tmp_path / "in"
    src.mkdir()
    _gray_img(src / "a.png")
    _gray_img(src / "b.png")
    out = tmp_path / "out"
    out.mkdir()
    (out / "a_color.png").mkdir()  # a folder squats the first output name: --overwrite cannot replace it
    rc = main(["colorize", str(src), "-o", str(out), "--model", str(known_model), "--no-progress", "--overwrite"])
    err = capsys.readouterr().err
    assert rc == 1 and "a.png" in err and "1 colorized, 1 failed" in err
    assert (out / "b_color.png").is_file()
    assert not _no_temp_files(out)


def test_existing_outputs_and_inputs_are_never_overwritten(tmp_path, known_model, capsys):
    src = _gray_img(tmp_path / "photo.png")
    before = src.read_bytes()
    existing = tmp_path / "photo_color.png"
    existing.write_bytes(b"user's own file")
    assert main(["colorize", str(src), "--model", str(known_model), "--no-progress"]) == 0
    assert existing.read_bytes() == b"user's own file"
    assert (tmp_path / "photo_color (2).png").is_file()
    # an empty suffix would name the output like the input: the input must survive even with --overwrite
    rc = main(["colorize", str(src), "--suffix", "", "--overwrite", "--model", str(known_model), "--no-progress"])
    assert src.read_bytes() == before
    assert rc == 1 and "photo.png" in capsys.readouterr().err


def test_sixteen_bit_gray_tiff_with_icc_becomes_sixteen_bit_rgb_tiff(tmp_path, known_model):
    from polychrome.core.imageio import srgb_icc_profile

    icc = srgb_icc_profile()
    y, x = np.mgrid[0:120, 0:200]
    g16 = (8000 + 250 * x + 40 * y).clip(0, 65535).astype(np.uint16)
    src = tmp_path / "scan.tif"
    tifffile.imwrite(src, g16, photometric="minisblack", extratags=[(34675, 7, len(icc), icc, True)])
    out = tmp_path / "out"
    assert main(["colorize", str(src), "-o", str(out), "--model", str(known_model), "--no-progress"]) == 0
    res = out / "scan_color.tif"
    with tifffile.TiffFile(res) as tf:
        page = tf.pages[0]
        arr = page.asarray()
        assert page.tags[34675].value == icc
    assert arr.dtype == np.uint16 and arr.shape == (120, 200, 3)
    L_in = gray_to_lightness(g16)
    assert np.abs(srgb_to_lab(arr)[..., 0] - L_in).max() < 0.5
    assert np.abs(arr[..., 0].astype(int) - arr[..., 2]).max() > 100  # it is coloured


def test_jpeg_with_exif_orientation_6_comes_out_upright_with_exif(tmp_path, known_model):
    g = np.full((40, 80), 100, np.uint8)  # stored landscape 80×40
    g[:8, :8] = 250  # marker at stored top-left
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    exif[0x010F] = "Polychrome Test Camera"
    src = tmp_path / "rotated.jpg"
    Image.fromarray(g).save(src, exif=exif.tobytes(), quality=95)
    out = tmp_path / "out"
    assert main(["colorize", str(src), "-o", str(out), "--model", str(known_model), "--no-progress"]) == 0
    res = Image.open(out / "rotated_color.jpg")
    assert res.size == (40, 80)  # upright: portrait
    arr = np.asarray(res.convert("L"))
    assert arr[:8, -8:].mean() > 200  # the marker is now top-right
    ex = res.getexif()
    assert ex.get(0x010F) == "Polychrome Test Camera"
    assert ex.get(0x0112, 1) == 1


def test_formats_bit_depth_suffix_and_max_side(tmp_path, known_model):
    src = _gray_img(tmp_path / "p.png", size=(100, 160))
    out = tmp_path / "o"
    args = ["colorize", str(src), "-o", str(out), "--model", str(known_model), "--no-progress"]
    assert main(args + ["--format", "tiff", "--bit-depth", "16", "--suffix=-x"]) == 0
    a = tifffile.imread(out / "p-x.tif")
    assert a.dtype == np.uint16 and a.shape == (100, 160, 3)
    assert main(args + ["--format", "jpeg", "--max-side", "80", "--quality", "80"]) == 0
    assert Image.open(out / "p_color.jpg").size == (80, 50)
    assert main(args + ["--temperature", "0.05", "--upsample", "guided", "--suffix", "_g"]) == 0
    assert (out / "p_g.png").is_file()
    assert main(args + ["--gamut", "clip", "--suffix", "_c"]) == 0
    assert (out / "p_c.png").is_file()


def test_temperature_option_sets_the_rendered_T(tmp_path, known_model):
    """-t / --temperature reach the pixels: each output is the prediction rendered at exactly that T."""
    from polychrome.runtime.colorizer import Colorizer

    src = _gray_img(tmp_path / "p.png", size=(100, 160))
    out = tmp_path / "o"
    args = ["colorize", str(src), "-o", str(out), "--model", str(known_model), "--no-progress"]
    assert main(args + ["-t", "0.05", "--suffix", "_t005"]) == 0
    assert main(args + ["--temperature", "1.0", "--suffix", "_t1"]) == 0
    assert main(args + ["--suffix", "_default"]) == 0
    pred = Colorizer(known_model).predict(read_image(src).pixels)
    for suffix, T in (("_t005", 0.05), ("_t1", 1.0), ("_default", 0.38)):
        got = read_image(out / f"p{suffix}.png").pixels
        np.testing.assert_array_equal(got, pred.render(T, out_dtype=np.uint8), err_msg=suffix)
    a, b = (read_image(out / f"p{s}.png").pixels.astype(int) for s in ("_t005", "_t1"))
    assert np.abs(a - b).max() > 10  # the two temperatures give visibly different colours


def _gray_icc_profile() -> bytes:
    """A minimal ICC v2 display profile whose colour space is GRAY (a 128-byte header and an empty tag table)."""
    header = bytearray(128)
    struct.pack_into(">I", header, 0, 132)
    header[8:12] = bytes([2, 0x10, 0, 0])
    header[12:16], header[16:20], header[20:24], header[36:40] = b"mntr", b"GRAY", b"XYZ ", b"acsp"
    struct.pack_into(">iii", header, 68, 63190, 65536, 54061)  # D50 illuminant (s15Fixed16)
    return bytes(header) + struct.pack(">I", 0)


def test_gray_icc_source_gets_an_srgb_output(tmp_path, known_model):
    """README: a gray profile cannot describe RGB data, so a gray-profiled scan comes out tagged sRGB."""
    from polychrome.core.imageio import srgb_icc_profile, write_image

    gray_icc = _gray_icc_profile()
    src = write_image(tmp_path / "scan.png", read_image(_gray_img(tmp_path / "g.png")).pixels, icc=gray_icc)
    assert read_image(src).icc_colorspace == "GRAY"
    out = tmp_path / "o"
    for fmt, name in (("png", "scan_color.png"), ("tiff", "scan_color.tif"), ("jpeg", "scan_color.jpg")):
        args = ["colorize", str(src), "-o", str(out), "--model", str(known_model), "--no-progress", "--format", fmt]
        assert main(args) == 0
        res = read_image(out / name)
        assert res.pixels.ndim == 3 and res.icc_colorspace == "RGB", fmt
        assert res.icc == srgb_icc_profile(), fmt


def test_glob_and_missing_paths(tmp_path, known_model, capsys):
    _gray_img(tmp_path / "x1.png")
    _gray_img(tmp_path / "x2.png")
    rc = main(["colorize", str(tmp_path / "x*.png"), str(tmp_path / "nope.png"), "-o", str(tmp_path / "o"),
               "--model", str(known_model), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 1 and "nope.png: file not found" in err and "2 colorized, 1 failed" in err


def test_no_model_installed_says_so(tmp_path, monkeypatch, capsys):
    from polychrome.runtime import registry

    monkeypatch.setattr(registry, "shipped_model_dirs", lambda: [])
    src = _gray_img(tmp_path / "a.png")
    assert main(["colorize", str(src), "--no-progress"]) == 2
    assert "No colorization model is installed" in capsys.readouterr().err
    assert main(["models"]) == 0
    assert "No colorization model is installed" in capsys.readouterr().out
    assert main(["self-test"]) == 0
    assert "WARN" in capsys.readouterr().out
    assert main(["self-test", "--require-model"]) == 1


def test_self_test_and_models_with_a_model(tmp_path, known_model, monkeypatch, capsys):
    monkeypatch.setenv("POLYCHROME_DEFAULT_MODEL", str(known_model))
    out = tmp_path / "sample.png"
    assert main(["self-test", "--require-model", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "self-test passed" in text and "FAIL" not in text
    assert out.is_file()
    monkeypatch.setenv("POLYCHROME_MODEL_PATH", str(known_model.parent))
    assert main(["models", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert any(m["name"] == "test-model" and m["ok"] for m in data["models"])


def test_evaluate_tables(tmp_path, known_model, capsys):
    rng = np.random.default_rng(0)
    for i in range(2):
        rgb = np.dstack([np.tile(np.linspace(40, 200, 64), (48, 1))] * 3) + rng.normal(0, 4, (48, 64, 3))
        rgb[..., 0] += 30
        Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(tmp_path / f"c{i}.png")
    _gray_img(tmp_path / "g.png")  # gray: refused with a reason
    args = ["evaluate", str(tmp_path / "c0.png"), str(tmp_path / "c1.png"), str(tmp_path / "g.png"),
            "--model", str(known_model), "--no-progress", "-t", "0.2,1.0"]
    rc = main(args + ["--format", "csv", "--output", str(tmp_path / "r.csv")])
    assert rc == 1 and "grayscale" in capsys.readouterr().err
    rows = list(csv.DictReader(open(tmp_path / "r.csv")))
    assert {r["T"] for r in rows} >= {"0.2", "1.0", "gray"}
    assert len([r for r in rows if r["image"] != "MEAN"]) == 6  # 2 images × (2 T + gray)
    mean = {r["T"]: r for r in rows if r["image"] == "MEAN"}
    assert float(mean["gray"]["colorfulness"]) < 1e-6
    assert main(args[:3] + args[4:] + ["--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["mean"]) == 3 and {"psnr", "ssim", "auc", "delta_e", "colorfulness"} <= set(data["mean"][0])
    assert main(args[:3] + args[4:]) == 0
    assert "PSNR" in capsys.readouterr().out


def test_console_script_runs(tmp_path):
    res = subprocess.run([sys.executable, "-m", "polychrome", "--version"], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT / "app")})
    assert res.returncode == 0 and "polychrome" in res.stdout


def test_colorize_runs_numpy_blas_on_one_thread(tmp_path, known_model):
    """onnxruntime and OpenCV bring their own threads; the CLI keeps OpenBLAS's from spinning beside them."""
    img = _gray_img(tmp_path / "a.png")
    code = (
        "import sys\n"
        "from polychrome.cli.main import main\n"
        f"rc = main(['colorize', {str(img)!r}, '--model', {str(known_model)!r}, '-o', {str(tmp_path / 'out')!r}])\n"
        "from threadpoolctl import threadpool_info\n"
        "print('blas threads', max(i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas'))\n"
        "sys.exit(rc)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "app"), "OPENBLAS_NUM_THREADS": "2"}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=180)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "blas threads 1" in res.stdout and (tmp_path / "out").is_dir(), res.stdout
