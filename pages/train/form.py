"""The set-up form's state: the layer table's rows and the recipe of the chosen preset."""
from __future__ import annotations

import streamlit as st

from core.editor import apply_editor_state, canonical_rows, move_row, spec_to_rows
from core.models import DEFAULT_PRESET, PRESETS
from core.recipe import form_values
from core.train import config_from_preset
from pages.train.keys import K
from pages.train.runs import manager

ss = st.session_state


def set_layers(rows: list[dict]) -> None:
    ss[K.LAYERS] = ss[K.LAYERS_DRAFT] = canonical_rows(rows)
    ss[K.EDITOR_V] = ss.get(K.EDITOR_V, 0) + 1


def move_layer(delta: int) -> None:
    click = ss.get(K.move(delta))
    if click:
        rows = canonical_rows(apply_editor_state(ss[K.LAYERS], ss.get(K.editor())))
        set_layers(move_row(rows, int(click["row"]), delta))


def load_preset() -> None:
    """Put the chosen preset's layers and training recipe into the form."""
    set_layers(spec_to_rows(PRESETS[ss[K.PRESET]].spec()))
    for field, value in form_values(config_from_preset(ss[K.PRESET]), manager().max_epochs).items():
        ss[K.FORM[field]] = value


def init_form() -> None:
    """First visit: the default preset on 10% of MNIST. Later visits: every choice is kept
    (the widgets persist their values for the session; see app.state.PERSIST)."""
    if K.PRESET not in ss:
        ss[K.PRESET] = DEFAULT_PRESET
        ss[K.DATASET] = "mnist"
        ss[K.FRACTION] = 0.1
        ss[K.SEED] = 0
        ss[K.EDITOR_V] = 0
        load_preset()
    # Pending edits of the layer table live in its widget state, which is dropped in any run
    # that doesn't draw the table: fold the last table the learner saw back into the base rows.
    if K.editor() not in ss and ss.get(K.LAYERS_DRAFT) not in (None, ss[K.LAYERS]):
        set_layers(ss[K.LAYERS_DRAFT])
