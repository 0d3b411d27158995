"""The Ray engine on a local Ray (ray.init(num_cpus=2)): same outputs as the local engine, resume, failures."""

from __future__ import annotations

import numpy as np
import pytest

from polychrome.core import imageio

try:
    import ray
except ImportError:
    ray = None


@pytest.fixture(scope="module")
def local_ray():
    if ray is None:
        pytest.skip("the Ray engine needs the 'cluster' extra (pip install 'ray[data]')")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    yield
    ray.shutdown()


def _scans(folder, n=5):
    folder.mkdir()
    rng = np.random.default_rng(0)
    for k in range(n):
        g = np.clip(np.cumsum(rng.standard_normal((61 + 7 * k, 83)), axis=1) * 4 + 128, 0, 255).astype(np.uint8)
        imageio.write_image(folder / f"scan{k}.png" if k % 2 else folder / f"scan{k}.jpg", g)
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    return sorted(folder.iterdir())


def _plan(files, out, model, opts, redo=False):
    from polychrome.runtime.batch import plan_run
    from polychrome.runtime.pipeline import model_run_spec
    from polychrome.runtime.registry import find_model
    from polychrome.runtime.session import file_sha256

    entry = find_model(str(model))
    return plan_run(files, model_run_spec(entry.manifest, file_sha256(entry.path), opts), out, redo=redo)


def test_ray_engine_matches_the_local_engine_and_resumes(tmp_path, known_model, local_ray):
    from polychrome.runtime.colorizer import Colorizer
    from polychrome.runtime.pipeline import ExportOptions, run_plan
    from polychrome.runtime.ray_engine import run_plan_ray

    files = _scans(tmp_path / "in")
    local_out, ray_out = tmp_path / "local", tmp_path / "ray"
    local_out.mkdir()
    ray_out.mkdir()
    with _plan(files, local_out, known_model, ExportOptions(out_dir=local_out)) as plan:
        local = run_plan(Colorizer(str(known_model)), plan, ExportOptions(out_dir=local_out))
    opts = ExportOptions(out_dir=ray_out)
    with _plan(files, ray_out, known_model, opts) as plan:
        remote = run_plan_ray(known_model, plan, opts, workers=2, batch_size=2)
        assert plan.counts() == {"skipped": 0, "done": 5, "failed": 1, "left": 0}
    assert len(remote.succeeded) == 5 and [r.source.name for r in remote.failed] == ["broken.png"]
    assert remote.failed[0].error  # one line with the reason
    for r in local.succeeded:
        a = imageio.read_image(r.output).pixels
        b = imageio.read_image(ray_out / r.output.name).pixels
        assert np.abs(a.astype(int) - b).max() <= 1, r.output.name
    # the record says what was done: a re-run skips it, redoes only the failure, and writes nothing new
    before = sorted(p.name for p in ray_out.iterdir())
    with _plan(files, ray_out, known_model, opts) as plan:
        assert [i.source.name for i in plan.todo] == ["broken.png"] and len(plan.skipped) == 5
        again = run_plan_ray(known_model, plan, opts, workers=1)
    assert len(again.skipped) == 5 and len(again.failed) == 1
    assert sorted(p.name for p in ray_out.iterdir()) == before


def test_interrupted_ray_run_is_resumed(tmp_path, known_model, local_ray):
    """Items handed out but never reported (a killed driver) are 'started' in the record: the next run does them."""
    from polychrome.runtime.pipeline import ExportOptions
    from polychrome.runtime.ray_engine import claim_outputs, run_plan_ray

    files = [f for f in _scans(tmp_path / "in", 3) if f.name != "broken.png"]
    out = tmp_path / "out"
    out.mkdir()
    opts = ExportOptions(out_dir=out)
    with _plan(files, out, known_model, opts) as plan:
        claim_outputs(plan, plan.todo, opts)  # claimed, then the driver "dies"
    with _plan(files, out, known_model, opts) as plan:
        assert len(plan.todo) == 3
        res = run_plan_ray(known_model, plan, opts, workers=2)
    assert len(res.succeeded) == 3
    assert sorted(p.name for p in out.glob("*_color*")) == ["scan0_color.jpg", "scan1_color.png", "scan2_color.jpg"]


def test_without_ray_the_option_says_how_to_install_it(tmp_path, monkeypatch, capsys, known_model):
    from polychrome.cli.main import main
    from polychrome.runtime import ray_engine

    monkeypatch.setattr(ray_engine.importlib.util, "find_spec", lambda name: None)
    assert "pip install 'polychrome[cluster]'" in ray_engine.missing_ray()
    files = _scans(tmp_path / "in", 1)
    code = main(["colorize", str(files[0]), "-o", str(tmp_path / "out"), "--engine", "ray", "--model",
                 str(known_model)])
    err = capsys.readouterr().err
    assert code == 2 and "--engine ray needs Ray" in err and "pip install" in err
    assert not (tmp_path / "out" / "polychrome-batch.jsonl").exists()  # refused before any work
