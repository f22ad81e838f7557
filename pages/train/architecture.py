"""① Set up: the architecture — preset picker, editable layer table, live summary and the cost
figures next to this server's limits."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from app.errors import explain
from app.state import PERSIST
from app.ui import t
from core.editor import COLUMNS, MissingTypeError, canonical_rows, matching_preset, normalized_rows, rows_to_spec
from core.editor import spec_to_rows
from core.layers import FLOAT_PARAMS, PARAM_NAMES
from core.limits import LimitError, spec_figures
from core.models import PRESETS, SpecError, summary
from core.recipe import TUTORIAL_OF, epochs_cut
from core.train import config_from_preset
from pages.train.form import load_preset, set_layers
from pages.train.keys import ROW_PX, K
from pages.train.layer_table import (flatten_answer, layer_columns, preset_description, preset_label,
                                     preset_text, summary_frame)
from pages.train.runs import manager

ss = st.session_state


def preset_block():
    """The preset picker with its description and notes; returns the chosen Preset."""
    c1, c2 = st.columns([1, 2], vertical_alignment="bottom")
    c1.selectbox(t("train.preset"), list(PRESETS), key=K.PRESET, on_change=load_preset,
                 format_func={name: preset_label(name) for name in PRESETS}.get,
                 help=t("train.preset_help"), **PERSIST)
    preset = PRESETS[ss[K.PRESET]]
    with c2:
        st.info(preset_description(preset), icon="ℹ️")
    if preset.note:
        st.caption(t("train.preset_note_lead") + " " + preset_text("preset_note", preset, preset.note))
    max_epochs = manager().max_epochs
    cut = epochs_cut(config_from_preset(preset.name), max_epochs)
    if cut is not None:
        st.caption(t("train.preset_epochs_cut", epochs=cut, max=max_epochs))
    if preset.name in TUTORIAL_OF and float(ss.get(K.FRACTION, 1.0)) < 1.0:
        st.caption(t("train.preset_full_data", n=TUTORIAL_OF[preset.name], label=t("train.fraction")))
    return preset


def layer_editor() -> list[dict]:
    """The editable layer table; returns its rows (a new type reruns with that type's defaults)."""
    st.markdown(t("train.layers_title"))
    df = pd.DataFrame(ss[K.LAYERS], columns=COLUMNS)
    for c in PARAM_NAMES:
        df[c] = df[c].astype("float64" if c in FLOAT_PARAMS else "Int64")
    df["up"], df["down"] = "↑", "↓"
    df.index = pd.RangeIndex(1, len(df) + 1)
    height = ROW_PX * (len(ss[K.LAYERS]) + 2) + 3  # header, rows, the editor's "add row" line
    edited = st.data_editor(
        df, key=K.editor(), num_rows="dynamic", width="content", hide_index=False, placeholder="",
        height=height, row_height=ROW_PX, column_config=layer_columns())
    rows = normalized_rows(edited.to_dict("records"))
    canon = canonical_rows(rows)
    ss[K.LAYERS_DRAFT] = canon
    if canon != rows:
        set_layers(canon)  # a type was chosen or changed: show its parameters, with defaults
        st.rerun()
    return canon


def checked(canon: list[dict], num_classes: int):
    """(spec, summary table, cost figures, error, whether the error is a server limit)."""
    spec, error, table, figures, limited = None, None, None, [], False
    try:
        spec = rows_to_spec(canon)
        table = summary(spec, num_classes=num_classes)
        # Each cost figure next to the limit that caps it, computed from the shapes alone.
        figures = spec_figures(spec, num_classes=num_classes, batch_size=int(ss[K.BATCH]))
    except MissingTypeError as e:
        spec, error = None, t("train.layer_without_type", n=e.row)
    except LimitError as e:  # kernel, stride, padding or layer count over this server's limit
        error, limited = t("train.arch_limit", reason=explain(e)), True
    except SpecError as e:
        spec, error = None, str(e)
    over = next((f for f in figures if not f.ok), None)
    if over is not None:
        error, limited = t("train.arch_limit", reason=t(f"train.limit_{over.key}", **over.details)), True
    return spec, table, figures, error, limited


def architecture_block(num_classes: int):
    """Preset picker, layer table, live summary with this server's limits; returns (spec, preset
    name or None, error or None, whether the error is a server limit)."""
    st.subheader(t("train.arch_title"))
    preset = preset_block()
    left, right = st.columns([13, 7])  # room for every column of the layer table at 1400 px
    with left:
        canon = layer_editor()
    spec, table, figures, error, limited = checked(canon, num_classes)
    with right:
        st.markdown(t("train.layers_help"))
        if table is not None and error is None:
            st.success(t("train.totals", params=f"{table.total_params:,}", macs=f"{table.total_mult_adds:,}",
                         flatten=table.flatten_formula or "—"), icon="✅")
            flatten_answer(table, preset, matching_preset(spec, preset.name, num_classes) == preset.name)
        elif table is not None:
            st.error(error, icon="🚫")
        else:
            st.error(t("train.arch_invalid", reason=error), icon="🚫")
        if figures:
            with st.container(key="train-limits"):
                st.markdown(t("train.figures_title"))
                st.markdown("\n".join(
                    f"- {t(f'train.figure_{f.key}', **f.details)}" if f.ok
                    else f"- :red[**{t(f'train.limit_{f.key}', **f.details)}**]" for f in figures))
        if st.button(t("train.reset_layers"), key="train.reset", icon=":material/restart_alt:"):
            set_layers(spec_to_rows(preset.spec()))
            st.rerun()
    if table is not None:
        st.markdown(t("train.summary_title"))
        st.dataframe(summary_frame(table, spec), hide_index=True, width="stretch", row_height=ROW_PX,
                     height=ROW_PX * (len(table.layers) + 1) + 3,
                     column_config={"#": st.column_config.NumberColumn("#", width=40)})
    chosen = matching_preset(spec, preset.name, num_classes) if spec is not None and error is None else None
    return (spec if error is None else None), chosen, error, limited
