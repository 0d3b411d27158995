import os
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/onnx_models.py
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _isolated_user_models(tmp_path_factory, monkeypatch):
    """Never touch the real per-user models folder; no default-model override from the environment."""
    d = tmp_path_factory.mktemp("user_models")
    monkeypatch.setenv("POLYCHROME_USER_MODELS", str(d))
    monkeypatch.delenv("POLYCHROME_DEFAULT_MODEL", raising=False)
    monkeypatch.delenv("POLYCHROME_MODEL_PATH", raising=False)
    # the app's settings go to a throwaway ini file, never the user's real ones
    monkeypatch.setenv("POLYCHROME_SETTINGS", str(tmp_path_factory.mktemp("settings") / "polychrome.ini"))
    yield d


@pytest.fixture(scope="session")
def bins():
    from polychrome.core.bins import in_gamut_bins

    return in_gamut_bins()


@pytest.fixture
def known_model(tmp_path, bins):
    from onnx_models import known_ab_model

    return known_ab_model(tmp_path / "known.onnx", bins)


@pytest.fixture
def conv_model_path(tmp_path, bins):
    from onnx_models import conv_model

    return conv_model(tmp_path / "conv.onnx", bins)


@pytest.fixture
def gradient_gray():
    """A 8-bit gray image with a horizontal ramp (dark left, light right), 96×160."""
    x = np.linspace(20, 235, 160, dtype=np.float32)
    return np.repeat(x[None, :], 96, axis=0).astype(np.uint8)


@pytest.fixture
def shared_data():
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA
