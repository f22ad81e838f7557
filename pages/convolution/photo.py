"""The photo behind the Convolution page's kernels tab: the sample or an upload, the chosen
kernel, the filtered result (timed), and R, G, B channel by channel."""
from __future__ import annotations

import time

import numpy as np
import streamlit as st

from app.ui import t
from core import conv
from core.images import ImageError, check_image_size, fit_within, load_image_bytes, load_image_file
from core.workspace import display_name
from pages.convolution.state import CHANNEL_TILE, PHOTO, WORK_SIDE, K, ss


@st.cache_resource(show_spinner=False)
def sample_photo() -> np.ndarray:
    img = load_image_file(PHOTO)
    img.setflags(write=False)
    return img


@st.cache_data(max_entries=8, show_spinner=False)
def decode_upload(data: bytes) -> np.ndarray:
    return fit_within(load_image_bytes(data), WORK_SIDE)


def filtered(img: np.ndarray, kernel: np.ndarray, stride: int, padding: int, gray: bool,
             display: str) -> tuple[np.ndarray, conv.ChannelFilter | None, float]:
    """The filtered image ready to show, its channel-by-channel steps (colour mode; None for
    greyscale) and how many milliseconds filtering and display took.

    Not cached: the caption reports this run's time (a cached one would repeat the first)."""
    t0 = time.perf_counter()
    mode = conv.auto_display_mode(kernel) if display == "auto" else display
    if gray:
        channels = None
        out = conv.to_display(conv.filter_image(img, kernel, stride, padding, gray=True), mode)
    else:
        channels = conv.filter_channels(img, kernel, stride, padding, mode)
        out = channels.recombined
    return out, channels, (time.perf_counter() - t0) * 1000


@st.cache_data(max_entries=32, show_spinner=False)
def filtered_thumbnail(img: np.ndarray, kernel: np.ndarray, gray: bool) -> np.ndarray:
    """One tile of the comparison grid (small copies, 'same' padding, automatic display)."""
    return filtered(img, kernel, 1, kernel.shape[0] // 2, gray, "auto")[0]


def channel_panel(img: np.ndarray, channels: conv.ChannelFilter) -> None:
    """R, G and B before and after the kernel, each in its own colour with its value range, next to
    the colour photo and the recombined result (the tutorial's point: one kernel, three grids)."""
    st.subheader(t("conv.channels_title"), anchor=False)
    st.caption(t("conv.channels_intro"))
    with st.container(border=True, key="conv-img-channels"):
        top, bottom = st.columns(4, gap="small"), st.columns(4, gap="small")
        for c, name in enumerate(conv.CHANNEL_NAMES):
            ch = t(f"conv.channel_{name}")
            with top[c]:
                st.image(fit_within(conv.tint_channel(channels.inputs[c], c), CHANNEL_TILE), width="stretch")
                lo, hi = channels.input_range(c)
                st.caption(t("conv.channel_in", ch=ch, lo=lo, hi=hi))
            with bottom[c]:
                st.image(fit_within(conv.tint_channel(channels.shown[c], c), CHANNEL_TILE), width="stretch")
                lo, hi = channels.raw_range(c)
                st.caption(t("conv.channel_out", ch=ch, lo=conv.fmt_num(lo, 1), hi=conv.fmt_num(hi, 1)))
        with top[3]:
            st.image(fit_within(img, CHANNEL_TILE), width="stretch")
            st.caption(t("conv.channel_original"))
        with bottom[3]:
            st.image(fit_within(channels.recombined, CHANNEL_TILE), width="stretch")
            st.caption(t("conv.channel_recombined"))
        st.caption(t("conv.channel_display", mode=t(f"conv.display_{channels.mode}")))


def on_upload() -> None:
    f = ss.get(K.IMG_UPLOAD)
    if f is None:
        ss.pop(K.IMG_FILE, None)
        ss.pop(K.IMG_ERROR, None)
        return
    try:
        check_image_size(f.size)  # before the bytes are read
        data = f.getvalue()
        decode_upload(data)
    except ImageError as e:
        ss[K.IMG_ERROR] = (e.code, e.details)
        ss.pop(K.IMG_FILE, None)
        return
    ss.pop(K.IMG_ERROR, None)
    ss[K.IMG_FILE] = (display_name(f.name, "photo"), data)  # the name is shown: no markup


def on_use_sample() -> None:
    ss.pop(K.IMG_FILE, None)
    ss.pop(K.IMG_ERROR, None)


def current_kernel() -> tuple[np.ndarray | None, str]:
    """The chosen kernel (None if the custom one can't be read) and a caption."""
    name = ss[K.IMG_PRESET]
    if name != "custom":
        return conv.KERNEL_PRESETS[name].kernel, t(f"conv.kernel_{name}_desc")
    try:
        k = conv.parse_matrix(ss[K.IMG_CUSTOM], conv.MAX_KERNEL_SIDE, conv.MAX_KERNEL_SIDE)
    except conv.MatrixError as e:
        st.error(t(f"conv.matrix_err_{e.code}", **e.details), icon=":material/error:")
        return None, ""
    note = t("conv.kernel_custom_desc")
    if ss[K.IMG_NORMALIZE]:
        k, ok = conv.normalize_kernel(k)
        note = t("conv.normalized") if ok else t("conv.normalize_zero")
    return k, note


def kernel_title(kernel: np.ndarray) -> str:
    frac, _ = conv.kernel_fraction_text(kernel)
    return t("conv.kernel_with_factor", f=frac) if frac else t("conv.kernel_plain")
