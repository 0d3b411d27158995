"""Publishing a trained model: its final name, its model card, and installation into the per-user models folder.

A run exports its model once (:meth:`polychrome.training.loop.Trainer.fit`); choosing the name afterwards only
rewrites the manifest fields in the ONNX metadata (:func:`relabel_model` — the weights are untouched, so the
exporter's verification still holds). :func:`publish_model` then installs the model with
:func:`polychrome.runtime.registry.install_model` (a temp file and a rename: the models folder never holds half a
model) and writes its card ``NAME.md`` beside it, which the app's About box shows. An installed model is never
replaced unless ``overwrite`` is given.

    card = model_card_markdown("family", summary=manifest.training, data=["~/Photos/family"], ...)
    installed = publish_model(run_dir / "trained.onnx", "family", card, description="Our family's colours")

Needs the ``onnx`` package (the training extra), not PyTorch.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, Union

from ..core.errors import ModelError
from ..core.imageio import atomic_write_bytes
from ..core.jsonsafe import json_safe
from ..runtime.manifest import PREFIX

NAME_RE = re.compile(r"^[^\W_][\w .()+-]{0,63}$")
RELABEL_FIELDS = ("name", "version", "license", "description")


def name_problem(name: str) -> Optional[str]:
    """Why ``name`` cannot name a model file (None when it can): 1–64 letters, digits, spaces, ``._-+()``,
    starting with a letter or digit, no trailing space or dot."""
    if not name or not name.strip():
        return "the model needs a name"
    if name != name.strip() or name.endswith("."):
        return "the name may not start or end with a space, or end with a dot"
    if not NAME_RE.match(name):
        return "use at most 64 letters, digits, spaces and . _ - + ( ), starting with a letter or digit"
    return None


def installed_path(name: str) -> Path:
    """Where :func:`publish_model` puts the model called ``name``."""
    from ..runtime.registry import user_models_dir

    return user_models_dir() / f"{name}.onnx"


def relabel_model(
    src: Union[str, Path], dst: Union[str, Path], training_updates: Optional[Mapping[str, Any]] = None, **fields: str
) -> Path:
    """Copy the model ``src`` to ``dst`` (atomically) with manifest fields replaced: ``name``, ``version``,
    ``license``, ``description``; ``training_updates`` are merged into the training summary. The graph and
    weights are copied unchanged."""
    import onnx

    unknown = set(fields) - set(RELABEL_FIELDS)
    if unknown:
        raise ValueError(f"cannot relabel {', '.join(sorted(unknown))}; only {', '.join(RELABEL_FIELDS)}")
    src, dst = Path(src), Path(dst)
    try:
        proto = onnx.load(str(src))
    except Exception as exc:  # noqa: BLE001
        raise ModelError(f"{src}: cannot be read as ONNX: {exc}") from None
    meta = {p.key: p.value for p in proto.metadata_props}
    if PREFIX + "name" not in meta:
        raise ModelError(f"{src}: not a Polychrome model (no manifest in its metadata)")
    for k, v in fields.items():
        meta[PREFIX + k] = str(v)
    if training_updates:
        try:
            training = json.loads(meta.get(PREFIX + "training") or "{}")
        except ValueError:
            training = {}
        training.update(json_safe(dict(training_updates)))
        meta[PREFIX + "training"] = json.dumps(training)
    del proto.metadata_props[:]
    for k, v in meta.items():
        e = proto.metadata_props.add()
        e.key, e.value = k, v
    if "description" in fields:
        proto.doc_string = fields["description"] or meta.get(PREFIX + "name", "")
    atomic_write_bytes(dst, proto.SerializeToString())
    return dst


def publish_model(
    src: Union[str, Path],
    name: str,
    card: Optional[str] = None,
    overwrite: bool = False,
    training_updates: Optional[Mapping[str, Any]] = None,
    **fields: str,
) -> Path:
    """Install the model ``src`` into the per-user models folder as ``NAME.onnx`` with its card ``NAME.md``.

    ``fields`` (``version``, ``license``, ``description``) and ``training_updates`` are written into the copy's
    manifest; its ``name`` becomes ``name``. Raises :class:`ModelError` when a model of that name is installed and
    ``overwrite`` is false, or when ``name`` is unusable. The card is written first and removed again if the model
    cannot be installed, so a model never appears without its card. Returns the installed path.
    """
    from ..runtime.registry import install_model, user_models_dir

    problem = name_problem(name)
    if problem:
        raise ModelError(f"{name!r}: {problem}")
    src = Path(src)
    dest = installed_path(name)
    if dest.exists() and not overwrite:
        raise ModelError(f"{dest}: a model with this name is already installed")
    folder = user_models_dir(create=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".relabel-", suffix=".onnx", dir=src.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    card_path = folder / f"{name}.md"
    wrote_card = False
    try:
        relabel_model(src, tmp, training_updates=training_updates, name=name, **fields)
        if card is not None:
            atomic_write_bytes(card_path, card.encode("utf-8"))
            wrote_card = True
        installed = install_model(tmp, name=name, overwrite=overwrite)
    except BaseException:
        if wrote_card:
            card_path.unlink(missing_ok=True)
        raise
    finally:
        tmp.unlink(missing_ok=True)
    return installed


# ---------------------------------------------------------------------------------------------------------------
# The model card
# ---------------------------------------------------------------------------------------------------------------

METRIC_ROWS = (
    ("psnr", "PSNR (dB) ↑", "{:.2f}"),
    ("ssim", "SSIM ↑", "{:.3f}"),
    ("auc", "AuC of the ab error ↑", "{:.3f}"),
    ("delta_e", "mean ΔE2000 ↓", "{:.2f}"),
    ("colorfulness", "colourfulness", "{:.1f}"),
)


def _fmt(fmt: str, v: Any) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return "–"
    return fmt.format(f) if math.isfinite(f) else "–"


def evaluation_table(evaluation: Mapping[str, Any]) -> str:
    """Markdown table of a side-by-side evaluation: ``{"temperatures": [...], "models": {label: {T: metrics}},
    "gray": metrics, "n": photos}`` (the shape the wizard's evaluation produces). Rows: metric × T."""
    temps = [float(t) for t in evaluation.get("temperatures", [])]
    models: Dict[str, Mapping] = dict(evaluation.get("models", {}))
    labels = list(models)
    head = "| metric | T | " + " | ".join(labels) + (" | gray input |" if evaluation.get("gray") else " |")
    sep = "|---|---|" + "---|" * (len(labels) + (1 if evaluation.get("gray") else 0))
    lines = [head, sep]
    gray = evaluation.get("gray") or {}
    for key, title, fmt in METRIC_ROWS:
        for T in temps:
            cells = []
            for label in labels:
                per_T = models[label]
                m = per_T.get(T) or per_T.get(str(T)) or per_T.get(f"{T:g}") or {}
                cells.append(_fmt(fmt, m.get(key)))
            row = f"| {title} | {T:g} | " + " | ".join(cells) + " |"
            if gray:
                row += f" {_fmt(fmt, gray.get(key))} |"
            lines.append(row)
    return "\n".join(lines)


def model_card_markdown(
    name: str,
    summary: Mapping[str, Any],
    data: Sequence[str] = (),
    scan_counts: Optional[Mapping[str, int]] = None,
    description: str = "",
    license: str = "",
    evaluation: Optional[Mapping[str, Any]] = None,
    base_model: Optional[str] = None,
) -> str:
    """The card of a trained model (markdown): what it was trained on, how, and how well it does.

    ``summary`` is the run's training summary (:meth:`Trainer.summary`, also stored in the model's metadata);
    ``data`` the folders as the user chose them; ``evaluation`` an optional side-by-side table (see
    :func:`evaluation_table`).
    """
    s = dict(summary)
    counts = dict(scan_counts or s.get("scan") or {})
    lines = [f"# {name}", ""]
    if description:
        lines += [description, ""]
    lines += ["## Data", ""]
    for d in data:
        lines.append(f"- `{d}`")
    if counts:
        lines += [
            "",
            f"Scan: {counts.get('usable', 0)} usable photos; skipped {counts.get('near_gray', 0)} near-gray, "
            f"{counts.get('too_small', 0)} too small and {counts.get('unreadable', 0)} unreadable files.",
        ]
    lines += [
        f"Split: {s.get('n_train', '?')} photos for training, {s.get('n_val', '?')} for validation.",
        "",
        f"**Licence / terms:** {license or 'not stated — say what the photos allow before sharing this model'}",
        "",
        "## Recipe",
        "",
    ]
    base = base_model
    if base is None and isinstance(s.get("base_model"), dict):
        base = s["base_model"].get("name")
    start = f"fine-tuned from `{base}`" if base else (
        "from scratch with an ImageNet-pretrained encoder" if s.get("pretrained_encoder") else "from scratch"
    )
    rows = [
        ("start", start + (" (encoder frozen)" if s.get("freeze_encoder") else "")),
        ("loss", {"ce": "class-rebalanced cross-entropy", "l2": "L2 regression", "mse_l1": "MSE + L1 regression"}
         .get(str(s.get("loss")), str(s.get("loss")))),
        ("rebalancing λ", s.get("lambda")),
        ("bins", f"{s.get('bins')} (Q = {s.get('Q')})"),
        ("epochs / steps", f"{s.get('epochs')} / {s.get('steps')}"),
        ("crop size", f"{s.get('size')} px"),
        ("batch size", s.get("batch_size")),
        ("learning rate", s.get("lr")),
        ("scan-like degradations", "yes" if s.get("degradations") else "no"),
        ("device", s.get("device")),
        ("training time", f"{s.get('train_seconds')} s"),
        ("software", f"Polychrome {s.get('polychrome')}, PyTorch {s.get('torch')}"),
    ]
    lines += ["| setting | value |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows if v not in (None, "")]
    lines += ["", "## Validation", ""]
    m = s.get("metrics") or {}
    if s.get("val_loss") is not None:
        lines.append(f"Final validation loss {_fmt('{:.4f}', s.get('val_loss'))}.")
    if m:
        lines.append(
            f"At the default T: PSNR {_fmt('{:.2f}', m.get('psnr'))} dB, SSIM {_fmt('{:.3f}', m.get('ssim'))}, "
            f"AuC {_fmt('{:.3f}', m.get('auc'))}, ΔE2000 {_fmt('{:.2f}', m.get('delta_e'))}, colourfulness "
            f"{_fmt('{:.1f}', m.get('colorfulness'))} (photos {_fmt('{:.1f}', m.get('colorfulness_gt'))})."
        )
    if s.get("warning"):
        lines.append(f"\n**Warning:** {s['warning']}")
    if evaluation:
        lines += [
            "",
            f"### Side by side on the {evaluation.get('n', '?')} validation photos",
            "",
            evaluation_table(evaluation),
        ]
    lines.append("")
    return "\n".join(lines)
