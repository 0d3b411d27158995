"""Plain, strict-JSON-safe copies of nested data (reports, model cards, training summaries)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def json_safe(obj: Any) -> Any:
    """A copy that ``json.dumps`` writes as strict JSON: NaN and ±inf become None, numpy scalars become Python
    numbers, tuples become lists and dict keys become strings. Anything else is returned as it is."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.generic):
        return json_safe(obj.item())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    return obj
