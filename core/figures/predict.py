"""The Predict page's figures: probabilities, channel grids, single maps and kernels, and the
enlarged pixel tiles of the preprocessing steps."""
from __future__ import annotations

import math

import cv2
import numpy as np
import plotly.graph_objects as go

from core.features import grid_columns, scale_maps, tile_maps
from core.figures import Translate, plot_text

ACTIVATION_SCALE = "Viridis"
GRID_WIDTH_PX = 560  # about the width a channel grid gets in the wide layout (colour bar excluded)


def pixel_tile(img: np.ndarray, size: int = 140) -> np.ndarray:
    """A 0..1 image (grey or RGB) as a size×size uint8 RGB tile: aspect ratio kept, pixels
    enlarged with nearest-neighbour so they stay visible, the rest filled with slate grey so
    the image's own edges show."""
    img = np.clip(np.asarray(img, dtype=np.float32), 0, 1)
    if img.ndim == 2:
        img = np.dstack([img] * 3)
    h, w = img.shape[:2]
    scale = size / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    interp = cv2.INTER_NEAREST if scale >= 1 else cv2.INTER_AREA
    img = cv2.resize(img, (nw, nh), interpolation=interp)
    tile = np.empty((size, size, 3), np.float32)
    tile[:] = (0.36, 0.40, 0.47)
    top, left = (size - nh) // 2, (size - nw) // 2
    tile[top:top + nh, left:left + nw] = img
    tile[[0, -1], :] = tile[:, [0, -1]] = 0.82  # a thin frame, so a white input shows its edge
    return (tile * 255 + 0.5).astype(np.uint8)


def square_axis_layout(show_ticks: bool = False, side: int | None = None) -> dict:
    """Image-like axes as layout entries: square pixels, row 0 at the top, whole-number ticks for
    small maps. Given to the figure's constructor in one layout dict: Plotly's update_xaxes /
    update_yaxes walk every axis and parse each property path, and on the Predict page that was a
    third of a drawing's rerun (py-spy, issue 22)."""
    tick = dict(dtick=1) if side is not None and side <= 12 else {}
    return dict(
        xaxis=dict(showgrid=False, zeroline=False, showticklabels=show_ticks, constrain="domain", **tick),
        yaxis=dict(showgrid=False, zeroline=False, showticklabels=show_ticks, autorange="reversed",
                   scaleanchor="x", constrain="domain", **tick))


def square_axes(fig: go.Figure, show_ticks: bool = False, side: int | None = None) -> None:
    """square_axis_layout applied to a figure built elsewhere."""
    fig.update_layout(square_axis_layout(show_ticks, side))


def fmt(v: float) -> str:
    """Three significant digits: what a hover or caption needs of an activation."""
    return f"{v:.3g}"


def probability_figure(probs: np.ndarray, classes: list[str], top: int, true: int | None, t: Translate) -> go.Figure:
    """One bar per class in percent: the prediction blue (orange when it is wrong), the true class green."""
    colors = ["#9aa5b1"] * len(classes)
    if true is not None and true != top:
        colors[true] = "#2e9d5b"
    colors[top] = "#e8590c" if true is not None and true != top else "#1c7ed6"
    return go.Figure(go.Bar(
        x=[plot_text(c) for c in classes], y=probs * 100, marker=dict(color=colors),
        text=[f"{100 * p:.1f}%" if p >= 0.005 else "" for p in probs], textposition="outside",
        hovertemplate="%{x}: %{y:.2f}%<extra></extra>", cliponaxis=False),
        layout=dict(height=270, margin=dict(l=10, r=10, t=28, b=10), showlegend=False,
                    yaxis=dict(range=[0, 108], title=dict(text=t("predict.probability_axis")), ticksuffix="%"),
                    xaxis=dict(type="category", title=None)))


def channel_grid_figure(maps: np.ndarray, ranges: np.ndarray, mode: str, selected: int, t: Translate) -> go.Figure:
    """All channels tiled in one heatmap, scaled per `ranges`, plus an invisible marker per
    tile so a click selects the channel (Plotly cannot select heatmap cells).

    No colour bar: the caption under the grid states the range and which colour is low or high
    (`predict.range_*`). Each colour bar is a small axis Plotly lays out and measures again on
    every new drawing: the explorer's four bars were a third of its browser work per digit drawn
    (bench/browser_cost.py's draw scene, issue 22), and a busy learner's laptop pays that before
    the prediction above it is painted."""
    c, h, w = maps.shape
    cols = grid_columns(c, 8 if c <= 64 else 16)
    rows = math.ceil(c / cols)
    gap = max(1, round(max(h, w) / 8))
    grid = tile_maps(scale_maps(maps, ranges), cols, gap)
    centres_x = [(i % cols) * (w + gap) + (w - 1) / 2 for i in range(c)]
    centres_y = [(i // cols) * (h + gap) + (h - 1) / 2 for i in range(c)]
    flat = maps.reshape(c, -1)
    hover = [t("predict.grid_hover", channel=i, lo=fmt(flat[i].min()), hi=fmt(flat[i].max()),
               mean=fmt(flat[i].mean())) for i in range(c)]
    r, q = divmod(selected, cols)
    frame = dict(type="rect", x0=q * (w + gap) - 0.5 - gap / 2, x1=q * (w + gap) + w - 0.5 + gap / 2,
                 y0=r * (h + gap) - 0.5 - gap / 2, y1=r * (h + gap) + h - 0.5 + gap / 2,
                 line=dict(color="#ff4b4b", width=3))
    unit = GRID_WIDTH_PX / grid.shape[1]  # the plot is width-bound: size it to fit the tiles
    height = int(min(900, max(140, grid.shape[0] * unit + 12)))
    return go.Figure([
        go.Heatmap(z=grid, colorscale=ACTIVATION_SCALE, zmin=0, zmax=1, hoverinfo="skip",
                   showscale=False, xgap=0, ygap=0),
        go.Scatter(x=centres_x, y=centres_y, mode="markers", hovertext=hover, hoverinfo="text",
                   marker=dict(size=max(8, 300 // cols), color="rgba(0,0,0,0)", symbol="square"),
                   selected=dict(marker=dict(opacity=0)), unselected=dict(marker=dict(opacity=0)),
                   showlegend=False),
    ], layout=dict(height=height, margin=dict(l=4, r=4, t=4, b=4), hovermode="closest",
                   hoverdistance=-1, dragmode=False, clickmode="event+select", shapes=[frame],
                   **square_axis_layout()))


def map_figure(values: np.ndarray, zmin: float, zmax: float, colorscale=ACTIVATION_SCALE,
                height: int = 330, marker: tuple[int, int] | None = None, clickable: bool = False,
                text: bool = False, *, t: Translate) -> go.Figure:
    """One map as a heatmap; `marker` frames a cell, `clickable` adds a click target per cell;
    `text` writes each cell's value in it, and then needs no colour bar."""
    h, w = values.shape
    traces = [go.Heatmap(z=values, zmin=zmin, zmax=zmax, colorscale=colorscale,
                         colorbar=dict(thickness=12, len=0.9), showscale=not text,
                         hovertemplate=t("predict.pixel_hover") + "<extra></extra>",
                         texttemplate="%{z:.2f}" if text else None)]
    if clickable:
        yy, xx = np.mgrid[0:h, 0:w]
        traces.append(go.Scatter(
            x=xx.ravel(), y=yy.ravel(), mode="markers", showlegend=False,
            customdata=values.ravel(), hovertemplate=t("predict.position_hover") + "<extra></extra>",
            marker=dict(size=max(6, 280 // max(h, w)), color="rgba(0,0,0,0)", symbol="square"),
            selected=dict(marker=dict(opacity=0)), unselected=dict(marker=dict(opacity=0))))
    layout = dict(height=height, margin=dict(l=4, r=4, t=4, b=4), hovermode="closest",
                  hoverdistance=-1 if clickable else 20, dragmode=False,
                  clickmode="event+select" if clickable else "event",
                  **square_axis_layout(show_ticks=True, side=max(h, w)))
    layout["xaxis"]["range"] = [-0.5, w - 0.5]
    layout["yaxis"].update(range=[h - 0.5, -0.5], autorange=False)
    if marker is not None:
        r, c = marker
        layout["shapes"] = [dict(type="rect", x0=c - 0.5, x1=c + 0.5, y0=r - 0.5, y1=r + 0.5,
                                 line=dict(color="#ff4b4b", width=3))]
    return go.Figure(traces, layout=layout)


def kernel_grid_figure(kernels: np.ndarray, limit: float, height_per_row: int,
                       colorbar: bool = True) -> go.Figure:
    """[N, k, k] kernels as one tiled heatmap on a symmetric red-blue scale (`colorbar=False`
    when the text beside it states the scale)."""
    cols = grid_columns(len(kernels), 8)
    grid = tile_maps(kernels, cols, gap=1)
    return go.Figure(go.Heatmap(z=grid, zmin=-limit, zmax=limit, colorscale="RdBu_r",
                                colorbar=dict(thickness=12, len=0.9), showscale=colorbar,
                                hovertemplate="%{z:.3f}<extra></extra>"),
                     layout=dict(height=int(max(150, math.ceil(len(kernels) / cols) * height_per_row + 20)),
                                 margin=dict(l=4, r=4, t=4, b=4), **square_axis_layout()))
