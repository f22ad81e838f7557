"""core.editor: the Train page's layer table <-> model spec, without a browser."""
import math

import pandas as pd
import pytest

from core.editor import (COLUMNS, MissingTypeError, apply_editor_state, blank, canonical_rows, matching_preset,
                         move_row, normalized_rows, rows_to_spec, spec_to_rows)
from core.layers import LAYER_TYPES, PARAM_NAMES
from core.models import DEFAULT_PRESET, PRESETS, validate


def row(kind=None, **values):
    return {"type": kind, **{c: None for c in PARAM_NAMES}, **values}


def test_columns_are_every_parameter_of_every_type():
    assert COLUMNS == ("type", "out", "kernel", "stride", "padding", "p")
    assert set(PARAM_NAMES) == {p for lt in LAYER_TYPES.values() for p in lt.params}


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_survives_a_round_trip(name):
    spec = PRESETS[name].spec()
    back = rows_to_spec(canonical_rows(spec_to_rows(spec)))
    assert validate(back) == validate(spec)
    assert matching_preset(back, name, 10) == name


def test_pooling_stride_shows_as_its_kernel():
    assert spec_to_rows([{"type": "maxpool", "kernel": 3}]) == [row("maxpool", kernel=3, stride=3)]


def test_blank_cells_of_every_kind():
    assert blank(None) and blank(float("nan")) and blank(pd.NA)
    assert not blank(0) and not blank("conv") and not blank(0.0)


def test_normalized_rows_turn_table_values_into_plain_python():
    rows = normalized_rows([{"type": "conv", "out": 16.0, "kernel": pd.NA, "stride": math.nan, "padding": 1,
                             "p": None}, {"type": pd.NA, "p": 0.25}])
    assert rows == [row("conv", out=16, padding=1), row(None, p=0.25)]
    assert type(rows[0]["out"]) is int and type(rows[1]["p"]) is float


def test_a_newly_chosen_type_gets_its_defaults_and_loses_foreign_parameters():
    rows = canonical_rows([row("dropout", out=16, kernel=3), row("conv", p=0.5), row("linear"), row(None, out=3)])
    assert rows == [row("dropout", p=0.25), row("conv", out=16, kernel=3, stride=1, padding=1),
                    row("linear", out=10), row(None, out=3)]


def test_a_row_without_type_is_named_by_its_number():
    with pytest.raises(MissingTypeError) as e:
        rows_to_spec([row("flatten"), row(None)])
    assert e.value.row == 2


def test_editor_state_edits_adds_and_deletes():
    base = [row("conv", out=8, kernel=3, stride=1, padding=0), row("relu"), row("flatten")]
    state = {"edited_rows": {"0": {"out": 12, "up": "↑"}, 7: {"out": 1}},
             "added_rows": [{"type": "linear", "out": 10, "bogus": 1}], "deleted_rows": [1]}
    assert apply_editor_state(base, state) == [row("conv", out=12, kernel=3, stride=1, padding=0),
                                               row("flatten"), row("linear", out=10)]
    assert apply_editor_state(base, None) == base


def test_move_row_swaps_neighbours_and_ignores_the_ends():
    rows = [row("conv"), row("relu"), row("flatten")]
    assert [r["type"] for r in move_row(rows, 1, -1)] == ["relu", "conv", "flatten"]
    assert [r["type"] for r in move_row(rows, 2, 1)] == ["conv", "relu", "flatten"]
    assert [r["type"] for r in rows] == ["conv", "relu", "flatten"], "the input is not changed"


def test_an_edited_or_invalid_spec_is_no_preset():
    spec = PRESETS[DEFAULT_PRESET].spec()
    spec[0] = {**spec[0], "out": spec[0]["out"] + 1}
    assert matching_preset(spec, DEFAULT_PRESET, 10) is None
    assert matching_preset([{"type": "relu"}], DEFAULT_PRESET, 10) is None
