"""The Convolution page's pooling tab: max or average pooling, one output cell at a time."""
from __future__ import annotations

from typing import Callable

import numpy as np
import streamlit as st

from app.state import PERSIST
from app.ui import option_labels, t
from core import conv
from core.figures.conv import output_figure, pool_figure
from pages.convolution.callbacks import on_pool_kernel, on_pool_random, on_pool_reset, on_setting, on_size
from pages.convolution.parts import figure_and_output, matrix_editors, steps_and_code
from pages.convolution.state import K, ss


@st.cache_data(max_entries=64, show_spinner=False)
def compute_pool(x: np.ndarray, k: int, stride: int, padding: int, mode: str) -> conv.PoolResult:
    return conv.pool_steps(x, k, stride, padding, mode)


def draw_pool_step(res: conv.PoolResult, i: int, jump: Callable[[], None]) -> None:
    step = res.steps[i]
    ho, wo = res.out_shape
    st.markdown(t("conv.step_title", i=i + 1, n=len(res.steps), r=step.row + 1, c=step.col + 1,
                  r0=step.rows[0] + 1, r1=step.rows[-1] + 1, c0=step.cols[0] + 1, c1=step.cols[-1] + 1))
    out = output_figure(res.output[step.channel], i, (step.row, step.col), signed=bool(res.output.min() < 0),
                        title=t("conv.fig_output", ho=ho, wo=wo), t=t)
    figure_and_output(pool_figure(res, step, t), out, K.POOL_STEPS, wo, len(res.steps), jump)
    with st.container(border=True, key="conv-pool-sum"):
        result = conv.fmt_sum(step.result)
        formula = step.formula(res.mode).removesuffix(f"= {result}") + f"= **{result}**"
        st.markdown(t("conv.pool_line", r=step.row + 1, c=step.col + 1, formula=formula))
        if res.padding:
            st.caption(t("conv.pool_pad_max" if res.mode == "max" else "conv.pool_pad_avg"))


def pool_section() -> None:
    st.markdown(t("conv.pool_intro"))
    with st.container(border=True):
        c1, c2, c3 = st.columns([1.4, 1.6, 1.1], gap="medium")
        with c1:
            st.segmented_control(t("conv.pool_mode"), options=list(conv.POOL_MODES), key=K.POOL_MODE,
                                 required=True, format_func=option_labels("conv.pool_"),
                                 on_change=on_setting, args=(K.POOL_STEPS,), **PERSIST)
            a, b = st.columns(2)
            a.number_input(t("conv.rows"), 1, conv.MAX_INPUT_SIDE, step=1, key=K.POOL_H,
                           on_change=on_size, args=(K.POOL_X, K.POOL_H, K.POOL_W, K.POOL_STEPS),
                           **PERSIST)
            b.number_input(t("conv.cols"), 1, conv.MAX_INPUT_SIDE, step=1, key=K.POOL_W,
                           on_change=on_size, args=(K.POOL_X, K.POOL_H, K.POOL_W, K.POOL_STEPS),
                           **PERSIST)
        with c2:
            st.segmented_control(t("conv.pool_k"), options=[1, 2, 3, 4], key=K.POOL_K, required=True,
                                 on_change=on_pool_kernel, **PERSIST)
            st.segmented_control(t("conv.stride"), options=[1, 2, 3, 4], key=K.POOL_STRIDE, required=True,
                                 on_change=on_setting, args=(K.POOL_STEPS,), **PERSIST)
            max_p = conv.max_pool_padding(int(ss[K.POOL_K]))
            if ss[K.POOL_PADDING] > max_p:
                ss[K.POOL_PADDING] = max_p
            st.segmented_control(t("conv.padding"), options=list(range(max_p + 1)), key=K.POOL_PADDING,
                                 required=True, help=t("conv.pool_padding_help"), on_change=on_setting,
                                 args=(K.POOL_STEPS,), **PERSIST)
        with c3:
            st.button(t("conv.btn_random"), icon=":material/casino:", on_click=on_pool_random,
                      key="conv.pool.b_random", width="stretch")
            st.button(t("conv.btn_reset"), icon=":material/restart_alt:", on_click=on_pool_reset,
                      key="conv.pool.b_reset", width="stretch")
    with st.expander(t("conv.edit_numbers"), icon=":material/edit:"):
        st.caption(t("conv.edit_intro"))
        matrix_editors(K.POOL_X, K.POOL_H, K.POOL_W, conv.MAX_INPUT_SIDE, K.POOL_STEPS,
                       "conv.edit_input", False)

    res = compute_pool(ss[K.POOL_X], int(ss[K.POOL_K]), int(ss[K.POOL_STRIDE]),
                       int(ss[K.POOL_PADDING]), ss[K.POOL_MODE])
    steps_and_code(res, "pool", K.POOL_STEPS, "conv.pool_steps_intro", draw_pool_step, conv.pool_code)
