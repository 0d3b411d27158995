"""The single-source helpers in core: bit depth, fit-to-size, JSON sanitising, user messages, the T constants."""

from __future__ import annotations

import json
import math

import numpy as np

from polychrome.core.decode import DEFAULT_T, MAX_T, MIN_T
from polychrome.core.errors import ImageReadError, ModelError, user_message
from polychrome.core.jsonsafe import json_safe
from polychrome.core.pixels import convert_bit_depth, fit_max_side, fit_size, to_uint8


def test_to_uint8_rounds_to_nearest():
    x = np.arange(65536, dtype=np.uint16)
    expected = np.floor(x / 257.0 + 0.5).astype(np.uint8)  # no ties: 257 is odd
    assert np.array_equal(to_uint8(x), expected)
    assert to_uint8(np.array([0.0, 0.5, 1.0, 2.0], np.float32)).tolist() == [0, 128, 255, 255]
    u8 = np.array([1, 2], np.uint8)
    assert to_uint8(u8) is u8


def test_convert_bit_depth_round_trips_8_bit():
    x = np.arange(256, dtype=np.uint8)
    up = convert_bit_depth(x, 16)
    assert up.dtype == np.uint16 and up[-1] == 65535
    assert np.array_equal(convert_bit_depth(up, 8), x)


def test_fit_max_side_shrinks_long_side_only():
    img = np.zeros((300, 100, 3), np.uint8)
    assert fit_max_side(img, 150).shape == (150, 50, 3)
    assert fit_max_side(img, 300) is img
    assert fit_max_side(img, None) is img
    assert fit_size(3, 1000, 10) == (1, 10)


def test_json_safe_makes_strict_json():
    data = {1: [np.float32(1.5), float("nan"), (np.int64(3), math.inf)], "x": "y"}
    out = json_safe(data)
    assert out == {"1": [1.5, None, [3, None]], "x": "y"}
    json.dumps(out, allow_nan=False)


def test_user_message_per_kind():
    assert user_message(ImageReadError("a.png", "file is empty (0 bytes)")) == "file is empty (0 bytes)"
    assert user_message(ModelError("bad model")) == "bad model"
    assert user_message(MemoryError()) == "not enough memory for this image"
    assert user_message(ValueError("boom")) == "unexpected error: ValueError: boom"


def test_temperature_constants():
    assert 0 < MIN_T < DEFAULT_T < MAX_T == 1.0
