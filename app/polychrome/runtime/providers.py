"""Execution-provider policy: the one place that decides where inference runs.

Preference: DirectML (Windows), CUDA, CoreML, then CPU — intersected with what the installed onnxruntime
reports. A user may force one by name or alias ("cpu", "cuda", "directml"/"dml", "coreml"). CPU is always
appended as the fallback.
"""

from __future__ import annotations

import sys
from typing import Dict, List, Optional, Tuple

import onnxruntime as ort

from ..core.errors import PolychromeError

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
DML = "DmlExecutionProvider"
COREML = "CoreMLExecutionProvider"

PREFERENCE = (DML, CUDA, COREML, CPU)

ALIASES = {
    "cpu": CPU,
    "cuda": CUDA,
    "gpu": CUDA,
    "dml": DML,
    "directml": DML,
    "coreml": COREML,
}

FRIENDLY = {CPU: "CPU", CUDA: "CUDA", DML: "DirectML", COREML: "CoreML"}


def available() -> List[str]:
    return list(ort.get_available_providers())


def resolve(name: str) -> str:
    """Map a user-given name or alias to an onnxruntime provider name."""
    key = name.strip()
    if key.lower() in ALIASES:
        return ALIASES[key.lower()]
    for p in PREFERENCE:
        if key == p:
            return p
    if key in available():
        return key
    raise PolychromeError(
        f"unknown execution provider {name!r}; choose one of: {', '.join(sorted(set(ALIASES)))}"
    )


def provider_options(provider: str) -> Dict[str, str]:
    if provider == CUDA:
        return {"cudnn_conv_algo_search": "HEURISTIC"}
    if provider == COREML:
        return {}
    return {}


def session_options_for(provider: str) -> ort.SessionOptions:
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if provider == DML:
        # DirectML does not support memory patterns or parallel execution.
        so.enable_mem_pattern = False
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.log_severity_level = 3
    return so


def choose(forced: Optional[str] = None) -> Tuple[List[str], str]:
    """Return (provider chain, reason). The chain always ends with CPU.

    ``forced``: a provider name/alias the user asked for; if the installed onnxruntime lacks it, the chain is
    CPU only and the reason says why.
    """
    have = set(available())
    if forced:
        want = resolve(forced)
        if want == CPU:
            return [CPU], "CPU chosen by the user"
        if want in have:
            return [want, CPU], f"{FRIENDLY.get(want, want)} chosen by the user"
        return [CPU], (
            f"{FRIENDLY.get(want, want)} was asked for but this onnxruntime build does not provide it "
            f"(available: {', '.join(FRIENDLY.get(p, p) for p in sorted(have))}); using CPU"
        )
    chain = [p for p in PREFERENCE if p in have and (p != DML or sys.platform == "win32")]
    if CPU not in chain:
        chain.append(CPU)
    best = chain[0]
    if best == CPU:
        return chain, "CPU (no accelerator provider in this onnxruntime build)"
    return chain, f"{FRIENDLY.get(best, best)} (preferred accelerator)"


def limit_blas_threads() -> bool:
    """Run the BLAS libraries that numpy and OpenCV bring (OpenBLAS) on one thread each; False if it could not.

    The app's heavy work runs in onnxruntime's and OpenCV's own thread pools; BLAS only sees small products (the
    decoder's logits × bin centres on every T change). OpenBLAS's worker threads spin for about a tenth of a
    second after each call, so on a 2-core machine every slider move left one core busy-waiting under the preview
    merge. The desktop app and the CLI call this at start; a library user's process is left as it is.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # a dependency, but never worth failing the start for
        return False
    import cv2  # noqa: F401 - a library loaded later would keep its own thread count: load both BLAS users first
    import numpy  # noqa: F401

    threadpool_limits(limits=1, user_api="blas")  # called as a function, the limit stays for the whole process
    return True
