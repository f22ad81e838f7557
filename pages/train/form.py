"""The set-up form's state: the layer table's rows and the recipe of the chosen preset."""
from __future__ import annotations

import streamlit as st

from app import lesson
from core.data import DATASETS
from core.editor import apply_editor_state, canonical_rows, move_row, spec_to_rows
from core.models import DEFAULT_PRESET, PRESETS
from core.recipe import form_values
from core.train import config_from_preset
from pages.train.keys import FRACTIONS, K
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


def class_defaults(owner: str) -> None:
    """In a class: the learner's own seed (core.lesson.seeds) whenever the form holds another
    workspace's (first visit, or a learner who came back with the class code), and the current
    assignment's settings once per assignment (dataset, preset with its recipe, epochs and data
    share pulled inside its bounds) — so the form opens ready to start, and a new assignment
    from the teacher arrives as new defaults. The learner may change any of them after."""
    entry = lesson.my_entry()
    if entry is not None and ss.get(K.SEED_OWNER) != owner:
        ss[K.SEED_OWNER] = owner
        ss[K.SEED] = entry.seed
    a = lesson.current_assignment()
    if a is None or ss.get(K.ASSIGNED) == a.id:
        return
    ss[K.ASSIGNED] = a.id
    if a.dataset in DATASETS:
        ss[K.DATASET] = a.dataset
    if a.preset in PRESETS:
        ss[K.PRESET] = a.preset
        load_preset()
    b = a.bounds
    if b.max_epochs is not None and int(ss[K.EPOCHS]) > b.max_epochs:
        ss[K.EPOCHS] = int(b.max_epochs)
    if b.max_data_share is not None and float(ss[K.FRACTION]) > b.max_data_share + 1e-12:
        ss[K.FRACTION] = max((f for f in FRACTIONS if f <= b.max_data_share + 1e-12), default=FRACTIONS[0])
