"""The Train page's layer table as plain data: one row per layer, one column per parameter.

A row is {"type": "conv" | … | None, "out": int | None, "kernel": …, "stride": …, "padding": …,
"p": float | None}: every parameter of every layer type (core.layers) is a column, and a row
leaves blank the ones its type doesn't have. This module converts rows to and from a model spec,
cleans up what a table widget hands back (blank cells, numbers as floats, pending edits), and
tells whether a spec is one of the presets. Nothing here knows about Streamlit.
"""
from __future__ import annotations

from typing import Any, Mapping

from core.layers import FLOAT_PARAMS, LAYER_TYPES, PARAM_NAMES, SpecError
from core.models import PRESETS, Spec, validate

COLUMNS: tuple[str, ...] = ("type",) + PARAM_NAMES
# What the table lets a person type per parameter column: (minimum, maximum, step). The maxima
# keep a model small enough for this app (28 is MNIST's side); core.models checks the rest.
PARAM_RANGES: dict[str, tuple[float, float, float]] = {
    "out": (1, 4096, 1), "kernel": (1, 28, 1), "stride": (1, 28, 1), "padding": (0, 14, 1), "p": (0.0, 0.95, 0.05),
}
Row = dict[str, Any]


class MissingTypeError(SpecError):
    """A table row without a layer type; `row` is its 1-based number (pages translate this)."""

    def __init__(self, row: int):
        super().__init__(f"Row {row} has no layer type; choose one or delete the row.")
        self.row = row


def blank(value) -> bool:
    """An empty table cell: None, NaN or pandas' NA (which refuses to be a bool)."""
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN is the one value unequal to itself
    except (TypeError, ValueError):
        return True  # pandas.NA: comparisons return NA, whose truth value is ambiguous


def empty_row(kind: str | None = None) -> Row:
    return {"type": kind, **{c: None for c in PARAM_NAMES}}


def spec_to_rows(spec: Spec) -> list[Row]:
    """One row per layer, defaults written out (a pooling stride of None shows as its kernel)."""
    rows = []
    for layer in spec:
        params = LAYER_TYPES[layer["type"]].params
        row = empty_row(layer["type"])
        for name, default in params.items():
            value = layer.get(name, default)
            if name == "stride" and value is None:
                value = layer.get("kernel")
            row[name] = value
        rows.append(row)
    return rows


def normalized_rows(records: list[Mapping]) -> list[Row]:
    """Table records as plain Python: blanks (None, NaN, pd.NA) -> None, numbers -> int / float."""
    out = []
    for r in records:
        row = {"type": None if blank(r.get("type")) else r.get("type")}
        for c in PARAM_NAMES:
            v = r.get(c)
            row[c] = None if blank(v) else (float(v) if c in FLOAT_PARAMS else int(v))
        out.append(row)
    return out


def canonical_rows(rows: list[Mapping]) -> list[Row]:
    """Rows with the parameters that don't apply to a layer's type blanked and the missing ones
    of a newly chosen type filled with sensible defaults (a row without a type is kept as is)."""
    out = []
    for row in normalized_rows(rows):
        kind = row["type"]
        clean = dict(row) if kind is None else empty_row(kind)
        if kind in LAYER_TYPES:
            layer_type = LAYER_TYPES[kind]
            defaults = {**{k: v for k, v in layer_type.params.items() if v is not None}, **layer_type.new_row}
            for name in layer_type.params:
                value = row[name]
                clean[name] = defaults.get(name) if value is None else value
        out.append(clean)
    return out


def rows_to_spec(rows: list[Row]) -> Spec:
    """The spec the table describes; MissingTypeError for a row without a type."""
    spec = []
    for i, row in enumerate(rows):
        if row["type"] is None:
            raise MissingTypeError(i + 1)
        spec.append({"type": row["type"], **{k: row[k] for k in LAYER_TYPES[row["type"]].params
                                             if row.get(k) is not None}})
    return spec


def apply_editor_state(base: list[Row], state: Mapping | None) -> list[Row]:
    """base rows with a table widget's pending edits (edited, added, deleted rows) applied.

    `state` is what st.data_editor keeps under its key: {"edited_rows": {index: {column: value}},
    "added_rows": [{column: value}], "deleted_rows": [index]}; unknown columns are ignored."""
    state = state or {}
    rows = [dict(r) for r in base]
    for i, change in (state.get("edited_rows") or {}).items():
        if int(i) < len(rows):
            rows[int(i)].update({k: v for k, v in change.items() if k in COLUMNS})
    for added in state.get("added_rows") or []:
        rows.append({**empty_row(), **{k: v for k, v in added.items() if k in COLUMNS}})
    deleted = {int(i) for i in state.get("deleted_rows") or []}
    return [r for i, r in enumerate(rows) if i not in deleted]


def move_row(rows: list[Row], index: int, delta: int) -> list[Row]:
    """A copy of rows with row `index` swapped with its neighbour `delta` away (no-op at the ends)."""
    rows = list(rows)
    j = index + delta
    if 0 <= index < len(rows) and 0 <= j < len(rows):
        rows[index], rows[j] = rows[j], rows[index]
    return rows


def matching_preset(spec: Spec, preset_name: str, num_classes: int) -> str | None:
    """preset_name when `spec` is that preset's architecture (defaults filled in), else None."""
    try:
        same = validate(spec, num_classes=num_classes) == validate(PRESETS[preset_name].spec(),
                                                                  num_classes=num_classes)
    except SpecError:
        return None
    return preset_name if same else None
