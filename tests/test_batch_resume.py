"""Resume and provenance: the batch record, re-runs, kill -9 of a real `polychrome colorize` process, SIGTERM,
stale temp files, outputs never taken as inputs, --redo and --report. Real files, real processes, a real ONNX model."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from polychrome.cli.main import main
from polychrome.core import imageio
from polychrome.runtime.batch import RECORD_NAME, BatchBusy, BatchRecord, RunSpec, plan_run

ROOT = Path(__file__).resolve().parent.parent


def gray(path: Path, seed: int = 0, size=(48, 64)) -> Path:
    rng = np.random.default_rng(seed)
    h, w = size
    g = np.tile(np.linspace(30, 220, w), (h, 1)) + rng.normal(0, 3, size) + 10 * seed
    Image.fromarray(np.clip(g, 0, 255).astype(np.uint8)).save(path)
    return path


def folder_of(tmp: Path, n: int, size=(48, 64)) -> Path:
    src = tmp / "in"
    src.mkdir()
    for i in range(n):
        gray(src / f"img{i:02d}.png", i, size)
    return src


def record(folder: Path):
    return [json.loads(line) for line in (folder / RECORD_NAME).read_text().splitlines() if line.strip()]


def outputs(folder: Path):
    return sorted(p.name for p in folder.iterdir() if p.name != RECORD_NAME)


def run(args, model):
    return main(["colorize", *map(str, args), "--model", str(model), "--no-progress"])


def test_rerun_skips_done_work_and_records_provenance(tmp_path, known_model, capsys):
    src = folder_of(tmp_path, 4)
    out = tmp_path / "out"
    assert run([src, "-o", out], known_model) == 0
    first = {p: (out / p).stat().st_mtime_ns for p in outputs(out)}
    assert sorted(first) == [f"img{i:02d}_color.png" for i in range(4)]
    capsys.readouterr()

    assert run([src, "-o", out], known_model) == 0  # same command: nothing written again, no "(2)"
    err = capsys.readouterr().err
    assert "0 colorized, 0 failed, 4 already done" in err and "not loaded: nothing to do" in err
    assert {p: (out / p).stat().st_mtime_ns for p in outputs(out)} == first

    lines = record(out)
    spec = next(e for e in lines if e["event"] == "spec")
    from polychrome.runtime.session import file_sha256

    assert spec["model"] == "test-model" and spec["model_version"] == "0.0.1"
    assert spec["model_sha256"] == file_sha256(known_model) and spec["T"] == pytest.approx(0.38)
    assert spec["options"]["format"] == "same" and spec["options"]["input_size"] == 64
    done = [e for e in lines if e["event"] == "done"]
    assert len(done) == 4 and all(e["key"] == spec["key"] for e in done)
    e = done[0]
    s = (src / "img00.png").stat()
    assert e["source"] == str(src / "img00.png") and e["size"] == s.st_size and e["mtime_ns"] == s.st_mtime_ns
    assert e["output"] == "img00_color.png" and e["output_size"] == (out / "img00_color.png").stat().st_size
    runs = [e for e in lines if e["event"] == "run"]
    assert len(runs) == 2 and runs[0]["extra"]["model_sha256"] == spec["model_sha256"]


def test_changed_failed_and_user_edited_are_redone_others_skipped(tmp_path, known_model, capsys):
    src = folder_of(tmp_path, 4)
    (src / "bad.png").write_bytes(b"not a png at all")
    out = tmp_path / "out"
    assert run([src, "-o", out], known_model) == 1
    before = {p: (out / p).read_bytes() for p in outputs(out)}
    capsys.readouterr()

    gray(src / "img01.png", seed=7)  # the source changed: redone, its own earlier output replaced (no "(2)")
    os.utime(src / "img01.png", ns=(time.time_ns(), time.time_ns() + 10**9))
    gray(src / "bad.png", seed=3)  # failed last time, fixed now
    (out / "img02_color.png").write_bytes(b"the user's own edit")  # changed after we wrote it: theirs now
    assert run([src, "-o", out], known_model) == 0
    err = capsys.readouterr().err
    assert "3 colorized, 0 failed, 2 already done" in err
    names = outputs(out)
    assert names == ["bad_color.png", "img00_color.png", "img01_color.png", "img02_color (2).png",
                     "img02_color.png", "img03_color.png"]
    assert (out / "img02_color.png").read_bytes() == b"the user's own edit"
    assert (out / "img01_color.png").read_bytes() != before["img01_color.png"]
    assert (out / "img00_color.png").read_bytes() == before["img00_color.png"]


def test_other_options_are_new_work_and_redo_replaces_only_our_own(tmp_path, known_model, capsys):
    src = folder_of(tmp_path, 2)
    out = tmp_path / "out"
    assert run([src, "-o", out], known_model) == 0
    assert run([src, "-o", out, "-t", "0.9"], known_model) == 0  # another T: new outputs, earlier ones kept
    assert outputs(out) == ["img00_color (2).png", "img00_color.png", "img01_color (2).png", "img01_color.png"]
    stamps = {p: (out / p).stat().st_mtime_ns for p in outputs(out)}
    capsys.readouterr()
    assert run([src, "-o", out, "--redo"], known_model) == 0
    assert "2 colorized" in capsys.readouterr().err
    assert outputs(out) == sorted(stamps)  # --redo replaced our own outputs in place: no third copy
    assert (out / "img00_color.png").stat().st_mtime_ns != stamps["img00_color.png"]
    assert (out / "img00_color (2).png").stat().st_mtime_ns == stamps["img00_color (2).png"]


@pytest.mark.parametrize("inside", [False, True])
def test_outputs_are_never_taken_as_inputs(tmp_path, known_model, capsys, inside):
    src = folder_of(tmp_path, 3)
    out = src / "colorized" if inside else src  # inside the input folder, or the input folder itself
    for _ in range(3):
        assert run([src, "-o", out], known_model) == 0
    files = sorted(p.name for p in out.iterdir() if p.suffix == ".png")
    expected = [f"img{i:02d}_color.png" for i in range(3)] + ([] if inside else [f"img{i:02d}.png" for i in range(3)])
    assert files == sorted(expected)  # 3 → 3 → 3, never _color_color
    err = capsys.readouterr().err
    if inside:
        assert f"skipped: {out}: the output folder of this run" in err
    else:
        assert "img00_color.png: an output of an earlier Polychrome run" in err
    # even without the record, a file named like our output beside its source is not an input
    (out / RECORD_NAME).unlink()
    capsys.readouterr()
    run([src, "-o", out, "--redo"], known_model)
    err = capsys.readouterr().err
    if not inside:
        assert "img00_color.png: named like Polychrome's output of img00" in err
    assert not any("_color_color" in p.name for p in out.rglob("*"))


def test_stale_temp_files_of_a_killed_run_are_removed_at_start(tmp_path, known_model, capsys):
    src = folder_of(tmp_path, 1)
    out = tmp_path / "out"
    out.mkdir()
    stale = out / ".img00_color.png.0badc0de.tmp"
    stale.write_bytes(b"half an image")
    mine = out / ".notes.txt"  # not our pattern: never touched
    mine.write_text("keep")
    assert run([src, "-o", out], known_model) == 0
    assert not stale.exists() and mine.read_text() == "keep"
    assert f"removed: {stale}: temporary file left by an interrupted run" in capsys.readouterr().err


def test_a_second_run_into_the_same_folder_is_refused_while_one_runs(tmp_path):
    spec = RunSpec("m", "1", "0" * 64, 0.38, {})
    src = gray(tmp_path / "a.png")
    with plan_run([src], spec, tmp_path / "", redo=False) as plan:
        assert plan.todo and plan.todo[0].reason == "new"
        with pytest.raises(BatchBusy, match="another Polychrome run"):
            plan_run([src], spec, tmp_path)
    plan_run([src], spec, tmp_path).close()  # free again once closed


def test_torn_last_line_is_ignored(tmp_path):
    spec = RunSpec("m", "1", "0" * 64, 0.38, {})
    src = gray(tmp_path / "a.png")
    out = tmp_path / "a_color.png"
    with plan_run([src], spec, tmp_path) as plan:
        item = plan.todo[0]
        plan.claim(item, out)
        out.write_bytes(b"x")
        plan.mark_done(item, out)
    with open(tmp_path / RECORD_NAME, "ab") as f:
        f.write(b'{"event":"done","source":"/else')  # a crash in the middle of a line
    with BatchRecord.open(tmp_path) as rec:
        assert rec.torn_lines == 1 and rec.is_done(src, spec.key)


def test_report_csv_lists_every_entry(tmp_path, known_model):
    src = folder_of(tmp_path, 2)
    (src / "notes.gif").write_bytes(b"GIF89a")
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    out = tmp_path / "out"
    report = tmp_path / "report.csv"
    assert run([src, "-o", out, "--report", report], known_model) == 1
    run([src, "-o", out, "--report", report], known_model)
    rows = list(csv.DictReader(report.open(encoding="utf-8")))
    by = {Path(r["source"]).name: r for r in rows}
    assert by["notes.gif"]["status"] == "skipped" and ".gif" in by["notes.gif"]["reason"]
    assert by["broken.png"]["status"] == "failed" and by["broken.png"]["output"] == ""
    assert by["img00.png"]["status"] == "skipped" and "done earlier" in by["img00.png"]["reason"]
    assert by["img00.png"]["output"] == str(out / "img00_color.png")


# -- real processes ---------------------------------------------------------------------------------------------


def _cli(*args):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    return [sys.executable, "-m", "polychrome.cli.main", "colorize", *map(str, args), "--no-progress"], env


def _wait_for_done(out: Path, n: int, proc, timeout=120.0):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc.poll() is not None:
            return False
        try:
            if sum(1 for e in record(out) if e["event"] == "done") >= n:
                return True
        except (FileNotFoundError, json.JSONDecodeError):
            pass
        time.sleep(0.02)
    return False


@pytest.mark.slow
def test_kill_9_of_a_real_batch_then_the_rerun_resumes(tmp_path, known_model):
    n = 24
    src = folder_of(tmp_path, n, size=(900, 1200))  # big enough that the kill lands mid-batch
    out = tmp_path / "out"
    cmd, env = _cli(src, "-o", out, "--model", known_model)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert _wait_for_done(out, 5, proc), proc.communicate()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first = {e["source"] for e in record(out) if e["event"] == "done"}
    assert 5 <= len(first) < n
    stamps = {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.name.endswith("_color.png")}

    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert f"{n - len(first)} colorized, 0 failed, {len(first)} already done" in res.stderr
    names = outputs(out)
    assert names == [f"img{i:02d}_color.png" for i in range(n)]  # each once: no "(2)", no temp file left
    for name, stamp in stamps.items():  # what the killed run finished is not written again
        src_key = str(src / name.replace("_color", ""))
        if src_key in first:
            assert (out / name).stat().st_mtime_ns == stamp
    for name in names:  # none corrupt
        assert imageio.read_image(out / name).pixels.shape == (900, 1200, 3)
    done_now = [e["source"] for e in record(out) if e["event"] == "done"]
    assert sorted(done_now) == sorted({str(src / f"img{i:02d}.png") for i in range(n)})  # each done once


@pytest.mark.slow
@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_sigterm_and_ctrl_c_stop_cleanly_and_say_how_to_resume(tmp_path, known_model, sig, code):
    n = 16
    src = folder_of(tmp_path, n, size=(700, 900))
    out = tmp_path / "out"
    cmd, env = _cli(src, "-o", out, "--model", known_model)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert _wait_for_done(out, 3, proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    done = sum(1 for e in record(out) if e["event"] == "done")
    assert f"interrupted: {done} done, 0 failed, {n - done} left" in err
    assert "to resume, run the same command again: polychrome colorize" in err
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and f"{n - done} colorized, 0 failed, {done} already done" in res.stderr


def test_bulk_marks_are_read_back_like_single_ones(tmp_path):
    spec = RunSpec("m", "1", "0" * 64, 0.38, {"format": "png"})
    srcs = [gray(tmp_path / f"s{i}.png", i) for i in range(4)]
    out = tmp_path / "out"
    out.mkdir()
    with plan_run(srcs, spec, out) as plan:
        plan.mark_started([(it, out / f"{it.source.stem}_color.png") for it in plan.todo])
        for it in plan.todo[:3]:
            it.output.write_bytes(b"x")
        plan.mark_finished([(it, it.output, "") for it in plan.todo[:3]] + [(plan.todo[3], None, "bad\nthing")])
        assert plan.counts() == {"skipped": 0, "done": 3, "failed": 1, "left": 0}
    with plan_run(srcs, spec, out) as plan:
        assert [i.action for i in plan] == ["skip", "skip", "skip", "do"]
        assert plan.todo[0].reason == "failed last time (bad thing)"
    assert sum(1 for e in record(out) if e["event"] == "spec") == 1
