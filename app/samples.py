"""The grid of random test images with a model's answers, shared by Train (results) and Predict
(pick an input): a count picker, a Reshuffle button and the grid itself.

Keys: "<page>.samples_n" (the count), "<page>.samples_seed" (bumped by Reshuffle),
"<page>.reshuffle" (the button); the chart's key is the caller's.
"""
from __future__ import annotations

from typing import Callable

import streamlit as st

from app.state import PERSIST
from app.ui import t
from core.figures import PLOT_CONFIG
from core.figures.samples import samples_figure
from core.samples import DEFAULT_COUNT, SAMPLE_COUNTS


def _reshuffle(page: str) -> None:
    st.session_state[f"{page}.samples_seed"] = st.session_state.get(f"{page}.samples_seed", 0) + 1


def count_and_reshuffle(page: str, count_column, button_column) -> tuple[int, int]:
    """The count picker and the Reshuffle button in the given columns; (count, seed)."""
    key = f"{page}.samples_n"
    st.session_state.setdefault(key, DEFAULT_COUNT)
    count = count_column.segmented_control(t("samples.count"), SAMPLE_COUNTS, key=key, required=True,
                                           help=t("samples.count_help"), **PERSIST)
    button_column.button(t("samples.reshuffle"), icon="🔀", on_click=_reshuffle, args=(page,),
                         key=f"{page}.reshuffle", help=t("samples.reshuffle_help"))
    return int(count), int(st.session_state.get(f"{page}.samples_seed", 0))


def sample_grid(images, drawn, classes, *, key: str, columns: int, width_px: int,
                selected: int | None = None, on_pick: Callable[[], None] | None = None) -> None:
    """The drawn images (core.samples.Samples) as one chart; with `on_pick`, a click on a tile
    calls it (read the event from st.session_state[key])."""
    fig = samples_figure(images, drawn, classes, t, columns=columns, width_px=width_px,
                         **({"selected": selected, "clickable": True} if on_pick else {}))
    if on_pick is None:
        st.plotly_chart(fig, config=PLOT_CONFIG, key=key, width="content")
    else:
        st.plotly_chart(fig, config=PLOT_CONFIG, key=key, width="content", on_select=on_pick,
                        selection_mode="points")
