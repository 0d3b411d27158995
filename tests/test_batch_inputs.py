"""Nothing skipped in silence: every entry of a walk that is not processed is named with its reason and counted;
damaged decodes are errors; multi-page inputs warn (or --all-pages); long names survive their temp name; bad
arguments are refused before any model is loaded. Real files, FIFOs, symbolic links, permissions and processes."""

import os
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image

from polychrome.cli.main import main
from polychrome.core import imageio
from polychrome.core.errors import ImageReadError
from polychrome.runtime.inputs import collect_inputs


def gray(path: Path, seed: int = 0, size=(48, 64)) -> Path:
    rng = np.random.default_rng(seed)
    g = np.tile(np.linspace(30, 220, size[1]), (size[0], 1)) + rng.normal(0, 3, size)
    Image.fromarray(np.clip(g, 0, 255).astype(np.uint8)).save(path)
    return path


def run(args, model):
    return main(["colorize", *map(str, args), "--model", str(model), "--no-progress"])


@pytest.mark.skipif(os.name != "posix", reason="FIFOs and symbolic links")
def test_every_skipped_entry_is_named_with_its_reason_and_counted(tmp_path, known_model, capsys):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    gray(src / "a.png")
    gray(src / "sub" / "b.png", 1)
    (src / "anim.gif").write_bytes(b"GIF89a...")
    (src / "notes.txt").write_text("x")
    (src / ".hidden.png").write_bytes(b"x")
    os.mkfifo(src / "pipe.png")  # a FIFO with an image name: reading it would hang forever
    os.symlink(src / "nowhere.png", src / "dangling.png")
    os.symlink("loop2.png", src / "loop1.png")
    os.symlink("loop1.png", src / "loop2.png")
    os.symlink(src, src / "sub" / "back")  # a folder link back up: a loop
    rc = run([src, "-o", tmp_path / "out"], known_model)
    err = capsys.readouterr().err
    assert rc == 0
    expect = {
        "anim.gif": "unsupported format .gif", "notes.txt": "unsupported format .txt", ".hidden.png": "hidden file",
        "pipe.png": "a FIFO", "dangling.png": "broken symbolic link", "loop1.png": "symbolic link loop",
        "loop2.png": "symbolic link loop", "back": "symbolic link loop (leads back to",
    }
    for name, words in expect.items():
        line = next((ln for ln in err.splitlines() if ln.startswith("skipped: ") and f"/{name}:" in ln), None)
        assert line is not None and words in line, (name, err)
    assert "2 colorized, 0 failed, 8 skipped (" in err and "3 link loop" in err and "2 unsupported" in err


def _as_nobody():
    """Run a command as an unprivileged user when we are root (root reads everything)."""
    if os.geteuid() != 0:
        return {}
    import pwd

    try:
        pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no unprivileged user to run as")
    return {"user": "nobody", "group": "nogroup" if _has_group("nogroup") else None}


def _has_group(name):
    import grp

    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_unreadable_folder_and_a_file_under_it_are_reported_and_the_batch_goes_on(known_model):
    base = Path(tempfile.mkdtemp(prefix="polychrome-perm-"))  # outside pytest's private (0700) folder
    try:
        os.chmod(base, 0o777)
        src = base / "in"
        (src / "locked").mkdir(parents=True)
        gray(src / "a.png")
        gray(src / "locked" / "c.png")
        model = base / "model.onnx"
        shutil.copy(known_model, model)
        out = base / "out"
        out.mkdir()
        for p in [base, src, out, src / "a.png", model, src / "locked" / "c.png"]:
            os.chmod(p, 0o777 if p.is_dir() else 0o666)
        os.chmod(src / "locked", 0o000)
        kw = _as_nobody()
        try:
            subprocess.run([sys.executable, "-c", "pass"], check=True, timeout=60, **kw)
        except (PermissionError, subprocess.CalledProcessError):
            pytest.skip("the unprivileged user cannot run this interpreter (see the simulated test below)")
        env = dict(os.environ, OMP_NUM_THREADS="1", HOME=str(base), POLYCHROME_USER_MODELS=str(base / "um"))
        cmd = [sys.executable, "-m", "polychrome.cli.main", "colorize", str(src), str(src / "locked" / "c.png"),
               "-o", str(out), "--model", str(model), "--no-progress"]
        res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, **kw)
        assert "Traceback" not in res.stderr, res.stderr
        assert f"error: {src / 'locked'}: cannot open the folder: permission denied" in res.stderr
        assert f"error: {src / 'locked' / 'c.png'}: permission denied" in res.stderr
        assert res.returncode == 1 and (out / "a_color.png").is_file()  # the batch went on
    finally:
        os.chmod(base / "in" / "locked", 0o755)
        shutil.rmtree(base, ignore_errors=True)


def test_permission_errors_while_walking_are_reported_not_raised(tmp_path, monkeypatch, capsys, known_model):
    """The same as above where the tests run as root: the OS's PermissionError, raised where it would be."""
    src = tmp_path / "in"
    (src / "locked").mkdir(parents=True)
    gray(src / "a.png")
    gray(src / "locked" / "c.png")
    locked = str(src / "locked")
    real_scandir, real_stat = os.scandir, os.stat

    def scandir(path="."):
        if str(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    def stat(path, *a, **kw):
        if str(path).startswith(locked + os.sep):
            raise PermissionError(13, "Permission denied", str(path))
        return real_stat(path, *a, **kw)

    monkeypatch.setattr(os, "scandir", scandir)
    monkeypatch.setattr(os, "stat", stat)
    rc = run([src, src / "locked" / "c.png", "-o", tmp_path / "out"], known_model)
    err = capsys.readouterr().err
    assert rc == 1 and (tmp_path / "out" / "a_color.png").is_file()
    assert f"error: {locked}: cannot open the folder: permission denied" in err
    assert f"error: {src / 'locked' / 'c.png'}: permission denied" in err


def _jpeg_bytes(size=(400, 600)) -> bytes:
    rng = np.random.default_rng(0)
    img = cv2.GaussianBlur(rng.integers(0, 255, size).astype(np.uint8), (0, 0), 3)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    return bytes(buf)


def test_damaged_jpegs_are_errors_not_gray_images(tmp_path):
    data = bytearray(_jpeg_bytes())
    zeroed = bytearray(data)
    mid = len(zeroed) // 2
    zeroed[mid:mid + 200] = bytes(200)  # 200 zeroed bytes in the entropy-coded data
    (tmp_path / "zeroed.jpg").write_bytes(zeroed)
    sof = data.find(b"\xff\xc0")
    claims = bytearray(data[:1500])  # 1.5 KB whose header claims 14000×14000
    claims[sof + 5:sof + 9] = struct.pack(">HH", 14000, 14000)
    (tmp_path / "claims.jpg").write_bytes(claims + b"\xff\xd9")
    for name in ("zeroed.jpg", "claims.jpg"):
        with pytest.raises(ImageReadError, match="truncated or corrupt: libjpeg reports"):
            imageio.read_image(tmp_path / name)
    (tmp_path / "fine.jpg").write_bytes(data)
    ref = cv2.imdecode(np.frombuffer(bytes(data), np.uint8), cv2.IMREAD_GRAYSCALE)
    got = imageio.read_image(tmp_path / "fine.jpg").pixels
    assert np.abs(got.astype(int) - ref).max() <= 1  # an intact JPEG decodes as before


def test_multi_page_tiff_warns_and_all_pages_colorizes_each(tmp_path, known_model, capsys):
    pages = np.stack([np.full((48, 64), v, np.uint8) for v in (60, 120, 200)])
    tifffile.imwrite(tmp_path / "book.tif", pages, photometric="minisblack")
    assert imageio.page_count(tmp_path / "book.tif") == 3
    out = tmp_path / "out"
    assert run([tmp_path / "book.tif", "-o", out], known_model) == 0
    err = capsys.readouterr().err
    assert "warning: " in err and "book.tif: has 3 pages; only the first is colorized (--all-pages" in err
    assert run([tmp_path / "book.tif", "-o", out / "all", "--all-pages"], known_model) == 0
    names = sorted(p.name for p in (out / "all").glob("*.tif"))
    assert names == ["book_p1_color.tif", "book_p2_color.tif", "book_p3_color.tif"]
    means = [imageio.read_image(out / "all" / n).pixels.mean() for n in names]
    assert means[0] < means[1] < means[2]  # each page is its own page


def test_animated_png_warns(tmp_path, known_model, capsys):
    frames = [Image.fromarray(np.full((48, 64), v, np.uint8)) for v in (50, 150)]
    frames[0].save(tmp_path / "anim.png", save_all=True, append_images=frames[1:])
    assert run([tmp_path / "anim.png", "-o", tmp_path / "out"], known_model) == 0
    assert "anim.png: has 2 frames; only the first is colorized" in capsys.readouterr().err


def test_a_long_legal_name_is_not_failed_by_its_temp_name(tmp_path, known_model):
    name = "漢" * 78  # 234 bytes; with "_color.png" 244 bytes: legal; the temp name used to add 14
    src = gray(tmp_path / f"{name}.png")
    out = tmp_path / "out"
    assert run([src, "-o", out], known_model) == 0
    written = out / f"{name}_color.png"
    assert written.is_file() and len(written.name.encode()) == 244
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("args, words", [
    (["--quality", "0"], "--quality must be 1..100"),
    (["--input-size", "0"], "--input-size must be 16..2048"),
    (["--input-size", "12000"], "--input-size must be 16..2048"),
    (["--max-side", "-5"], "--max-side must be at least 8"),
    (["--max-pixels", "0"], "--max-pixels must be a positive number"),
])
def test_bad_arguments_are_refused_before_any_model_loads(tmp_path, capsys, args, words):
    src = gray(tmp_path / "a.png")
    broken_model = tmp_path / "broken.onnx"
    broken_model.write_bytes(b"not a model")  # loading it would fail with another message
    with pytest.raises(SystemExit) as exc:
        main(["colorize", str(src), "--model", str(broken_model), *args])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert words in err and "broken.onnx" not in err
    assert not list(tmp_path.glob("*_color*"))


def test_collect_inputs_counts_by_kind(tmp_path):
    gray(tmp_path / "a.png")
    gray(tmp_path / "a_color.png")
    (tmp_path / "b.gif").write_bytes(b"GIF89a")
    found = collect_inputs([str(tmp_path), str(tmp_path / "missing.png")])
    assert [p.name for p in found.files] == ["a.png"]
    assert found.counts() == {"our output": 1, "unsupported": 1, "not found": 1}
    assert [s.path.name for s in found.errors] == ["missing.png"]
