"""Predict's feature-map view: a layer's channels as a clickable grid, one channel enlarged,
the filter that made it; flat layers as a grid of units, the last one as logits."""
from __future__ import annotations

import numpy as np
import streamlit as st

from app.state import PERSIST, clamp, keep_valid
from app.ui import lang, t
from core.features import SCALE_MODES, conv_filters, source_conv, value_ranges
from core.figures import PLOT_CONFIG
from core.figures.inside import flat_layout, flat_units_figure, logits_figure
from core.figures.predict import channel_grid_figure, fmt, kernel_grid_figure, map_figure
from core.figures.samples import clicked_marker
from core.layers import describe, localize_label
from core.models import layer_label, normalize_layer
from pages.predict.keys import MAX_GRID_CHANNELS, K, labels


def layer_options(ckpt, outputs) -> dict[int, str]:
    """Layer index -> "conv2 · conv 32, 3×3, stride 1, pad 1 → 32×14×14" (in the visitor's language)."""
    options = {}
    for i, out in enumerate(outputs):
        text = f"{localize_label(out.name, lang())} · {describe(normalize_layer(ckpt.spec[i], i), lang())}"
        if ckpt.spec[i]["type"] != "linear":  # "linear → 10" already says its size
            text += " → " + "×".join(str(s) for s in out.output.shape)
        options[i] = text
    return options


def _layer_name(ckpt, index: int) -> str:
    return localize_label(layer_label(ckpt.spec, index), lang())  # "conv2", "卷积2"


def _select_channel() -> None:
    """on_select of the channel grid: the clicked tile becomes the enlarged channel."""
    k = clicked_marker(st.session_state.get(K.GRID))
    if k is not None:
        st.session_state[K.CHANNEL] = k


def _filter_section(ckpt, layer: int, channel: int) -> None:
    """The weights of the filter that produced `channel` (the layer's own, or the conv before it)."""
    src = source_conv(ckpt.spec, layer)
    if src is None:
        return
    weights, bias = conv_filters(ckpt.model, src)
    kernel = weights[channel]                     # [in, k, k]
    n_in, k = kernel.shape[0], kernel.shape[1]
    name = _layer_name(ckpt, src)
    st.markdown(f"**{t('predict.filter_title', layer=name, channel=channel)}**")
    left, right = st.columns([2, 3])
    limit = float(np.abs(kernel).max()) or 1.0
    fig = (map_figure(kernel[0], -limit, limit, "RdBu_r", height=240, text=k <= 7, t=t) if n_in == 1
           else kernel_grid_figure(kernel, limit, 60))
    left.plotly_chart(fig, config=PLOT_CONFIG, key="predict.filter_fig")
    caption = t("predict.filter_caption", n_in=n_in, k=k, bias=fmt(float(bias[channel])))
    if src != layer:
        caption += " " + t("predict.filter_caption_source", src=name, layer=_layer_name(ckpt, layer))
    right.caption(caption)
    if n_in == 1 and weights.shape[0] > 1:
        limit = float(np.abs(weights).max()) or 1.0
        right.markdown(t("predict.all_filters", layer=name, n=weights.shape[0], limit=fmt(limit)))
        right.plotly_chart(kernel_grid_figure(weights[:, 0], limit, 70, colorbar=False), config=PLOT_CONFIG,
                           key="predict.all_filters_fig")


def _flat_section(ckpt, outputs, layer: int, mode: str) -> None:
    values = outputs[layer].output.numpy()
    if layer == len(outputs) - 1:
        st.plotly_chart(logits_figure(values, [str(c) for c in ckpt.classes], t), config=PLOT_CONFIG,
                        key="predict.flat_fig")
        st.caption(t("predict.logits_caption"))
        return
    lo, hi = value_ranges(outputs, layer, "layer" if mode == "map" else mode)[0]
    prev = tuple(outputs[layer - 1].output.shape) if layer > 0 else None
    grid = flat_layout(values.size, prev, ckpt.spec[layer]["type"] == "flatten")
    if grid.unflattened:
        c, h, w = grid.unflattened
        note = t("predict.flatten_caption", c=c, h=h, w=w, n=values.size)
    else:
        note = t("predict.flat_caption", n=values.size, width=grid.width)
    st.plotly_chart(flat_units_figure(values, grid, lo, hi, t), config=PLOT_CONFIG, key="predict.flat_fig")
    st.caption(note + " " + t("predict.range_caption", lo=fmt(lo), hi=fmt(hi)))


def feature_maps(ckpt, outputs) -> None:
    options = layer_options(ckpt, outputs)
    keep_valid(K.LAYER, list(options), 0)
    c1, c2 = st.columns([3, 2], vertical_alignment="bottom")
    layer = c1.selectbox(t("predict.layer"), list(options), format_func=options.get, key=K.LAYER,
                         **PERSIST, help=t("predict.layer_help"))
    keep_valid(K.SCALE, SCALE_MODES, "layer")
    st.session_state.setdefault(K.SCALE, "layer")
    mode = c2.segmented_control(t("predict.scale"), SCALE_MODES, required=True,
                                format_func=labels("scale", SCALE_MODES).get, key=K.SCALE,
                                **PERSIST, help=t("predict.scale_help"),
                                disabled=layer == len(outputs) - 1)  # logits: a bar chart
    st.caption(t(f"predict.kind_{outputs[layer].kind}"))
    if not outputs[layer].spatial:
        _flat_section(ckpt, outputs, layer, mode)
        return
    maps = outputs[layer].output.numpy()
    n = maps.shape[0]
    shown = min(n, MAX_GRID_CHANNELS)
    clamp(K.CHANNEL, 0, shown - 1, 0)
    ranges = value_ranges(outputs, layer, mode)
    left, right = st.columns([3, 2])
    left.markdown(f"**{t('predict.grid_title', n=n, h=maps.shape[1], w=maps.shape[2])}**")
    left.plotly_chart(channel_grid_figure(maps[:shown], ranges[:shown], mode, st.session_state[K.CHANNEL], t),
                      config=PLOT_CONFIG, key=K.GRID, on_select=_select_channel, selection_mode="points")
    left.caption(t("predict.range_map") if mode == "map"
                 else t(f"predict.range_{mode}", lo=fmt(ranges[0, 0]), hi=fmt(ranges[0, 1])))
    if shown < n:
        left.caption(t("predict.grid_truncated", shown=shown, n=n))
    channel = right.number_input(t("predict.channel"), 0, shown - 1, step=1, key=K.CHANNEL,
                                 help=t("predict.channel_help"))
    m = maps[channel]
    lo, hi = ranges[channel]
    right.plotly_chart(map_figure(m, lo, hi, t=t), config=PLOT_CONFIG, key="predict.enlarged")
    right.caption(t("predict.channel_stats", channel=channel, lo=fmt(m.min()), hi=fmt(m.max()),
                    mean=fmt(m.mean()), active=f"{100 * (m > 0).mean():.0f}"))
    _filter_section(ckpt, layer, channel)
