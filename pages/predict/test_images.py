"""Predict's test-image input: an index (or Random), the image, and a grid of random test
images with this model's answers, one click from becoming the input."""
from __future__ import annotations

import numpy as np
import streamlit as st

from app.data import dataset_or_retry
from app.models import dataset_title
from app.samples import count_and_reshuffle, sample_grid
from app.state import clamp
from app.text import md_escape
from app.ui import t
from core.confidence import shown_temperature
from core.features import run_inference
from core.figures.predict import pixel_tile
from core.figures.samples import picked_index
from core.preprocess import Preprocessed, from_dataset_image
from core.samples import draw_indices
from core.samples import predict as predict_samples
from pages.predict.keys import SAMPLE_COLUMNS, SAMPLE_GRID_PX, K, InputInfo


def _random_index(n: int) -> None:
    st.session_state[K.INDEX] = int(np.random.default_rng().integers(n))


def test_input(ckpt) -> tuple[Preprocessed | None, InputInfo]:
    data = dataset_or_retry(ckpt.dataset, "predict", dataset_title(ckpt.dataset))
    if data is None:
        return None, InputInfo("test", error_shown=True)
    n = len(data.test_labels)
    clamp(K.INDEX, 0, n - 1, 0)
    cols = st.columns([3, 2], vertical_alignment="bottom")
    index = int(cols[0].number_input(t("predict.test_index", last=n - 1), 0, n - 1, step=1, key=K.INDEX))
    cols[1].button(t("predict.random"), on_click=_random_index, args=(n,), icon=":material/casino:",
                   key="predict.random")
    image = data.test_images[index].numpy()
    label = int(data.test_labels[index])
    st.image(pixel_tile(image / 255.0, 168), caption=t("predict.test_caption", index=index,
                                                     label=md_escape(ckpt.classes[label])))
    if st.session_state.get(K.FROM_TRAIN) == index:
        st.info(t("predict.from_train"))
    _samples(ckpt, data, index)
    return from_dataset_image(image, ckpt.mean, ckpt.std), InputInfo("test", index=index, label=label)


def _pick_sample(drawn) -> None:
    """on_select of the sample grid: the clicked test image becomes the input."""
    index = picked_index(st.session_state.get(K.SAMPLES), drawn)
    if index is not None:
        st.session_state[K.INDEX] = index


def _samples(ckpt, data, current: int) -> None:
    """A random draw of test images with this model's answers (one batch). The confidence is the
    one the prediction shows (calibrated unless switched off)."""
    st.markdown(f"**{t('samples.pick_title')}**")
    count, seed = count_and_reshuffle("predict", *st.columns([2, 1], vertical_alignment="bottom"))
    indices = draw_indices(len(data.test_labels), count, seed)
    temperature = shown_temperature(ckpt.meta, bool(st.session_state.get(K.CALIBRATED, True)))
    # The page reruns on every click in the explorer: run the model on the draw only when it changed.
    # (The cache keeps the model too, so its id cannot be reused by another while cached.)
    key = (st.session_state.get(K.MODEL), id(ckpt.model), tuple(indices.tolist()), temperature)
    cached = st.session_state.get(K.SAMPLES_CACHE)
    if cached and cached[0] == key:
        drawn = cached[1]
    else:
        drawn = run_inference(predict_samples, ckpt.model, data.test_images, data.test_labels, indices,
                              ckpt.mean, ckpt.std, temperature)
        st.session_state[K.SAMPLES_CACHE] = (key, drawn, ckpt.model)
    images = data.test_images.numpy()[drawn.indices]
    sample_grid(images, drawn, ckpt.classes, key=K.SAMPLES, columns=SAMPLE_COLUMNS,
                width_px=SAMPLE_GRID_PX, selected=current, on_pick=lambda: _pick_sample(drawn))
    st.caption(t("samples.pick_hint"))
