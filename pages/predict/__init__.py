"""Predict: draw, upload or pick a digit, watch the model decide, and look inside it.

Layout only: the model list is app.models; preprocessing, models, activations, receptive fields
and saliency are core's; the figures are core.figures'. Per-user state lives in
st.session_state under keys starting with "predict." (pages/predict/keys.py).
"""
from __future__ import annotations

import streamlit as st

from app.paint_first import forget
from app.ui import t
from core.features import layer_outputs, run_inference
from pages.predict.inputs import choose_input, ready
from pages.predict.keys import K
from pages.predict.inside import explorer
from pages.predict.model_choice import apply_train_request, choose_model, model_caption
from pages.predict.prediction import show_prediction, show_steps


def render() -> None:
    apply_train_request()
    st.title(t("predict.title"))
    st.caption(t("predict.intro"))
    ckpt = choose_model()
    if ckpt is None:
        return
    st.caption(model_caption(ckpt))
    left, right = st.columns([1, 1.35], gap="large")
    with left:
        pre, info = choose_input(ckpt)
    with right:
        if not ready(pre, info):
            forget(K.ANSWERED)   # no answer on screen: the next one is painted first again
            return  # never a guess: no prediction, no explorer
        outputs = run_inference(layer_outputs, ckpt.model, ckpt.spec, pre.tensor)
        probs = show_prediction(ckpt, outputs, info)
    st.subheader(t("predict.steps_title"))
    show_steps(pre, info)
    explorer(ckpt, pre, outputs, probs)
