"""Decisions the pages used to make themselves, now in core (issue 19): hand-computed answers."""
from __future__ import annotations

import numpy as np
import pytest

from core import conv_explain
from core.confidence import LOW_CONFIDENCE, fitted_temperature, is_unsure, recorded_accuracy, shown_temperature
from core.conv import OutputSize
from core.figures.inside import flat_layout, flat_units_figure, logits_figure


# --------------------------------------------------------------------------- Predict: confidence

@pytest.mark.parametrize("meta, expected", [
    ({"calibration": {"temperature": 1.5}}, 1.5),                  # python -m core train
    ({"metrics": {"calibration": {"temperature": 0.8}}}, 0.8),     # the Train page's final metrics
    ({"calibration": {"temperature": 50.0}}, None),                # out of range: ignored, not clamped
    ({"calibration": {"temperature": True}}, None),                # not a number
    ({"calibration": {"fitted": False}}, None),                    # a record without a temperature
    ({}, None), (None, None),
])
def test_fitted_temperature(meta, expected):
    assert fitted_temperature(meta) == expected


def test_shown_temperature_follows_the_toggle():
    meta = {"calibration": {"temperature": 2.0}}
    assert shown_temperature(meta, calibrated_on=True) == 2.0
    assert shown_temperature(meta, calibrated_on=False) == 1.0
    assert shown_temperature({}, calibrated_on=True) == 1.0  # nothing fitted: the raw softmax


@pytest.mark.parametrize("meta, expected", [
    ({"metrics": {"test_accuracy": 0.9876}}, 0.9876),
    ({"metrics": {"accuracy": 0.5}}, 0.5),                         # an older file's name for it
    ({"metrics": {"test_accuracy": 0.9, "accuracy": 0.1}}, 0.9),
    ({"metrics": {"test_accuracy": "high"}}, None), ({"metrics": {}}, None), ({}, None),
])
def test_recorded_accuracy(meta, expected):
    assert recorded_accuracy(meta) == expected


def test_unsure_below_one_half():
    assert LOW_CONFIDENCE == 0.5
    assert is_unsure(0.49) and not is_unsure(0.5) and not is_unsure(0.97)


# --------------------------------------------------------------------------- Predict: flat layers

def test_a_flatten_of_maps_gets_one_row_per_channel():
    grid = flat_layout(32 * 7 * 7, (32, 7, 7), flattens=True)
    assert (grid.width, grid.rows, grid.unflattened) == (49, 32, (32, 7, 7))


@pytest.mark.parametrize("size, width, rows", [(128, 32, 4), (100, 32, 4), (10, 10, 1), (33, 32, 2)])
def test_other_flat_layers_wrap_at_32_units(size, width, rows):
    grid = flat_layout(size, (size,), flattens=False)
    assert (grid.width, grid.rows, grid.unflattened) == (width, rows, None)


def test_the_flat_grid_pads_its_last_row_blank():
    values = np.arange(100, dtype=float)
    fig = flat_units_figure(values, flat_layout(100, None, False), 0.0, 99.0, lambda key, **v: key)
    z = np.array(fig.data[0].z, dtype=float)
    assert z.shape == (4, 32)
    assert z[3, 3] == 99 and np.isnan(z[3, 4:]).all()  # 100 = 3 full rows of 32 + 4


def test_the_logits_chart_marks_the_highest_class():
    fig = logits_figure(np.array([0.1, 2.0, -1.0]), ["0", "1", "2"], lambda key, **v: key)
    assert list(fig.data[0].marker.color) == ["#9aa5b1", "#1c7ed6", "#9aa5b1"]


# --------------------------------------------------------------------------- Convolution: sizes

def sizes(n, k, stride=1, padding=0, dilation=1):
    return OutputSize(n, k, stride, padding, dilation), OutputSize(n, k, stride, padding, dilation)


def test_the_filled_formula_for_a_5x5_input_and_3x3_kernel():
    # ⌊(5 + 2·0 − 1·(3−1) − 1) / 1⌋ + 1 = ⌊2 / 1⌋ + 1 = 3
    line = conv_explain.filled_formula("H", sizes(5, 3)[0], with_dilation=True)
    assert line == (r"H_{out} = \left\lfloor \frac{5 + 2\cdot0 - 1\cdot(3-1) - 1}{1} \right\rfloor + 1 "
                    r"= \left\lfloor \frac{2}{1} \right\rfloor + 1 = \mathbf{3}")
    # pooling has no dilation: ⌊(4 − 2) / 2⌋ + 1 = 2
    assert conv_explain.filled_formula("W", sizes(4, 2, stride=2)[1], with_dilation=False).endswith(
        r"= \left\lfloor \frac{2}{2} \right\rfloor + 1 = \mathbf{2}")
    # a 2×2 kernel on a 1×1 input: ⌊(1 − 2) / 1⌋ + 1 ≤ 0, no output
    assert conv_explain.filled_formula("H", sizes(1, 2)[0], with_dilation=True).endswith(r"+ 1 \le 0")


def test_notes_for_a_shrinking_convolution():
    # 5×5, 3×3, no padding: 3×3 out, receptive field 3, two cells lost
    assert conv_explain.size_notes(sizes(5, 3), "conv") == [
        ("size", dict(ho=3, wo=3, h=5, w=5)), ("receptive", dict(sh=3, sw=3)), ("shrink", dict(lost=2))]


def test_notes_for_same_padding_and_for_a_stride_that_leaves_cells_unused():
    assert conv_explain.size_notes(sizes(5, 3, padding=1), "conv")[-1] == ("same", dict(p=1))
    # 6 wide, kernel 3, stride 2: ⌊3 / 2⌋ + 1 = 2 outputs, 3 mod 2 = 1 cell unused; pooling: no receptive note
    assert conv_explain.size_notes(sizes(6, 3, stride=2), "pool") == [
        ("size", dict(ho=2, wo=2, h=6, w=6)), ("stride", dict(s=2)), ("unused", dict(n=1))]


def test_the_first_empty_axis():
    assert conv_explain.empty_axis(sizes(5, 3)) is None
    assert conv_explain.empty_axis((OutputSize(5, 3, 1, 0, 1), OutputSize(2, 3, 1, 0, 1))) == 1
    assert conv_explain.empty_axis(sizes(2, 3)) == 0
