"""① Set up: how the architecture is written out — the layer table's columns, preset names and
descriptions in the visitor's language, the flatten answer and the per-layer summary."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from app.ui import lang, t
from core.editor import PARAM_RANGES
from core.layers import FLOAT_PARAMS, LAYER_TYPES, PARAM_NAMES, describe, localize_label, type_name
from core.models import flatten_explanation, normalize_layer
from core.recipe import TUTORIAL_OF
from pages.train.form import move_layer
from pages.train.keys import K


def layer_columns() -> dict:
    """The layer table's columns: the type, one number column per parameter, move buttons."""
    columns = {
        "_index": st.column_config.NumberColumn("#", width=32),
        "type": st.column_config.SelectboxColumn(t("train.col_type"), options=list(LAYER_TYPES), required=True,
                                                 help=t("train.col_type_help"), width=92,
                                                 format_func={k: type_name(k, lang()) for k in LAYER_TYPES}.get),
    }
    for name in PARAM_NAMES:
        low, high, step = PARAM_RANGES[name]
        floating = name in FLOAT_PARAMS
        columns[name] = st.column_config.NumberColumn(
            t(f"train.col_{name}"), min_value=low, max_value=high, step=step, help=t(f"train.col_{name}_help"),
            # Each header needs its room next to the editing icon: a bare "p" at 52 px was cut off.
            format="%.2f" if floating else None, width=92 if floating else 60 if name == "padding" else 72)
    for name, delta in (("up", -1), ("down", 1)):
        columns[name] = st.column_config.ButtonColumn(" ", type="tertiary", on_click=move_layer, args=(delta,),
                                                      key=K.move(delta), help=t(f"train.move_{name}"), width=36)
    return columns


def preset_label(name: str) -> str:
    """"2-conv 16/32 → FC 128 · tutorial 000" for a preset that reproduces a tutorial."""
    return t("train.preset_tutorial", name=name, n=TUTORIAL_OF[name]) if name in TUTORIAL_OF else name


def preset_text(kind: str, preset, english: str) -> str:
    """core's text (the source of truth) unless the catalog translates it for this preset."""
    key = f"train.{kind}.{preset.name}"
    text = t(key)
    return english if text == key or lang() == "en" else text


def preset_description(preset) -> str:
    return preset_text("preset", preset, preset.description)


def flatten_answer(table, preset, is_preset: bool) -> None:
    """Why the first linear layer receives the numbers it does, in words and numbers; a
    preset with a note about it (tutorial 002's comment) points to that note."""
    answer = flatten_explanation(table)
    if answer is None:
        return
    st.markdown(t("train.flatten_answer", source=localize_label(answer.source, lang()), channels=answer.channels,
                  height=answer.height, width=answer.width, numbers=f"{answer.numbers:,}",
                  receiver=localize_label(answer.receiver, lang())))
    if preset.note and is_preset:
        st.caption(t("train.flatten_see_note"))


def summary_frame(table, spec) -> pd.DataFrame:
    return pd.DataFrame([{
        "#": r.index + 1,
        t("train.sum_layer"): f"{localize_label(r.name, lang())} · {describe(normalize_layer(spec[r.index], r.index), lang())}",
        t("train.sum_shape"): "×".join(map(str, r.output_shape)),
        t("train.sum_params"): r.params_formula if r.params else "0",
        t("train.sum_macs"): f"{r.mult_adds:,}" if r.mult_adds else "0",
        t("train.sum_rf"): f"{r.receptive_field}×{r.receptive_field}" if r.receptive_field else "—",
    } for r in table.layers])
