"""Plotly figures the pages show, built from core's data (no Streamlit here).

Every builder takes `t`, the page's translator (key, **values) -> text, so figures come out in
the session's language; bench/ and tests pass core.i18n.translate bound to a language.
training  the Train page's curves, feature maps, confusion matrix, comparison
predict   the Predict page's probabilities, channel grids, maps, kernels
conv      the Convolution page's step-by-step boards
"""
from __future__ import annotations

import html
from typing import Any, Callable

Translate = Callable[..., str]


def plot_text(value: Any) -> str:
    """A learner's text (a class name from a checkpoint or an uploaded folder) for a Plotly label:
    Plotly reads `<b>`, `<a href=…>`, `<br>` … in tick labels, hover text and annotations, and
    turns entities back into characters, so the escaped text shows exactly as written."""
    return html.escape(str(value), quote=False)
PLOT_CONFIG = {"displayModeBar": False}  # no Plotly toolbar over the small charts
