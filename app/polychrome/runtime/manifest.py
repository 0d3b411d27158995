"""The model contract and the manifest read from an ONNX model's metadata.

Contract: one input ``L`` float32 [N, 1, H, W] (normalised lightness), one output ``logits`` float32
[N, Q, h, w] with H = h·stride. A model that takes colour hints has two more inputs of the same N, H, W:
``hint_ab`` float32 [N, 2, H, W] (a*, b* in CIELAB units where a hint is given, 0 elsewhere) and ``hint_mask``
float32 [N, 1, H, W] (1 where a hint is given, 0 elsewhere); all zeros means "no hints". ``metadata_props`` carry,
under the ``polychrome.`` prefix:

=================  ===========================================================================
key                value
=================  ===========================================================================
name               short model name (shown in pickers)
version            model version string
bins               JSON bin table (``ABBins.to_json``); its Q must equal the output's Q
l_norm             JSON ``{"offset": o, "scale": s}``: the input is (L* − o) / s
input_size         preferred long side of the input in pixels (e.g. 256)
stride             output stride (input pixels per output cell, e.g. 4)
default_T          default annealing temperature (e.g. 0.38)
license            licence of the weights and the data they were trained on
training           JSON summary of the training run (data, epochs, metrics); free-form
description        one paragraph for the About box / model picker (optional)
hints              "1" when the model has the hint inputs (optional; must agree with the graph)
=================  ===========================================================================
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from ..core.bins import ABBins
from ..core.decode import MAX_T
from ..core.errors import ModelError

PREFIX = "polychrome."
INPUT_NAME = "L"
OUTPUT_NAME = "logits"
HINT_AB_NAME = "hint_ab"
HINT_MASK_NAME = "hint_mask"
REQUIRED_KEYS = ("name", "version", "bins", "l_norm", "input_size", "stride", "default_T")

# Bounds on what a model may ask for: an input side of 12000 once took 11.7 GB before anything failed.
MIN_INPUT_SIZE, MAX_INPUT_SIZE = 16, 2048
MAX_STRIDE = 64
MAX_BINS = 1024  # Q: the paper's 313, our 261
MAX_TEXT = 64 << 10  # name, version, licence, description: bytes each


@dataclass
class ModelManifest:
    name: str
    version: str
    bins: ABBins
    l_offset: float
    l_scale: float
    input_size: int
    stride: int
    default_T: float
    license: str = ""
    description: str = ""
    training: Dict[str, Any] = field(default_factory=dict)
    path: Optional[Path] = None
    fixed_hw: Optional[Tuple[int, int]] = None  # (H, W) when the model's input has fixed spatial dims
    hints: bool = False  # the model takes hint_ab / hint_mask

    @property
    def Q(self) -> int:
        return self.bins.Q

    def to_metadata(self) -> Dict[str, str]:
        """The metadata_props a model must carry for this manifest (used by the exporter and test fixtures)."""
        md = {
            "name": self.name,
            "version": self.version,
            "bins": self.bins.to_json(),
            "l_norm": json.dumps({"offset": self.l_offset, "scale": self.l_scale}),
            "input_size": str(int(self.input_size)),
            "stride": str(int(self.stride)),
            "default_T": repr(float(self.default_T)),
            "license": self.license,
            "description": self.description,
            "training": json.dumps(self.training),
        }
        if self.hints:
            md["hints"] = "1"
        return {PREFIX + k: v for k, v in md.items()}

    @classmethod
    def from_metadata(cls, meta: Dict[str, str], path: Optional[Path] = None) -> ModelManifest:
        where = f"{path}: " if path else ""
        md = {k[len(PREFIX):]: v for k, v in meta.items() if k.startswith(PREFIX)}
        missing = [k for k in REQUIRED_KEYS if k not in md]
        if missing:
            raise ModelError(
                f"{where}not a Polychrome model: metadata lacks {', '.join(PREFIX + k for k in missing)}"
            )
        try:
            bins = ABBins.from_json(md["bins"])
        except Exception as exc:  # noqa: BLE001 - any parse failure is a contract violation
            raise ModelError(f"{where}the bin table in '{PREFIX}bins' is invalid: {exc}") from None
        try:
            norm = json.loads(md["l_norm"])
            l_offset, l_scale = float(norm["offset"]), float(norm["scale"])
            input_size, stride = int(md["input_size"]), int(md["stride"])
            default_T = float(md["default_T"])
        except Exception as exc:  # noqa: BLE001
            raise ModelError(f"{where}malformed metadata: {exc}") from None
        if l_scale == 0 or stride < 1 or input_size < stride or not (0.0 < default_T <= MAX_T):
            raise ModelError(
                f"{where}metadata out of range (l_norm scale {l_scale}, stride {stride}, input_size {input_size}, "
                f"default_T {default_T})"
            )
        problems = []
        if not (MIN_INPUT_SIZE <= input_size <= MAX_INPUT_SIZE):
            problems.append(f"input_size {input_size} is outside {MIN_INPUT_SIZE}..{MAX_INPUT_SIZE}")
        if stride > MAX_STRIDE:
            problems.append(f"stride {stride} is over {MAX_STRIDE}")
        if not (math.isfinite(l_offset) and math.isfinite(l_scale)):
            problems.append(f"l_norm offset {l_offset} / scale {l_scale} is not finite")
        if bins.Q > MAX_BINS:
            problems.append(f"{bins.Q} bins is over {MAX_BINS}")
        for key in ("name", "version", "license", "description"):
            if len(md.get(key, "").encode("utf-8")) > MAX_TEXT:
                problems.append(f"'{PREFIX}{key}' is over {MAX_TEXT // 1024} KB")
        if not md["name"].strip():
            problems.append("the name is empty")
        if problems:
            raise ModelError(f"{where}metadata out of bounds: " + "; ".join(problems))
        try:
            training = json.loads(md.get("training") or "{}")
        except ValueError:
            training = {"text": md.get("training")}
        return cls(
            name=md["name"],
            version=md["version"],
            bins=bins,
            l_offset=l_offset,
            l_scale=l_scale,
            input_size=input_size,
            stride=stride,
            default_T=default_T,
            license=md.get("license", ""),
            description=md.get("description", ""),
            training=training if isinstance(training, dict) else {"value": training},
            path=path,
            hints=md.get("hints", "0").strip() in ("1", "true", "True"),
        )
