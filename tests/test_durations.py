"""core.durations: how long something took, and how precisely an estimate is worded."""
from __future__ import annotations

import pytest

from core.durations import duration_parts, estimate_parts


@pytest.mark.parametrize("seconds, parts", [
    (0, ("s", {"s": 0})), (42.4, ("s", {"s": 42})), (59.6, ("m", {"m": 1, "s": 0})),
    (185, ("m", {"m": 3, "s": 5})), (4800, ("h", {"h": 1, "m": 20})), (-3, ("s", {"s": 0})),
])
def test_duration_parts(seconds, parts):
    assert duration_parts(seconds) == parts


@pytest.mark.parametrize("seconds, parts", [
    (0, ("s", {"s": 10})),           # never "0 s": at least 10 s
    (3, ("s", {"s": 10})), (10, ("s", {"s": 10})), (11, ("s", {"s": 20})),
    (31, ("s", {"s": 40})),          # rounded *up* to the next 10 s
    (59.5, ("m", {"m": 1, "s": 0})),  # 60 s after rounding up: one minute
    (60, ("min", {"m": 1})), (319, ("min", {"m": 5})), (330, ("min", {"m": 6})),  # whole minutes
    (3599, ("min", {"m": 60})),
    (3600, ("h", {"h": 1, "m": 0})), (5000, ("h", {"h": 1, "m": 23})),
])
def test_estimate_parts(seconds, parts):
    assert estimate_parts(seconds) == parts
