"""The training progress events: typed dataclasses that still read like the older ``phase`` dicts, and the
``polychrome train`` printer that consumes them (no torch needed)."""

import io
from collections.abc import Mapping

import pytest

from polychrome.cli.train import _Printer
from polychrome.core.progress import Progress
from polychrome.training.events import PhaseEvent, ScanEvent, TrainStepEvent, ValEvent


def _step(step=3, total=3):
    return TrainStepEvent(epoch=1, epochs=2, step=step, total_steps=total, loss=0.5, train_loss=0.25, lr=1e-3,
                          images_per_s=12.0, eta_s=65.0)


def test_events_are_typed_and_read_like_the_old_dicts():
    ev = _step()
    assert isinstance(ev, Mapping) and ev.phase == "train"
    assert ev["phase"] == "train" and ev.get("step") == 3 and ev.get("nope") is None and "eta_s" in ev
    assert dict(ev) == ev.as_dict() and list(ev)[-1] == "phase" and len(ev) == 10
    with pytest.raises(KeyError):
        ev["nope"]
    with pytest.raises(AttributeError):
        ev.step = 4  # frozen
    val = ValEvent(final=False, epoch=1, epochs=2, step=3, val_loss=0.7)
    assert val["phase"] == "val" and val.get("metrics") is None and val["samples"] == []


def test_progress_carries_the_event_itself():
    seen = []
    p = Progress(seen.append, total=3)
    ev = _step()
    p.step_event(1, "a step", ev)
    p.report(phase="scan", done=1)  # keyword data stays a plain dict
    assert seen[0].data is ev and seen[0].done == 1 and seen[0].message == "a step"
    assert seen[1].data == {"phase": "scan", "done": 1}


def test_train_printer_formats_the_events():
    out = io.StringIO()
    printer = _Printer(stream=out)
    progress = Progress(printer)
    progress.report_event("scanning photos", PhaseEvent("scan"))
    progress.report(f"scanned {1} file", phase="scan", path="x.png")  # a per-file event of the scan: silent
    progress.report_event("6 photos", ScanEvent({"usable": 6}, 5, 1))
    progress.step_event(1, "", _step())
    progress.report_event("", ValEvent(final=True, epoch=2, epochs=2, step=3, val_loss=0.75, warning="garish"))
    progress.report_event("BatchNorm statistics re-estimated on 1 batches", PhaseEvent("recalibrate"))
    lines = out.getvalue().splitlines()
    assert lines == [
        "scanning photos",
        "6 photos",
        "epoch 1/2  step 3/3  loss 0.5000  (epoch mean 0.2500)  lr 1.00e-03  12.0 img/s  ETA 1m05s",
        "final validation after epoch 2: loss 0.7500",
        "warning: garish",
        "BatchNorm statistics re-estimated on 1 batches",
    ]
