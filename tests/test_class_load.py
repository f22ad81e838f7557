"""bench/class_load.py's pure parts: the canvas value it sends reads back, through the app's own
reader (core.canvas) and decoder, as the digit it drew; the estimates it parses;
the profile summary. (The lesson itself is a bench: it prints figures, it is not a test.)"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.class_load import (CANVAS, _promise_at, _ratios, canvas_value, parse_duration,  # noqa: E402
                               percentile, top_frames)
from core.canvas import decode_canvas_png, drawing_png  # noqa: E402


def test_canvas_value_reads_back_as_the_drawn_digit():
    digit = np.zeros((28, 28), np.uint8)
    digit[4:24, 13:15] = 255                      # a "1": white ink on black, as in MNIST
    grey = decode_canvas_png(drawing_png(canvas_value(digit)["drawing"]))   # as the page reads it
    assert grey.shape == (CANVAS, CANVAS)
    assert grey[140, 140] < 30 and grey[140, 40] > 225   # black stroke on a white canvas


def test_parse_duration_reads_the_pages_estimates():
    assert parse_duration("about 40 s") == 40
    assert parse_duration("about 5 min") == 300
    assert parse_duration("1 min 5 s") == 65
    assert parse_duration("1 h 2 min") == 3720
    assert parse_duration("unknown") is None


def test_percentile_and_profile_summary(tmp_path):
    assert percentile([], 95) is None
    assert percentile([3, 1, 2, 4], 50) == 2 and percentile(range(1, 101), 95) == 95
    raw = tmp_path / "raw.txt"
    raw.write_text("main (a.py:1);work (a.py:5) 3\nmain (a.py:1);idle (b.py:2) 1\n")
    top = top_frames(raw)
    assert top["samples"] == 4
    assert dict(top["inclusive"])["main (a.py:1)"] == 100.0
    assert top["self"][0] == ("work (a.py:5)", 75.0)


def test_estimates_are_compared_at_start_and_halfway_through_the_wait():
    run = {"wait_s": 20.0, "est_start_after_s": 40.0,
           "est_track": [(0.0, 40.0), (5.0, 30.0), (10.2, 10.0), (15.0, 5.0)]}
    assert _promise_at(run, 0.5) == 10.0                # the poll nearest 10 s into the wait
    assert _promise_at({"wait_s": 20.0, "est_track": [(0.0, 40.0)]}, 0.5) is None   # none near
    quick = {"wait_s": 2.0, "est_start_after_s": 0.0, "est_track": []}      # under 5 s: left out
    assert _ratios([run, quick], 0.0) == [2.0]          # promised 40 s, started after 20 s
    assert _ratios([run, quick], 0.5) == [1.0]          # 10 s promised for the 10 s left
