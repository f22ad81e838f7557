"""Remembered tabs: st.tabs whose open tab survives reruns, language switches and code.

Streamlit keeps a keyed st.tabs' open tab as its *label*; a language switch changes every label,
and code cannot open a tab by position. So the open tab is also kept as an index under
index_key(key) ("train.tab" → "train.tab_idx"): the tabs are drawn from it, a click writes it
back, and open_tab(key, i) (e.g. "show the live tab after Start") sets it.
"""
from __future__ import annotations

from typing import Sequence

import streamlit as st


def index_key(key: str) -> str:
    """Where the open tab's index lives in session state."""
    return f"{key}_idx"


def open_tab(key: str, index: int) -> None:
    """Open tab `index` on the next run (call before the tabs are drawn, or then st.rerun())."""
    st.session_state[index_key(key)] = index


def open_index(key: str) -> int:
    return int(st.session_state.get(index_key(key), 0))


def remembered_tabs(labels: Sequence[str], key: str):
    """st.tabs(labels) opened at the remembered index (the first tab when it is out of range)."""
    ss = st.session_state
    labels = list(labels)
    idx = ss.get(index_key(key), 0)
    ss[key] = labels[idx if isinstance(idx, int) and 0 <= idx < len(labels) else 0]
    return st.tabs(labels, key=key, on_change=_remember, args=(key, labels))


def _remember(key: str, labels: list[str]) -> None:
    """on_change: keep the clicked tab as an index (labels are those the tabs were drawn with)."""
    ss = st.session_state
    if ss.get(key) in labels:
        ss[index_key(key)] = labels.index(ss[key])
