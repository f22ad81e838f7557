"""Predict's "inside the model" explorer: feature maps, a receptive field, or saliency."""
from __future__ import annotations

import numpy as np
import streamlit as st

from app.state import PERSIST, clamp, keep_valid
from app.text import md_escape
from app.ui import lang, t
from core.features import input_gradient, receptive_field, run_inference, saliency
from core.figures import PLOT_CONFIG
from core.figures.inside import receptive_field_figure, saliency_overlay_figure
from core.figures.predict import fmt, map_figure
from core.layers import localize_label
from core.preprocess import Preprocessed
from pages.predict.keys import K, labels
from pages.predict.maps import feature_maps, layer_options

VIEWS = ("maps", "rf", "saliency")


def _select_position() -> None:
    event = st.session_state.get(K.RF_MAP)
    points = (event or {}).get("selection", {}).get("points", []) if event else []
    for p in points:
        if p.get("curve_number") == 1 and p.get("x") is not None:
            st.session_state[K.RF_ROW], st.session_state[K.RF_COL] = int(p["y"]), int(p["x"])
            return


def _strongest(maps: np.ndarray, channel: int) -> None:
    r, c = np.unravel_index(int(np.argmax(maps[channel])), maps[channel].shape)
    st.session_state[K.RF_ROW], st.session_state[K.RF_COL] = int(r), int(c)


def _receptive_field_view(ckpt, pre: Preprocessed, outputs) -> None:
    spatial = [o.index for o in outputs if o.spatial]
    options = layer_options(ckpt, outputs)
    keep_valid(K.RF_LAYER, spatial, spatial[-1])
    c1, c2 = st.columns([3, 2], vertical_alignment="bottom")
    st.session_state.setdefault(K.RF_LAYER, spatial[-1])
    layer = c1.selectbox(t("predict.rf_layer"), spatial, format_func=options.get, key=K.RF_LAYER,
                         **PERSIST, help=t("predict.rf_layer_help"))
    maps = outputs[layer].output.numpy()
    n, h, w = maps.shape
    clamp(K.RF_CHANNEL, 0, n - 1, 0)
    channel = c2.number_input(t("predict.channel"), 0, n - 1, step=1, key=K.RF_CHANNEL)
    if st.session_state.get(K.RF_SHOWN) != (layer, channel):
        _strongest(maps, channel)  # a new map: start where it responds most
        st.session_state[K.RF_SHOWN] = (layer, channel)
    clamp(K.RF_ROW, 0, h - 1, h // 2)
    clamp(K.RF_COL, 0, w - 1, w // 2)
    c3, c4, c5 = st.columns([1, 1, 1], vertical_alignment="bottom")
    row = c3.number_input(t("predict.rf_row"), 0, h - 1, step=1, key=K.RF_ROW)
    col = c4.number_input(t("predict.rf_col"), 0, w - 1, step=1, key=K.RF_COL)
    c5.button(t("predict.rf_strongest"), on_click=_strongest, args=(maps, channel),
              key="predict.rf_strongest", icon=":material/my_location:")
    rf = receptive_field(ckpt.spec, layer, row, col, tuple(pre.tensor.shape[1:]))
    st.session_state.setdefault(K.RF_GRAD, True)
    show_grad = st.toggle(t("predict.rf_gradient"), key=K.RF_GRAD, help=t("predict.rf_gradient_help"))
    name = localize_label(outputs[layer].name, lang())
    left, right = st.columns(2)
    left.markdown(f"**{t('predict.rf_map_title', layer=name, channel=channel)}**")
    lo, hi = float(maps[channel].min()), float(maps[channel].max())
    left.plotly_chart(map_figure(maps[channel], lo, hi if hi > lo else lo + 1, marker=(row, col),
                                 clickable=True, height=360, t=t),
                      config=PLOT_CONFIG, key=K.RF_MAP, on_select=_select_position, selection_mode="points")
    left.caption(t("predict.rf_click_hint"))
    right.markdown(f"**{t('predict.rf_input_title')}**")
    view = pre.model_view
    grad = (run_inference(input_gradient, ckpt.model, pre.tensor, layer, channel, row, col)
            if show_grad else None)
    right.plotly_chart(receptive_field_figure(view, rf, grad, t), config=PLOT_CONFIG, key="predict.rf_input")
    text = t("predict.rf_text", layer=name, row=row, col=col, top=rf.top, bottom=rf.bottom - 1,
             left=rf.left, right=rf.right - 1, h=rf.height, w=rf.width, size=view.shape[0])
    if rf.clipped:
        text += " " + t("predict.rf_clipped", fh=rf.full_height, fw=rf.full_width)
    st.info(text + " " + t("predict.rf_jump", jump=rf.jump))


def _saliency_view(ckpt, pre: Preprocessed, probs: np.ndarray) -> None:
    classes = [str(c) for c in ckpt.classes]
    options = [-1] + list(range(len(classes)))
    keep_valid(K.TARGET, options, -1)
    names = {i: f"{classes[i]} ({100 * probs[i]:.1f}%)" for i in options[1:]}
    names[-1] = t("predict.saliency_predicted", label=classes[int(probs.argmax())])  # plain-text options
    target = st.selectbox(t("predict.saliency_target"), options, key=K.TARGET, format_func=names.get,
                          help=t("predict.saliency_target_help"))
    sal = run_inference(saliency, ckpt.model, pre.tensor, None if target < 0 else target)
    left, right = st.columns(2)
    left.markdown(f"**{t('predict.saliency_overlay', label=md_escape(classes[sal.target]))}**")
    left.plotly_chart(saliency_overlay_figure(pre.model_view, sal.magnitude, t), config=PLOT_CONFIG,
                      key="predict.saliency_overlay")
    right.markdown(f"**{t('predict.saliency_signed')}**")
    limit = float(np.abs(sal.gradient).max()) or 1.0
    right.plotly_chart(map_figure(sal.gradient, -limit, limit, "RdBu_r", height=360, t=t),
                       config=PLOT_CONFIG, key="predict.saliency_signed_fig")
    st.caption(t("predict.saliency_caption", label=md_escape(classes[sal.target]), score=fmt(sal.score)))


def explorer(ckpt, pre: Preprocessed, outputs, probs: np.ndarray) -> None:
    st.subheader(t("predict.inside"))
    keep_valid(K.VIEW, VIEWS, "maps")
    st.session_state.setdefault(K.VIEW, "maps")
    view = st.segmented_control(t("predict.view"), VIEWS, required=True,
                                format_func=labels("view", VIEWS).get, key=K.VIEW,
                                **PERSIST, label_visibility="collapsed")
    if view == "rf":
        _receptive_field_view(ckpt, pre, outputs)
    elif view == "saliency":
        _saliency_view(ckpt, pre, probs)
    else:
        feature_maps(ckpt, outputs)
