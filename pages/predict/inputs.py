"""Predict's input column: draw a digit, upload a picture, or pick a test image; and whether
there is anything to predict."""
from __future__ import annotations

import streamlit as st

from app.draw_canvas import draw_canvas
from app.state import PERSIST, keep_valid
from app.ui import t, upload_limit_mb
from core.canvas import decode_canvas_png
from core.data import CUSTOM
from core.images import EXTENSIONS, ImageError, check_image_size, fit_within, header_size, load_image_bytes
from core.limits import current as current_limits
from core.preprocess import UPLOAD_SIDE, Preprocessed, preprocess
from pages.predict.keys import CANVAS_SIZE, MAX_UPLOAD_SIDE, K, InputInfo, labels
from pages.predict.test_images import test_input

SOURCES = ("draw", "upload", "test")


def _clear_canvas() -> None:
    st.session_state.pop(K.canvas(st.session_state.get(K.CANVAS_GEN, 0)), None)
    st.session_state[K.CANVAS_GEN] = st.session_state.get(K.CANVAS_GEN, 0) + 1


def _draw_input(ckpt) -> tuple[Preprocessed | None, InputInfo]:
    width = st.slider(t("predict.stroke_width"), 4, 40, 20, key=K.STROKE,
                      **PERSIST, help=t("predict.stroke_help"))
    gen = st.session_state.setdefault(K.CANVAS_GEN, 0)
    png = draw_canvas(key=K.canvas(gen), size=CANVAS_SIZE, stroke_width=width)
    cols = st.columns([1, 2], vertical_alignment="center")
    cols[0].button(t("predict.clear"), on_click=_clear_canvas, icon=":material/delete:",
                   key="predict.clear")
    cols[1].caption(t("predict.canvas_hint"))
    if png is None:
        return None, InputInfo("draw")
    try:
        image = decode_canvas_png(png)
    except ValueError:  # a picture the browser sent broken: treat as not drawn yet
        return None, InputInfo("draw")
    return preprocess(image, ckpt.mean, ckpt.std), InputInfo("draw")


def _upload_input(ckpt) -> tuple[Preprocessed | None, InputInfo]:
    limits = current_limits()
    max_mb = upload_limit_mb(limits.max_image_bytes)
    file = st.file_uploader(t("predict.upload_label"), type=list(EXTENSIONS), key=K.IMAGE_FILE,
                            help=t("predict.upload_help", max_mb=max_mb or "—"),
                            max_upload_size=max_mb)
    if file is None:
        st.session_state.pop(K.UPLOAD_CACHE, None)
        return None, InputInfo("upload", waiting=True)
    # Every click in the explorer reruns the page: decode and preprocess each upload only once.
    key = (file.file_id, ckpt.mean, ckpt.std)
    cached = st.session_state.get(K.UPLOAD_CACHE)
    if cached and cached[0] == key:
        return cached[1], cached[2]
    try:
        check_image_size(file.size, limits)  # before the bytes are read
        data = file.getvalue()
        _, width, height = header_size(data)  # the size the visitor uploaded (shown in the steps)
        image = load_image_bytes(data, limits, max_side=UPLOAD_SIDE)  # decoded small: memory
    except ImageError as e:
        return None, InputInfo("upload", error=t(f"predict.image_error_{e.code}", **e.details))
    info = InputInfo("upload", name=file.name, original=(height, width))
    pre = preprocess(fit_within(image, MAX_UPLOAD_SIDE), ckpt.mean, ckpt.std)
    st.session_state[K.UPLOAD_CACHE] = (key, pre, info)
    return pre, info


def choose_input(ckpt) -> tuple[Preprocessed | None, InputInfo]:
    # A model of the visitor's own classes has no server test set: draw or upload.
    sources = SOURCES[:2] if ckpt.dataset == CUSTOM else SOURCES
    keep_valid(K.SOURCE, sources, "draw")
    st.session_state.setdefault(K.SOURCE, "draw")
    source = st.segmented_control(t("predict.source"), sources, required=True,
                                  format_func=labels("source", sources).get, key=K.SOURCE, **PERSIST)
    if source == "upload":
        return _upload_input(ckpt)
    if source == "test":
        return test_input(ckpt)
    return _draw_input(ckpt)


def ready(pre: Preprocessed | None, info: InputInfo) -> bool:
    """True when there is an input to predict; otherwise say why not, in one sentence."""
    if info.error:
        st.error(info.error)
    elif info.error_shown:
        pass
    elif info.waiting:
        st.info(t("predict.upload_waiting"))
    elif pre is None or pre.blank:
        st.info(t("predict.nothing_drawn") if info.kind == "draw" else t("predict.nothing_found"))
    else:
        return True
    return False
