"""Plotly figures the pages show, built from core's data (no Streamlit here).

Every builder takes `t`, the page's translator (key, **values) -> text, so figures come out in
the session's language; bench/ and tests pass core.i18n.translate bound to a language.
training  the Train page's curves, feature maps, confusion matrix, comparison
predict   the Predict page's probabilities, channel grids, maps, kernels
conv      the Convolution page's step-by-step boards
"""
from __future__ import annotations

from typing import Callable

Translate = Callable[..., str]
PLOT_CONFIG = {"displayModeBar": False}  # no Plotly toolbar over the small charts
