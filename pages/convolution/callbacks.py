"""The Convolution page's widget callbacks: reset, examples, random numbers, sizes, typed grids."""
from __future__ import annotations

import numpy as np

from core import conv
from pages.convolution.state import (K, default_conv_state, default_pool_state, restart, set_state, ss,
                                     sync_texts)


def on_conv_reset() -> None:
    set_state(default_conv_state())
    sync_texts(K.INPUT)
    sync_texts(K.KERNEL)
    restart(K.CONV_STEPS)


def on_conv_rgb_example() -> None:
    x = np.array(conv.EXAMPLE_RGB_INPUT, dtype=float)
    w = np.array(conv.EXAMPLE_RGB_KERNEL, dtype=float)
    set_state({
        K.C: 3, K.H: 5, K.W: 5, K.KH: 3, K.KW: 3, K.INPUT: x, K.KERNEL: w,
        K.BIAS: float(conv.EXAMPLE_RGB_BIAS), K.FLIP: False,
        **{f"conv.{k}": v for k, v in conv.EXAMPLE_RGB_SETTINGS.items()},
    })
    sync_texts(K.INPUT)
    sync_texts(K.KERNEL)
    restart(K.CONV_STEPS)


def on_conv_random() -> None:
    rng = np.random.default_rng()
    ss[K.INPUT] = conv.random_ints(rng, ss[K.INPUT].shape, 0, 5)
    ss[K.KERNEL] = conv.random_ints(rng, ss[K.KERNEL].shape, -1, 2)
    sync_texts(K.INPUT)
    sync_texts(K.KERNEL)
    restart(K.CONV_STEPS)


def on_pool_reset() -> None:
    set_state(default_pool_state())
    sync_texts(K.POOL_X)
    restart(K.POOL_STEPS)


def on_pool_random() -> None:
    ss[K.POOL_X] = conv.random_ints(np.random.default_rng(), ss[K.POOL_X].shape, 0, 9)
    sync_texts(K.POOL_X)
    restart(K.POOL_STEPS)


def on_channels() -> None:
    """1–3 input channels: new channels get random numbers, so they visibly matter."""
    c = ss[K.C]
    rng = np.random.default_rng()
    for key, low, high in ((K.INPUT, 0, 3), (K.KERNEL, -1, 1)):
        m = ss[key]
        if c < m.shape[0]:
            m = m[:c]
        elif c > m.shape[0]:
            m = np.concatenate([m, conv.random_ints(rng, (c - m.shape[0],) + m.shape[1:], low, high)])
        ss[key] = m
        sync_texts(key)
    restart(K.CONV_STEPS)


def on_size(mat_key: str, rows_key: str, cols_key: str, prefix: str) -> None:
    ss[mat_key] = conv.resize_matrix(ss[mat_key], int(ss[rows_key]), int(ss[cols_key]))
    sync_texts(mat_key)
    restart(prefix)


def on_matrix_text(mat_key: str, c: int, rows_key: str, cols_key: str, max_side: int, prefix: str) -> None:
    """A text area changed: parse it; on success resize the other channels to match."""
    text_key, err_key = K.text(mat_key, c), K.error(mat_key, c)
    try:
        m = conv.parse_matrix(ss[text_key], max_side, max_side)
    except conv.MatrixError as e:
        ss[err_key] = (e.code, e.details)
        return
    ss.pop(err_key, None)
    cur = ss[mat_key]
    if m.shape != cur.shape[1:]:
        cur = conv.resize_matrix(cur, *m.shape)
        ss[rows_key], ss[cols_key] = m.shape
    cur = cur.copy()
    cur[c] = m
    ss[mat_key] = cur
    sync_texts(mat_key)
    restart(prefix)


def on_setting(prefix: str) -> None:
    restart(prefix)


def on_pool_kernel() -> None:
    k = ss[K.POOL_K]
    ss[K.POOL_PADDING] = min(ss[K.POOL_PADDING], conv.max_pool_padding(k))
    restart(K.POOL_STEPS)
