"""Convolution page: watch a convolution (and pooling) happen one output cell at a time, then see
what kernels do to a real photo.

Layout and widgets only; the step engine, the output-size formula, kernel presets, parsing of
typed numbers, image filtering and the PyTorch snippet all live in core/ (conv.py,
conv_explain.py, images.py). Per-user state lives in st.session_state under keys starting with
"conv." (pages/convolution/state.py).
"""
from __future__ import annotations

import streamlit as st

from app.ui import t
from pages.convolution.images import images_section
from pages.convolution.pooling import pool_section
from pages.convolution.state import K, init_state, ss
from pages.convolution.steps import conv_section

TAB_NAMES = ("steps", "pool", "images", "ideas")
IDEAS = ("feature", "receptive", "shared", "padding", "stride", "pooling", "channels")


def ideas_section() -> None:
    for key in IDEAS:
        st.markdown(f"#### {t(f'conv.idea_{key}_title')}")
        st.markdown(t(f"conv.idea_{key}"))


SECTIONS = {"steps": conv_section, "pool": pool_section, "images": images_section, "ideas": ideas_section}


def render() -> None:
    init_state()
    # Typed grids line up in a fixed-width font (format_matrix aligns the columns with spaces).
    st.html('<style>[class*="st-key-conv-"][class*="_text-"] textarea, .st-key-conv-img-custom textarea '
            '{font-family: "Source Code Pro", ui-monospace, monospace; font-size: 0.95rem;}</style>')
    st.title(t("conv.title"), anchor=False)
    st.caption(t("conv.subtitle"))
    tab_labels = [t(f"conv.tab_{n}") for n in TAB_NAMES]
    # The tab remembers its label; after a language switch, map the old label to the new one.
    if ss.get(K.TAB) not in tab_labels:
        ss[K.TAB] = tab_labels[ss.get(K.TAB_INDEX, 0)]
    tabs = st.tabs(tab_labels, key=K.TAB, on_change="rerun")
    ss[K.TAB_INDEX] = tab_labels.index(ss[K.TAB]) if ss.get(K.TAB) in tab_labels else 0
    for tab, name in zip(tabs, TAB_NAMES):
        if tab.open:  # only the open tab runs (lazy tabs)
            with tab:
                SECTIONS[name]()
