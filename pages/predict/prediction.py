"""Predict's answer: the predicted class, its probabilities (calibrated by default, raw one
click away) and why the two differ; then the preprocessing steps from input to model input."""
from __future__ import annotations

import cv2
import numpy as np
import streamlit as st

from app.paint_first import paint_first
from app.state import PERSIST
from app.text import md_escape
from app.ui import t
from core.confidence import fitted_temperature, is_unsure
from core.features import probabilities
from core.figures import PLOT_CONFIG
from core.figures.predict import pixel_tile, probability_figure
from core.preprocess import Preprocessed
from pages.predict.keys import K, InputInfo


def _pct1(p: float) -> str:
    return f"{100 * p:.1f}"


def show_prediction(ckpt, outputs, info: InputInfo) -> np.ndarray:
    """Returns the probabilities shown, for the rest of the page."""
    temperature = fitted_temperature(ckpt.meta)
    raw = probabilities(outputs)
    calibrated = probabilities(outputs, temperature) if temperature is not None else None
    st.session_state.setdefault(K.CALIBRATED, True)
    use_calibrated = calibrated is not None and bool(st.session_state[K.CALIBRATED])
    probs = calibrated if use_calibrated else raw
    top = int(probs.argmax())  # the same class either way: scaling keeps the order
    classes = [str(c) for c in ckpt.classes]   # a checkpoint's own names: shown as text (app.text)
    st.markdown(f"### {t('predict.prediction', label=md_escape(classes[top]), pct=_pct1(probs[top]))}")
    if calibrated is not None:
        st.toggle(t("predict.calib_toggle"), key=K.CALIBRATED, help=t("predict.calib_toggle_help"), **PERSIST)
        shown_t = f"{temperature:.2f}"
        note = (t("predict.calib_caption", t=shown_t, raw=_pct1(raw[top])) if use_calibrated
                else t("predict.calib_caption_raw", t=shown_t, calibrated=_pct1(calibrated[top])))
        st.caption(note + " " + t("predict.calib_why"))
    else:
        st.caption(t("predict.calib_none"))
    true = info.label
    if true is not None:
        key = "predict.true_right" if true == top else "predict.true_wrong"
        (st.success if true == top else st.error)(t(key, label=md_escape(classes[true])))
    if is_unsure(probs[top]):
        st.warning(t("predict.low_confidence", pct=_pct1(probs[top])))
    paint_first(K.ANSWERED, raw.tobytes())   # a new answer reaches the screen before the charts
    st.plotly_chart(probability_figure(probs, classes, top, true, t), config=PLOT_CONFIG,
                    key="predict.probs")
    return probs


def show_steps(pre: Preprocessed, info: InputInfo) -> None:
    steps = pre.steps
    if info.kind == "test":
        st.caption(t("predict.steps_dataset_note"))
        return
    h, w = steps["input"].shape
    ink = np.dstack([steps["ink"]] * 3)
    if pre.bbox is not None:
        top, left, bottom, right = pre.bbox
        thick = max(1, round(max(h, w) / 140))
        cv2.rectangle(ink, (left, top), (right - 1, bottom - 1), (1.0, 0.25, 0.1), thick)
    ch, cw = steps["cropped"].shape
    sh, sw = steps["scaled"].shape
    shown = [
        (steps["input"], t("predict.step_input", w=w, h=h) if info.original in (None, (h, w))
         else t("predict.step_input_shrunk", w=w, h=h, ow=info.original[1], oh=info.original[0])),
        (ink, t("predict.step_ink_inverted") if pre.inverted else t("predict.step_ink")),
        (steps["cropped"], t("predict.step_cropped", w=cw, h=ch)),
        (steps["scaled"], t("predict.step_scaled", w=sw, h=sh)),
        (steps["centered"], t("predict.step_centered")),
    ]
    cols = st.columns(len(shown))
    for col, (img, caption) in zip(cols, shown):
        col.image(pixel_tile(img), caption=caption, width=140)
