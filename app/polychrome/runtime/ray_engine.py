"""The Ray engine: the same batch as :func:`polychrome.runtime.pipeline.run_plan`, spread over a Ray cluster.

``polychrome colorize … --engine ray [--address ADDR]`` plans the run exactly like the local engine (the batch
record in each output folder decides what is done, changed or failed; see :mod:`polychrome.runtime.batch`), then:

* the driver (the process that holds the plan and its record locks) chooses and claims every output name up
  front, in bulk (:meth:`~polychrome.runtime.batch.Plan.mark_started`), so two workers never race for a name;
* the work list becomes a Ray Data dataset (one row per source: path, page, output name, T), and
  ``map_batches`` runs it over an actor pool: each actor opens one onnxruntime session in ``__init__`` and
  keeps it for every batch it is given, reads each source, colorizes it and writes it with the one atomic writer
  (:func:`~polychrome.runtime.pipeline.write_prediction`: temp file, fsync, rename; never over a source);
* the driver records the outcomes as the result batches stream back (:meth:`~Plan.mark_finished`, one write per
  record and batch), so a killed run loses at most the batches in flight, and re-running the same command
  resumes: done items are skipped, started-but-unfinished ones are done again, stale temp files are removed.

Every worker must see the sources and output folders at the same paths (a shared file system) and have
Polychrome installed with the same model file. Ray is imported only here and only when the engine is used; it
is the optional extra ``cluster`` (``pip install 'polychrome[cluster]'``).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from ..core import imageio
from ..core.errors import PolychromeError, user_message
from ..core.fileops import same_file
from ..core.progress import Cancelled, Progress, ensure_progress
from .batch import Plan, PlanItem, source_key
from .pipeline import SKIPPED, BatchResult, ExportOptions, FileResult, output_path, write_prediction

INSTALL_HINT = "pip install 'polychrome[cluster]'  (or: pip install 'ray[data]')"


def missing_ray() -> Optional[str]:
    """None if Ray (with Ray Data) can be imported, else a one-line message saying how to install it."""
    if importlib.util.find_spec("ray") is None:
        return f"--engine ray needs Ray, which is not installed: {INSTALL_HINT}"
    try:
        import ray.data  # noqa: F401
    except ImportError as exc:
        return f"--engine ray needs Ray Data ({exc}): {INSTALL_HINT}"
    return None


class ColorizeActor:
    """A Ray Data actor: one onnxruntime session, created once, colorizing every batch it is handed."""

    def __init__(self, model_path: str, provider: Optional[str], input_size: Optional[int],
                 opts: ExportOptions) -> None:
        from .colorizer import Colorizer
        from .registry import find_model

        self.colorizer = Colorizer(find_model(model_path), provider=provider, input_size=input_size)
        self.opts = opts

    def __call__(self, batch: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        outputs: List[str] = []
        errors: List[str] = []
        for src, page, out, overwrite, T in zip(batch["source"], batch["page"], batch["output"],
                                                batch["overwrite"], batch["T"]):
            outputs_i, error_i = self.colorize_one(str(src), int(page), str(out), bool(overwrite), float(T))
            outputs.append(outputs_i)
            errors.append(error_i)
        return {"index": np.asarray(batch["index"]), "output": np.array(outputs, dtype=object),
                "error": np.array(errors, dtype=object)}

    def colorize_one(self, src: str, page: int, out: str, overwrite: bool, T: float) -> Tuple[str, str]:
        try:
            image = imageio.read_image(src, max_pixels=self.opts.max_pixels, page=None if page < 0 else page)
            pred = self.colorizer.predict(image.pixels, name=src)
            written = write_prediction(pred, image, self.opts, T, out_path=Path(out), overwrite=overwrite)
            return str(written), ""
        except Exception as exc:  # noqa: BLE001 - one bad file must not end the batch (or the actor)
            return "", user_message(exc) or type(exc).__name__


def claim_outputs(plan: Plan, items: Sequence[PlanItem], opts: ExportOptions,
                  chunk: int = 1000) -> List[Tuple[PlanItem, Path, bool]]:
    """Choose and claim every item's output name (the format from the source's extension for ``same``),
    recording them in bulk; returns (item, output, overwrite)."""
    claimed: List[Tuple[PlanItem, Path, bool]] = []
    pending: List[Tuple[PlanItem, Path]] = []
    names: set[str] = set()
    for item in items:
        target, _ = output_path(item.source, None, opts, item.page)
        overwrite = opts.overwrite
        if item.replace is not None and same_file(target, item.replace):
            overwrite = True  # our own earlier output of this source and spec
        elif not overwrite:
            target = plan.free_name(target)
            if source_key(target) in names:  # claimed in this chunk, not yet recorded: record, then choose again
                plan.mark_started(pending)
                pending, names = [], set()
                target = plan.free_name(target)
        pending.append((item, target))
        names.add(source_key(target))
        claimed.append((item, target, overwrite))
        if len(pending) >= chunk:
            plan.mark_started(pending)
            pending, names = [], set()
    if pending:
        plan.mark_started(pending)
    return claimed


def _connect(address: Optional[str], num_cpus: Optional[int]) -> bool:
    """Join the cluster at ``address`` (or start a local Ray); True if this call started Ray."""
    import ray

    if ray.is_initialized():
        return False
    kwargs: Dict[str, Any] = {"logging_level": "ERROR", "log_to_driver": False, "include_dashboard": False}
    if address:
        ray.init(address=address, **kwargs)
    else:
        ray.init(num_cpus=num_cpus, **kwargs)
    return True


def run_plan_ray(
    model_path: Path,
    plan: Plan,
    opts: ExportOptions,
    *,
    provider: Optional[str] = None,
    input_size: Optional[int] = None,
    address: Optional[str] = None,
    workers: Optional[int] = None,
    cpus_per_worker: float = 1.0,
    batch_size: int = 4,
    num_cpus: Optional[int] = None,
    progress: Optional[Progress] = None,
    on_result: Optional[Callable[[FileResult], None]] = None,
) -> BatchResult:
    """Colorize a plan's items to do on Ray (see the module's docstring); the same :class:`BatchResult` as the
    local engine's ``run_plan``. ``workers``: actors in the pool (default: the cluster's CPUs divided by
    ``cpus_per_worker``); ``batch_size``: sources per actor call (and per record write); ``num_cpus`` limits a
    local Ray started here. Cancelling stops between result batches; what was handed out and not reported is
    left ``started`` in the record and done again by the next run."""
    problem = missing_ray()
    if problem:
        raise PolychromeError(problem)
    import ray

    progress = ensure_progress(progress)
    todo = plan.todo
    progress.set_total(len(todo))
    batch = BatchResult(stale_temps_removed=plan.stale_temps_removed)
    batch.skipped = [FileResult(i.source, i.output, status=SKIPPED, reason=i.reason, page=i.page)
                     for i in plan.skipped]
    if not todo:
        return batch
    claimed = claim_outputs(plan, todo, opts)
    started = _connect(address, num_cpus)
    try:
        import logging

        logging.getLogger("ray.data").setLevel(logging.ERROR)  # the CLI has its own progress and summary
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        if workers is None:
            cpus = float(ray.cluster_resources().get("CPU", 1.0))  # type: ignore[no-untyped-call]
            workers = max(1, int(cpus // max(cpus_per_worker, 1e-9)))
        workers = max(1, min(int(workers), len(todo)))
        rows = [{"index": k, "source": str(item.source), "page": -1 if item.page is None else int(item.page),
                 "output": str(out), "overwrite": bool(ow), "T": float(item.spec.T)}
                for k, (item, out, ow) in enumerate(claimed)]
        ds = ray.data.from_items(rows, override_num_blocks=max(1, min(len(rows), workers * 4)))
        results = ds.map_batches(
            ColorizeActor,
            fn_constructor_kwargs={"model_path": str(model_path), "provider": provider,
                                   "input_size": input_size, "opts": opts},
            batch_size=max(1, int(batch_size)),
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=workers),
            num_cpus=cpus_per_worker,
        )
        for out in _stream(results):
            progress.check()
            finished = []
            for k, written, error in zip(out["index"], out["output"], out["error"]):
                item = claimed[int(k)][0]
                finished.append((item, Path(written) if written else None, str(error)))
            plan.mark_finished(finished)
            for item, written_path, error in finished:
                res = (FileResult(item.source, written_path, reason=item.reason, page=item.page)
                       if written_path is not None else
                       FileResult(item.source, error=item.error or error, reason=item.reason, page=item.page))
                batch.results.append(res)
                if on_result:
                    on_result(res)
                progress.step(1, message=item.label, ok=res.ok)
    except Cancelled:
        batch.cancelled = True
    finally:
        if started:
            ray.shutdown()
    batch.left = [i.source for i in todo if not i.status]
    return batch


def _stream(results: Any) -> Iterator[Dict[str, np.ndarray]]:
    """Result batches as the actors finish them (streaming execution: the driver records as they come)."""
    yield from results.iter_batches(batch_size=None, batch_format="numpy")

