"""The Convolution page's kernels tab: a kernel on a photo, channel by channel, and a grid that
compares kernels on the same photo."""
from __future__ import annotations

import numpy as np
import streamlit as st

from app.state import PERSIST
from app.ui import option_labels, t, upload_limit_mb
from core import conv
from core.figures.conv import kernel_figure
from core.images import EXTENSIONS, fit_within
from core.limits import current as current_limits
from pages.convolution.photo import (channel_panel, current_kernel, decode_upload, filtered, filtered_thumbnail,
                                     kernel_title, on_upload, on_use_sample, sample_photo)
from pages.convolution.state import CHART_CONFIG, GRID_SIDE, K, ss


def images_section() -> None:
    st.markdown(t("conv.img_intro"))
    with st.container(border=True):
        c1, c2, c3 = st.columns([1.3, 1.2, 1.2], gap="medium")
        with c1:
            max_mb = upload_limit_mb(current_limits().max_image_bytes)
            st.file_uploader(t("conv.upload"), type=list(EXTENSIONS), key=K.IMG_UPLOAD, on_change=on_upload,
                             help=t("conv.upload_help", max_mb=max_mb or "—"), max_upload_size=max_mb)
            err = ss.get(K.IMG_ERROR)
            if err:
                code, details = err
                st.error(t(f"conv.img_err_{code}", **details) + " " + t("conv.img_err_kept"),
                         icon=":material/broken_image:")
        with c2:
            options = list(conv.KERNEL_PRESETS) + ["custom"]
            st.selectbox(t("conv.preset"), options, key=K.IMG_PRESET,
                         format_func=option_labels("conv.kernel_"), **PERSIST)
            st.segmented_control(t("conv.img_mode"), options=["color", "gray"], key=K.IMG_GRAY,
                                 required=True, format_func=option_labels("conv.img_mode_"), **PERSIST)
        with c3:
            with st.container(horizontal=True, gap="medium"):
                st.segmented_control(t("conv.stride"), options=list(conv.STRIDES), key=K.IMG_STRIDE,
                                     required=True, **PERSIST)
                st.segmented_control(t("conv.padding"), options=list(conv.PADDINGS), key=K.IMG_PADDING,
                                     required=True, help=t("conv.img_padding_help"), **PERSIST)
            st.selectbox(t("conv.display"), list(conv.DISPLAY_MODES), key=K.IMG_DISPLAY,
                         format_func=option_labels("conv.display_"), help=t("conv.display_help"), **PERSIST)
        if ss[K.IMG_PRESET] == "custom":
            k1, k2 = st.columns([2, 1])
            k1.text_area(t("conv.custom_kernel"), key=K.IMG_CUSTOM, height=150, help=t("conv.edit_help"),
                         **PERSIST)
            k2.checkbox(t("conv.normalize"), key=K.IMG_NORMALIZE, help=t("conv.normalize_help"), **PERSIST)

    upload = ss.get(K.IMG_FILE)
    if upload is not None:
        name, data = upload
        img = decode_upload(data)
        source = t("conv.source_upload", name=name, w=img.shape[1], h=img.shape[0])
    else:
        img = sample_photo()
        source = t("conv.source_sample", w=img.shape[1], h=img.shape[0])
    kernel, note = current_kernel()
    gray = ss[K.IMG_GRAY] == "gray"
    stride, padding = int(ss[K.IMG_STRIDE]), int(ss[K.IMG_PADDING])

    cols = st.columns([2, 1, 2], gap="medium")
    with cols[0]:
        st.markdown(t("conv.original"))
        shown = conv.to_gray(img).round().astype(np.uint8) if gray else img
        st.image(shown, width="stretch")
        st.caption(source)
        if upload is not None:
            st.button(t("conv.use_sample"), icon=":material/undo:", on_click=on_use_sample, key="conv.img.b_sample")
    with cols[1]:
        if kernel is not None:
            st.plotly_chart(kernel_figure(conv.kernel_fraction_text(kernel)[1], kernel_title(kernel)),
                            config={**CHART_CONFIG, "staticPlot": True}, key="conv.img.kfig", width="content",
                            theme=None)
            st.caption(note)
    channels = None  # the channel-by-channel steps, when there is a colour result to explain
    with cols[2]:
        st.markdown(t("conv.result"))
        if kernel is None:
            st.info(t("conv.fix_kernel"))
        else:
            out, channels, ms = filtered(img, kernel, stride, padding, gray, ss[K.IMG_DISPLAY])
            if out.size == 0:
                channels = None
                st.warning(t("conv.img_too_small"))
            else:
                st.image(out, width="stretch")
                st.caption(t("conv.result_caption", w=out.shape[1], h=out.shape[0], ms=f"{ms:.0f}"))
    if channels is not None:
        channel_panel(img, channels)

    st.subheader(t("conv.compare_title"), anchor=False)
    st.multiselect(t("conv.compare_pick"), list(conv.KERNEL_PRESETS), key=K.IMG_COMPARE,
                   format_func=option_labels("conv.kernel_"), **PERSIST)
    st.caption(t("conv.compare_note"))
    small = fit_within(img, GRID_SIDE)
    names = ss[K.IMG_COMPARE]
    per_row = 4
    for start in range(0, len(names), per_row):
        row = st.columns(per_row)
        for col, name in zip(row, names[start:start + per_row]):
            k = conv.KERNEL_PRESETS[name].kernel
            out = filtered_thumbnail(small, k, gray)
            with col:
                st.image(out, width="stretch")
                st.caption(f"**{t(f'conv.kernel_{name}')}** — {t(f'conv.kernel_{name}_desc')}")
