"""The Predict page's "inside the model" overlays: the logits bar chart, a flat layer's units
as a grid, the receptive field on the input, and the saliency overlay."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from core.figures import Translate, plot_text
from core.figures.predict import ACTIVATION_SCALE, square_axes

TOP_COLOUR, OTHER_COLOUR = "#1c7ed6", "#9aa5b1"
DIM = "rgba(20,30,60,0.7)"          # what lies outside a receptive field
OUTLINE = "#ffd43b"                  # the receptive field's frame
GRADIENT_SCALE = [[0, "rgba(255,75,75,0.15)"], [1, "rgba(255,75,75,0.85)"]]
SALIENCY_SCALE = [[0, "rgba(255,210,0,0)"], [0.2, "rgba(255,210,0,0)"],
                  [0.5, "rgba(255,140,0,0.55)"], [1, "rgba(255,30,30,0.95)"]]
MAX_FLAT_COLUMNS = 32


def logits_figure(values: np.ndarray, classes: list[str], t: Translate) -> go.Figure:
    """The last layer's raw scores, one bar per class, the highest in blue."""
    top = values.max()
    fig = go.Figure(go.Bar(x=[plot_text(c) for c in classes], y=values, marker_color=[TOP_COLOUR if v == top else OTHER_COLOUR
                                                              for v in values],
                           hovertemplate="%{x}: %{y:.3f}<extra></extra>"))
    fig.update_layout(height=300, margin=dict(l=10, r=10, t=10, b=10),
                      xaxis=dict(type="category"), yaxis=dict(title=t("predict.logit_axis")))
    return fig


@dataclass(frozen=True)
class FlatLayout:
    """How a flat layer's units are laid out: `width` to a row, `rows` rows; `unflattened` is
    (c, h, w) when the layer flattens maps of that shape (each row is then one channel)."""
    width: int
    rows: int
    unflattened: tuple[int, int, int] | None = None


def flat_layout(size: int, previous_shape: tuple[int, ...] | None, flattens: bool) -> FlatLayout:
    """A Flatten of [C, H, W] maps: one row per channel (H·W units), so each map stays a row;
    any other flat layer: rows of at most 32 units."""
    if flattens and previous_shape is not None and len(previous_shape) == 3:
        c, h, w = previous_shape
        return FlatLayout(h * w, math.ceil(size / (h * w)), (c, h, w))
    width = MAX_FLAT_COLUMNS if size > MAX_FLAT_COLUMNS else size
    return FlatLayout(width, math.ceil(size / width))


def flat_units_figure(values: np.ndarray, layout: FlatLayout, lo: float, hi: float,
                      t: Translate) -> go.Figure:
    """A flat layer's units as a heatmap, `layout.width` to a row (the last row padded blank)."""
    cells = layout.rows * layout.width
    padded = np.full(cells, np.nan)
    padded[:values.size] = values
    fig = go.Figure(go.Heatmap(z=padded.reshape(layout.rows, layout.width), zmin=lo, zmax=hi,
                               colorscale=ACTIVATION_SCALE, colorbar=dict(thickness=12, len=0.9),
                               customdata=np.arange(cells).reshape(layout.rows, layout.width),
                               hovertemplate=t("predict.unit_hover") + "<extra></extra>"))
    fig.update_layout(height=int(min(700, max(120, layout.rows * 900 / layout.width + 20))),
                      margin=dict(l=4, r=4, t=4, b=4))
    square_axes(fig)
    return fig


def receptive_field_figure(view: np.ndarray, rf, gradient: np.ndarray | None, t: Translate) -> go.Figure:
    """The model's input with one receptive field (core.features.ReceptiveField): what lies
    outside it dimmed, the field framed, and (optionally) how much each pixel moves the value
    (|gradient|, red) on top."""
    fig = go.Figure(go.Heatmap(z=view, colorscale="gray", zmin=0, zmax=1, showscale=False,
                               hovertemplate=t("predict.pixel_hover") + "<extra></extra>"))
    if gradient is not None:
        grad = np.abs(gradient)
        peak = float(grad.max())
        if peak > 0:
            fig.add_trace(go.Heatmap(z=np.where(grad > 0, grad / peak, np.nan), zmin=0, zmax=1,
                                     showscale=False, colorscale=GRADIENT_SCALE,
                                     hovertemplate=t("predict.grad_hover") + "<extra></extra>"))
    mask = rf.mask(view.shape)
    fig.add_trace(go.Heatmap(z=np.where(mask, np.nan, 1.0), zmin=0, zmax=1, showscale=False,
                             colorscale=[[0, DIM], [1, DIM]], hoverinfo="skip"))
    fig.add_shape(type="rect", x0=rf.left - 0.5, x1=rf.right - 0.5, y0=rf.top - 0.5,
                  y1=rf.bottom - 0.5, line=dict(color=OUTLINE, width=3))
    fig.update_layout(height=360, margin=dict(l=4, r=4, t=4, b=4))
    square_axes(fig, show_ticks=True)
    return fig


def saliency_overlay_figure(view: np.ndarray, magnitude: np.ndarray, t: Translate) -> go.Figure:
    """The input in grey with the saliency magnitude (0..1) over it: clear below 0.2, then
    orange to red."""
    fig = go.Figure([
        go.Heatmap(z=view, colorscale="gray", zmin=0, zmax=1, showscale=False, hoverinfo="skip"),
        go.Heatmap(z=magnitude, zmin=0, zmax=1, colorscale=SALIENCY_SCALE,
                   colorbar=dict(thickness=12, len=0.9, tickvals=[0, 1],
                                 ticktext=["0", t("predict.cbar_max")]),
                   hovertemplate=t("predict.saliency_hover") + "<extra></extra>"),
    ])
    fig.update_layout(height=360, margin=dict(l=4, r=4, t=4, b=4))
    square_axes(fig, show_ticks=True)
    return fig
