"""What the convolution and pooling tabs share: the step figure beside its clickable output grid,
the typed-number editors, the output-size formula with its notes, and the PyTorch code."""
from __future__ import annotations

from typing import Callable

import plotly.graph_objects as go
import streamlit as st

from app.ui import t
from core import conv, conv_explain
from core.stepper import Stepper
from pages.convolution.callbacks import on_matrix_text
from pages.convolution.state import CHART_CONFIG, K, ss
from pages.convolution.stepper import stepper


def matrix_editors(mat_key: str, rows_key: str, cols_key: str, max_side: int, prefix: str,
                   label_key: str, channel_names: bool) -> None:
    m = ss[mat_key]
    cols = st.columns(conv.MAX_CHANNELS, gap="medium")  # always thirds: a box as wide as a grid needs
    for c in range(m.shape[0]):
        with cols[c]:
            label = t(label_key, ch=f" · {t('conv.channel_n', n=c + 1)}" if channel_names and m.shape[0] > 1 else "")
            st.text_area(
                label, key=K.text(mat_key, c), height=68 + 22 * min(m.shape[1], 12),
                on_change=on_matrix_text, args=(mat_key, c, rows_key, cols_key, max_side, prefix),
                help=t("conv.edit_help"),
            )
            err = ss.get(K.error(mat_key, c))
            if err:
                code, details = err
                st.error(t(f"conv.matrix_err_{code}", **details) + " " + t("conv.matrix_err_kept"),
                         icon=":material/error:")


def _size_formula(sizes, with_dilation: bool) -> None:
    """The output-size formula, then the same with the current numbers for height and width."""
    st.latex(conv_explain.formula(with_dilation))
    for axis, s in zip(("H", "W"), sizes):
        st.latex(conv_explain.filled_formula(axis, s, with_dilation))


def code_comments() -> dict[str, str]:
    return {k: t(f"conv.code_{k}") for k in conv.CODE_COMMENTS_EN}



def figure_and_output(fig: go.Figure, out: go.Figure, prefix: str, wo: int, n_steps: int,
                       jump: Callable[[], None]) -> None:
    """The step figure and the clickable output grid: side by side when they fit, else stacked."""
    chart_key = f"{prefix}.out_click.{ss.get(f'{prefix}.click_gen', 0)}"
    wide = fig.layout.width > 640
    left, right = (st.container(), st.container()) if wide else st.columns([3, 2], gap="medium")
    with left:
        # static: nothing to hover or click here, and a static plot is cheaper to redraw
        st.plotly_chart(fig, config={**CHART_CONFIG, "staticPlot": True}, key=f"{prefix}.fig", width="content",
                        theme=None)
    with right:
        jump()
        st.plotly_chart(out, config=CHART_CONFIG, key=chart_key, width="content", theme=None,
                        on_select=_click_callback(prefix, chart_key, wo, n_steps), selection_mode="points")
        st.caption(t("conv.click_hint"))



def _click_callback(prefix: str, chart_key: str, wo: int, n_steps: int) -> Callable[[], None]:
    """on_select for the output grid: jump to the clicked cell, then reset the chart's selection."""
    def cb() -> None:
        state = ss.get(chart_key)
        points = state.selection.points if state is not None else []
        # only the click-catching squares carry customdata; x, y are the cell's column and row
        hits = [p for p in points if p.get("customdata") is not None and "x" in p and "y" in p]
        if hits:
            r, c = int(round(hits[0]["y"])), int(round(hits[0]["x"]))
            ss[f"{prefix}.click_gen"] = ss.get(f"{prefix}.click_gen", 0) + 1  # a fresh chart, no selection
            if Stepper(ss, prefix, n_steps).go_to_cell(r, c, wo):
                st.rerun()  # it was playing: a full rerun stops the fragment's timer (see stepper)
    return cb


def size_section(res, kind: str) -> None:
    sizes = (res.size_h, res.size_w)
    st.subheader(t("conv.size_title", ho=sizes[0].size, wo=sizes[1].size), anchor=False)
    _size_formula(sizes, with_dilation=kind == "conv")
    st.caption(t("conv.size_legend" if kind == "conv" else "conv.size_legend_pool"))
    for name, values in conv_explain.size_notes(sizes, kind):
        st.markdown("- " + t(f"conv.hint_{name}", **values))
    axis = conv_explain.empty_axis(sizes) if res.empty else None
    if axis is not None:
        s = sizes[axis]
        st.warning(t("conv.empty_output", axis=t(("conv.axis_height", "conv.axis_width")[axis]), span=s.span,
                     padded=s.padded, n=s.n, p=s.padding, k=s.k, d=s.dilation), icon=":material/block:")


def steps_and_code(res, kind: str, step_key: str, intro_key: str, draw, make_code) -> None:
    """The part convolution and pooling share: stepper, output-size formula, PyTorch code."""
    if res.empty:
        size_section(res, kind)
        return
    st.caption(t(intro_key))
    stepper(step_key, len(res.steps), res.out_shape, lambda i, jump: draw(res, i, jump))
    size_section(res, kind)
    with st.expander(t("conv.code_title"), icon=":material/code:"):
        st.caption(t("conv.code_intro"))
        st.code(make_code(res, comments=code_comments()), language="python")

