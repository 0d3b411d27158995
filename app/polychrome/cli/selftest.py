"""``polychrome self-test``: prove the installation works, end to end, headless.

Checks the colour maths against known values, lists the execution providers, loads the default model and
colorizes the bundled sample photo (a generated test card when the sample is missing), verifying that the
output keeps the input's lightness. Exit 0 when everything passed (a missing model is only a warning unless
``--require-model``), 1 otherwise.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np


def _sample_path() -> Path:
    here = Path(__file__).resolve().parent.parent
    for cand in (
        here / "resources" / "sample.jpg",
        here.parent.parent / "resources" / "sample.jpg",
        Path(getattr(sys, "_MEIPASS", "/nonexistent")) / "resources" / "sample.jpg",
    ):
        if cand.is_file():
            return cand
    return Path()


def _card() -> np.ndarray:
    y, x = np.mgrid[0:240, 0:320].astype(np.float32)
    g = 40 + 160 * (x / 319) + 30 * np.sin(y / 15)
    return np.clip(g, 0, 255).astype(np.uint8)


def _blas_threads() -> int:
    """The most threads any loaded BLAS library would use (0: threadpoolctl missing, so unknown)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return 0
    return max((i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"), default=1)


def run_self_test(args) -> int:
    import onnxruntime as ort

    from .. import __version__
    from ..core.color import lab_to_srgb, srgb_to_lab
    from ..core.errors import ModelError
    from ..core.metrics import delta_e2000
    from ..runtime import providers
    from ..runtime.colorizer import Colorizer
    from ..runtime.registry import default_model

    failures = 0

    def check(name: str, ok: bool, detail: str = "") -> None:
        nonlocal failures
        failures += 0 if ok else 1
        print(f"[{'ok' if ok else 'FAIL':>4}] {name}{': ' + detail if detail else ''}")

    print(f"polychrome {__version__}, onnxruntime {ort.__version__}, numpy {np.__version__}")
    v = np.linspace(0, 1, 17, dtype=np.float32)
    rgb = np.stack(np.meshgrid(v, v, v, indexing="ij"), -1).reshape(-1, 3)
    err = float(np.abs(lab_to_srgb(srgb_to_lab(rgb)) - rgb).max())
    check("sRGB ↔ Lab round trip", err < 1e-4, f"max error {err:.2e}")
    de = float(delta_e2000(np.array([50, 2.6772, -79.7751]), np.array([50, 0, -82.7485])))
    check("CIEDE2000 reference pair", abs(de - 2.0425) < 1e-4, f"{de:.4f} (expected 2.0425)")
    chain, reason = providers.choose(args.provider)
    check("execution provider", True, f"{providers.FRIENDLY.get(chain[0], chain[0])} — {reason}")
    blas = _blas_threads()
    check("BLAS on one thread (no spinning beside onnxruntime and OpenCV)", blas == 1, f"{blas} thread(s)")

    try:
        entry = default_model()
    except ModelError as exc:
        if args.require_model:
            check("default model", False, str(exc))
        else:
            print(f"[WARN] default model: {exc}")
        print("self-test " + ("FAILED" if failures else "passed (without a model)"))
        return 1 if failures else 0
    try:
        col = Colorizer(entry, provider=args.provider)
        check("default model", True, f"{col.manifest.name} {col.manifest.version} ({entry.path}) on {col.status}")
    except ModelError as exc:
        check("default model", False, str(exc))
        print("self-test FAILED")
        return 1

    sample = _sample_path()
    if sample.is_file():
        from ..core.imageio import read_image

        image = read_image(sample)
        from ..core.color import rgb_to_gray

        gray = image.pixels if image.is_gray else rgb_to_gray(image.pixels)
        label = sample.name
    else:
        gray, label = _card(), "generated test card"
    t0 = time.perf_counter()
    pred = col.predict(gray)
    out = pred.render(col.default_T)
    dt = time.perf_counter() - t0
    from ..core.merge import lightness

    dL = float(np.abs(srgb_to_lab(out)[..., 0] - lightness(gray)).mean())
    ab = srgb_to_lab(out)[..., 1:]
    chroma = float(np.hypot(ab[..., 0], ab[..., 1]).mean())
    check(f"colorize {label}", out.shape[:2] == gray.shape[:2] and dL < 1.0,
          f"{gray.shape[1]}×{gray.shape[0]} in {dt:.2f} s, mean |ΔL*| {dL:.2f}, mean chroma {chroma:.1f}")
    if args.out:
        from ..core.imageio import write_image

        p = write_image(Path(args.out), out, overwrite=True)
        print(f"       wrote {p}")
    print("self-test " + ("FAILED" if failures else "passed"))
    return 1 if failures else 0
