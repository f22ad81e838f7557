"""Paint the answer first: after a page has drawn the answer a visitor is waiting for (Predict's
"Prediction: 7 (98.1%)"), a short pause before it draws the heavy rest (the probability chart, the
preprocessing steps, the feature-map explorer with its Plotly charts).

Why (issue 22, measured with bench/class_load.py's draw phases): on a busy browser — a class's
laptops, or two visitors on one core — a drawn digit's prediction reached the screen 0.3–1.5 s
after the mouse-up although the server had sent *every* message of the page within 0.1–0.25 s:
the browser took them all in one batch and drew all five charts before it painted the heading.
With this pause the answer's messages arrive alone, the browser paints them, and the charts
follow: drawn digit → prediction painted p95 1.1–1.5 s → 0.26 s in the 30-learner lesson
(a 0.06 s pause still let one draw in ten be batched). The pause holds no CPU (the script thread
sleeps; Streamlit sends what was drawn meanwhile), and it happens only for a new answer: a
visitor turning the explorer's knobs on the same digit never waits for it.
"""
from __future__ import annotations

import time

import streamlit as st

PAUSE_SECONDS = 0.12


def paint_first(key: str, answer_of: bytes) -> bool:
    """Call right after drawing an answer. `answer_of`: bytes that change exactly when the answer
    does (the model's raw output for this input); `key`: where the page remembers the last one.
    Pauses PAUSE_SECONDS when it is new; returns whether it paused."""
    if st.session_state.get(key) == answer_of:   # a few floats: kept as they are
        return False
    st.session_state[key] = answer_of
    time.sleep(PAUSE_SECONDS)
    return True


def forget(key: str) -> None:
    """The page shows no answer now (a cleared canvas): the next one is new, even if it is the
    same as the last (the same digit drawn again)."""
    st.session_state.pop(key, None)
