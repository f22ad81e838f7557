"""The Convolution page's session-state keys ("conv.<name>"; the convention is in app/state.py),
its sizes, its starting numbers, and the helpers that keep matrices and their text boxes in step."""
from __future__ import annotations

import numpy as np
import streamlit as st

from core import conv
from core.i18n import I18N_DIR
from core.stepper import Stepper

ss = st.session_state
PHOTO = I18N_DIR.parent / "astronaut.png"
WORK_SIDE = 1024      # photos are filtered at most this big (the speed target)
GRID_SIDE = 320       # the comparison grid uses smaller copies
CHANNEL_TILE = 360    # the channel-by-channel tiles are sent at most this big
CHART_CONFIG = {"displayModeBar": False, "responsive": True}


class K:
    """This page's session-state keys ("conv.<name>"; the convention is in app/state.py).

    A matrix key (INPUT, KERNEL, POOL_X) holds the numbers; its text areas and their errors are
    "<matrix key>_text.<channel>" and "<matrix key>_err.<channel>". A stepper prefix
    (CONV_STEPS, POOL_STEPS) holds its core.stepper.Stepper state under "<prefix>.<name>"."""
    C, H, W, KH, KW = "conv.C", "conv.H", "conv.W", "conv.kh", "conv.kw"
    INPUT, KERNEL, BIAS, FLIP = "conv.x", "conv.w", "conv.bias", "conv.flip"
    STRIDE, PADDING, DILATION = "conv.stride", "conv.padding", "conv.dilation"
    POOL_X, POOL_H, POOL_W, POOL_MODE = "conv.pool.x", "conv.pool.H", "conv.pool.W", "conv.pool.mode"
    POOL_K, POOL_STRIDE, POOL_PADDING = "conv.pool.k", "conv.pool.stride", "conv.pool.padding"
    IMG_PRESET, IMG_CUSTOM, IMG_NORMALIZE, IMG_GRAY = ("conv.img.preset", "conv.img.custom", "conv.img.normalize",
                                                       "conv.img.gray")
    IMG_STRIDE, IMG_PADDING, IMG_DISPLAY, IMG_COMPARE = ("conv.img.stride", "conv.img.padding", "conv.img.display",
                                                         "conv.img.compare")
    IMG_UPLOAD, IMG_FILE, IMG_ERROR = "conv.img.upload", "conv.img.file", "conv.img.error"
    TAB, TAB_INDEX = "conv.tab", "conv.tab_index"
    CONV_STEPS, POOL_STEPS = "conv.cs", "conv.ps"

    @staticmethod
    def text(mat_key: str, channel: int) -> str:
        return f"{mat_key}_text.{channel}"

    @staticmethod
    def error(mat_key: str, channel: int) -> str:
        return f"{mat_key}_err.{channel}"


def default_conv_state() -> dict:
    return {
        K.C: 1, K.H: 5, K.W: 5, K.KH: 3, K.KW: 3,
        K.BIAS: 0.0, K.STRIDE: 1, K.PADDING: 0, K.DILATION: 1, K.FLIP: False,
        K.INPUT: np.array([conv.EXAMPLE_INPUT], dtype=float),
        K.KERNEL: np.array([conv.EXAMPLE_KERNEL], dtype=float),
    }


def default_pool_state() -> dict:
    return {
        K.POOL_H: 4, K.POOL_W: 4, K.POOL_MODE: "max", K.POOL_K: 2,
        K.POOL_STRIDE: 2, K.POOL_PADDING: 0,
        K.POOL_X: np.array([conv.EXAMPLE_POOL_INPUT], dtype=float),
    }


def set_state(values: dict) -> None:
    for k, v in values.items():
        ss[k] = v


def sync_texts(mat_key: str) -> None:
    """Rewrite every channel's text area from the matrix and clear their error messages."""
    m = ss[mat_key]
    for c in range(conv.MAX_CHANNELS):
        ss.pop(K.error(mat_key, c), None)
        if c < m.shape[0]:
            ss[K.text(mat_key, c)] = conv.format_matrix(m[c])


def restart(prefix: str) -> None:
    Stepper(ss, prefix, 1).restart()


def init_state() -> None:
    for k, v in {**default_conv_state(), **default_pool_state()}.items():
        ss.setdefault(k, v)
    for mat_key in (K.INPUT, K.KERNEL, K.POOL_X):
        if K.text(mat_key, 0) not in ss:
            sync_texts(mat_key)
    for prefix in (K.CONV_STEPS, K.POOL_STEPS):
        Stepper(ss, prefix, 1).init()
    ss.setdefault(K.IMG_PRESET, "sobel_x")
    ss.setdefault(K.IMG_CUSTOM, conv.format_matrix(conv.KERNEL_PRESETS["sharpen"].kernel))
    ss.setdefault(K.IMG_NORMALIZE, False)
    ss.setdefault(K.IMG_GRAY, "color")
    ss.setdefault(K.IMG_STRIDE, 1)
    ss.setdefault(K.IMG_PADDING, 1)
    ss.setdefault(K.IMG_DISPLAY, "auto")
    ss.setdefault(K.IMG_COMPARE, ["box_blur", "gaussian", "sharpen", "sobel_x", "sobel_y",
                                       "laplacian", "emboss", "outline"])

