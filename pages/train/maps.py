"""The probe image's feature maps, epoch by epoch, and what the model made of it."""
from __future__ import annotations

import numpy as np
import streamlit as st

from app.state import PERSIST
from app.text import md_escape
from app.ui import lang, t
from core.figures import PLOT_CONFIG
from core import live_payload
from core.layers import localize_label
from core.run_results import config_of
from pages.train.keys import K
from pages.train.runs import classes_of

ss = st.session_state


def upscale(img: np.ndarray, k: int) -> np.ndarray:
    return np.kron(img, np.ones((k, k), dtype=img.dtype))


def feature_maps(job, run: str) -> None:
    """`run`: the run's watch token, the key of its shared figures (core.live_payload)."""
    snaps = job.snapshots()
    st.subheader(t("train.fm_title"))
    if not snaps:
        st.caption(t("train.fm_waiting"))
        return
    epochs = [s.epoch for s in snaps]
    # Follow the newest epoch unless the learner has moved the slider back.
    if K.FM_LAST not in ss or ss.get(K.FM_EPOCH) not in epochs or ss.get(K.FM_EPOCH) == ss[K.FM_LAST]:
        ss[K.FM_EPOCH] = epochs[-1]
    ss[K.FM_LAST] = epochs[-1]
    classes = classes_of(config_of(job).dataset, config_of(job).classes)
    true_label = int(job.data.test_labels[job.probe_index])
    st.caption(t("train.fm_caption", label=md_escape(classes[true_label])))
    img_col, maps_col = st.columns([1, 3])
    with maps_col:
        c1, c2 = st.columns([3, 2])
        if len(epochs) > 1:
            c1.select_slider(t("train.fm_epoch"), epochs, key=K.FM_EPOCH,
                             format_func={e: t("train.fm_epoch_0") if e == 0 else t("train.fm_epoch_n", n=e)
                                          for e in epochs}.get,
                             help=t("train.fm_epoch_help"), **PERSIST)
        else:
            c1.markdown(t("train.fm_only_before"))
        snap = snaps[epochs.index(ss[K.FM_EPOCH])]
        names = [layer.name for layer in snap.layers]
        if ss.get(K.FM_LAYER) not in names:
            ss[K.FM_LAYER] = names[0]
        c2.selectbox(t("train.fm_layer"), names, key=K.FM_LAYER, help=t("train.fm_layer_help"),
                     format_func={name: localize_label(name, lang()) for name in names}.get, **PERSIST)
        layer = snap.layers[names.index(ss[K.FM_LAYER])]
        st.image(live_payload.maps_grid(run, snap.epoch, layer.name, layer.maps), width="stretch")
        st.caption(t("train.fm_grid_caption", n=layer.maps.shape[0], h=layer.maps.shape[1],
                     w=layer.maps.shape[2]))
    with img_col:
        st.image(live_payload.probe_image(run, job.data.test_images[job.probe_index].numpy(), 6),
                 caption=t("train.probe_caption", index=job.probe_index, label=md_escape(classes[true_label])))
        st.plotly_chart(live_payload.probabilities(run, snap.epoch, snap.probabilities, classes, true_label, lang(), t),
                        config=PLOT_CONFIG, key="train.probe_chart")
