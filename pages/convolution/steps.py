"""The Convolution page's first tab: a small input and kernel, one output cell at a time."""
from __future__ import annotations

from typing import Callable

import numpy as np
import streamlit as st

from app.state import PERSIST
from app.ui import t
from core import conv
from core.figures.conv import conv_step_figure, output_figure
from pages.convolution.callbacks import (on_channels, on_conv_random, on_conv_reset, on_conv_rgb_example,
                                         on_setting, on_size)
from pages.convolution.parts import figure_and_output, matrix_editors, steps_and_code
from pages.convolution.state import K, ss


@st.cache_data(max_entries=64, show_spinner=False)
def compute_conv(x: np.ndarray, w: np.ndarray, bias: float, stride: int, padding: int, dilation: int,
                 flip: bool) -> conv.ConvResult:
    return conv.conv_steps(x, w, bias, stride, padding, dilation, flip)



def draw_conv_step(res: conv.ConvResult, i: int, jump: Callable[[], None]) -> None:
    step = res.steps[i]
    ho, wo = res.out_shape
    st.markdown(t("conv.step_title", i=i + 1, n=len(res.steps), r=step.row + 1, c=step.col + 1,
                  r0=step.rows[0] + 1, r1=step.rows[-1] + 1, c0=step.cols[0] + 1, c1=step.cols[-1] + 1))
    out = output_figure(res.output[0], i, (step.row, step.col), signed=bool(res.output.min() < 0),
                        title=t("conv.fig_output", ho=ho, wo=wo), t=t)
    figure_and_output(conv_step_figure(res, step, t), out, K.CONV_STEPS, wo, len(res.steps), jump)
    with st.container(border=True, key="conv-sum"):
        c_n = res.input.shape[0]
        for c in range(c_n):
            name = t("conv.channel_n", n=c + 1) if c_n > 1 else t("conv.products_sum")
            st.markdown(f"**{name[:1].upper() + name[1:]}:** {step.channel_formula(c)}")
        parts = [conv.fmt_term(v) for v in step.partial_sums]
        total = " + ".join(parts) + f" + {conv.fmt_term(step.bias)} = **{conv.fmt_sum(step.total)}**"
        st.markdown(t("conv.total_line", r=step.row + 1, c=step.col + 1, formula=total))



def conv_section() -> None:
    st.markdown(t("conv.intro"))
    with st.container(border=True):
        row = st.container(horizontal=True, vertical_alignment="bottom", gap="medium")
        with row:
            st.segmented_control(t("conv.channels"), options=[1, 2, 3], key=K.C, required=True,
                                 on_change=on_channels, help=t("conv.channels_help"), **PERSIST)
            size_args = (K.INPUT, K.H, K.W, K.CONV_STEPS)
            st.number_input(t("conv.in_rows"), 1, conv.MAX_INPUT_SIDE, step=1, key=K.H, on_change=on_size,
                            args=size_args, width=118, **PERSIST)
            st.number_input(t("conv.in_cols"), 1, conv.MAX_INPUT_SIDE, step=1, key=K.W, on_change=on_size,
                            args=size_args, width=118, **PERSIST)
            k_args = (K.KERNEL, K.KH, K.KW, K.CONV_STEPS)
            st.number_input(t("conv.k_rows"), 1, conv.MAX_KERNEL_SIDE, step=1, key=K.KH, on_change=on_size,
                            args=k_args, width=118, **PERSIST)
            st.number_input(t("conv.k_cols"), 1, conv.MAX_KERNEL_SIDE, step=1, key=K.KW, on_change=on_size,
                            args=k_args, width=118, **PERSIST)
            st.number_input(t("conv.bias"), -100.0, 100.0, step=1.0, format="%g", key=K.BIAS,
                            help=t("conv.bias_help"), on_change=on_setting, args=(K.CONV_STEPS,), width=130, **PERSIST)
        row = st.container(horizontal=True, vertical_alignment="bottom", gap="medium")
        with row:
            st.segmented_control(t("conv.stride"), options=list(conv.STRIDES), key=K.STRIDE, required=True,
                                 help=t("conv.stride_help"), on_change=on_setting, args=(K.CONV_STEPS,), **PERSIST)
            st.segmented_control(t("conv.padding"), options=list(conv.PADDINGS), key=K.PADDING, required=True,
                                 help=t("conv.padding_help"), on_change=on_setting, args=(K.CONV_STEPS,), **PERSIST)
            st.segmented_control(t("conv.dilation"), options=list(conv.DILATIONS), key=K.DILATION,
                                 required=True, help=t("conv.dilation_help"), on_change=on_setting,
                                 args=(K.CONV_STEPS,), **PERSIST)
            st.space("small")
            st.toggle(t("conv.flip"), key=K.FLIP, on_change=on_setting, args=(K.CONV_STEPS,), **PERSIST)
        st.caption(t("conv.flip_note"))
        with st.container(horizontal=True, gap="small"):
            st.button(t("conv.btn_random"), icon=":material/casino:", on_click=on_conv_random, key="conv.b_random")
            st.button(t("conv.btn_reset"), icon=":material/restart_alt:", on_click=on_conv_reset, key="conv.b_reset")
            st.button(t("conv.btn_rgb"), icon=":material/palette:", on_click=on_conv_rgb_example, key="conv.b_rgb",
                      help=t("conv.btn_rgb_help"))

    with st.expander(t("conv.edit_numbers"), icon=":material/edit:"):
        st.caption(t("conv.edit_intro"))
        matrix_editors(K.INPUT, K.H, K.W, conv.MAX_INPUT_SIDE, K.CONV_STEPS, "conv.edit_input", True)
        matrix_editors(K.KERNEL, K.KH, K.KW, conv.MAX_KERNEL_SIDE, K.CONV_STEPS, "conv.edit_kernel", True)

    res = compute_conv(ss[K.INPUT], ss[K.KERNEL], float(ss[K.BIAS]), int(ss[K.STRIDE]),
                       int(ss[K.PADDING]), int(ss[K.DILATION]), bool(ss[K.FLIP]))
    steps_and_code(res, "conv", K.CONV_STEPS, "conv.steps_intro", draw_conv_step, conv.conv_code)
