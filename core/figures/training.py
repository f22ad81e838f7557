"""The Train page's charts: live loss and accuracy curves, feature maps of the probe digit,
its probabilities, the confusion matrix, per-class accuracy and the comparison of runs.

bench/stream_bench.py builds the same figures to measure what a live refresh costs.
"""
from __future__ import annotations

import math

import cv2
import numpy as np
import plotly.graph_objects as go

from core import metrics
from core.features import grid_columns, scale_maps, tile_maps
from core.images import encode_png
from core.figures import Translate, plot_text

BLUE, RED, GREY = "#4C78A8", "#E45756", "#9D9D9D"
PALETTE = ("#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#B279A2", "#EECA3B",
           "#FF9DA6", "#9D755D", "#BAB0AC")
COMPARE_METRICS = ("test_accuracy", "test_loss", "loss", "accuracy")


def style(fig: go.Figure, title: str, x_title: str, y_title: str, height: int = 320) -> go.Figure:
    """The Train page's chart look: title top left, legend above the plot, one hover per x."""
    fig.update_layout(title=dict(text=title, x=0, font=dict(size=15)), height=height,
                      margin=dict(l=10, r=10, t=48, b=10), hovermode="x unified",
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1))
    fig.update_xaxes(title_text=x_title)
    fig.update_yaxes(title_text=y_title)
    return fig


def room_above(fig: go.Figure) -> go.Figure:
    """Room above the plot for a legend that wraps to two rows (a half-width chart with three
    curves, or longer Chinese names): the title keeps the top edge and the legend grows up to it,
    instead of over it."""
    return fig.update_layout(margin=dict(t=72), title=dict(y=0.98, yanchor="top"))


def loss_range(*curves) -> list[float] | None:
    """The loss chart's y-axis: every finite point of `curves` in view, with a margin.

    Set from the data on every redraw rather than left to autorange: a live chart that is
    redrawn keeps the range it first had, so the loss, which falls from ~2.3 within the first
    steps, ran off the bottom early in a run. The axis starts at 0 when the lowest point is
    close to it (a loss is never negative), and a flat start still gets a visible span."""
    ys = [v for curve in curves for v in curve if v is not None and math.isfinite(v)]
    if not ys:
        return None
    low, high = min(ys), max(ys)
    pad = 0.08 * max(high - low, 0.05 * abs(high), 1e-3)
    bottom = low - pad
    if 0 <= low and bottom < 0.25 * high:  # near zero: start the axis at zero
        bottom = 0.0
    return [bottom, high + pad]


def loss_figure(c: metrics.Curves, total_steps: int, t: Translate) -> go.Figure:
    fig = go.Figure()
    fig.add_scatter(x=c.step, y=c.loss, mode="lines", name=t("train.curve_loss_raw"),
                    line=dict(color="rgba(76,120,168,0.35)", width=1))
    fig.add_scatter(x=c.step, y=c.smoothed_loss(), mode="lines", name=t("train.curve_loss_smooth"),
                    line=dict(color=BLUE, width=2.5))
    fig.add_scatter(x=c.epoch_step, y=c.test_loss, mode="lines+markers", name=t("train.curve_test_loss"),
                    line=dict(color=RED, width=1.5, dash="dot"), marker=dict(size=9))
    fig.update_xaxes(range=[0, max(total_steps, 1) * 1.02])
    y_range = loss_range(c.loss, c.smoothed_loss(), c.test_loss)
    if y_range is not None:
        fig.update_yaxes(range=y_range)
    return room_above(style(fig, t("train.chart_loss"), t("train.axis_step"), t("train.axis_loss")))


def accuracy_figure(c: metrics.Curves, total_steps: int, t: Translate) -> go.Figure:
    fig = go.Figure()
    fig.add_scatter(x=c.step, y=c.accuracy, mode="lines", name=t("train.curve_train_acc"),
                    line=dict(color=BLUE, width=2))
    fig.add_scatter(x=c.epoch_step, y=c.test_accuracy, mode="lines+markers",
                    name=t("train.curve_test_acc"), line=dict(color=RED, width=1.5, dash="dot"),
                    marker=dict(size=9))
    fig.update_xaxes(range=[0, max(total_steps, 1) * 1.02])
    fig.update_yaxes(tickformat=".0%", range=[0, 1.02])
    return room_above(style(fig, t("train.chart_accuracy"), t("train.axis_step"), t("train.axis_accuracy")))


MAPS_IMAGE_WIDTH_PX = 720   # about the live view's maps column on a laptop: drawn sharp, not blurred up


def maps_image(maps: np.ndarray, width_px: int = MAPS_IMAGE_WIDTH_PX) -> bytes:
    """[C, H, W] feature maps tiled 8 to a row, each scaled to its own min..max, in Viridis, as a
    PNG: each cell a k×k block of pixels (k so the picture is about `width_px` wide), the gaps
    between maps transparent so the page's own background shows.

    A picture, not a Plotly heatmap: the grid has no hover or click, and a heatmap made every
    browser that opens a live view load and lay out one more Plotly chart (issue 22: a watch
    page's load was ≈ 2 s of a browser's main thread, a third of it Plotly; an <img> costs a
    decode)."""
    maps = np.asarray(maps, dtype=np.float64)
    flat = maps.reshape(maps.shape[0], -1)
    ranges = np.stack([flat.min(1), flat.max(1)], 1)
    ranges[:, 1] = np.where(ranges[:, 1] - ranges[:, 0] < 1e-9, ranges[:, 0] + 1, ranges[:, 1])
    grid = tile_maps(scale_maps(maps, ranges), grid_columns(maps.shape[0], 8))
    gaps = np.isnan(grid)
    levels = np.round(np.nan_to_num(grid) * 255).astype(np.uint8)
    rgb = cv2.cvtColor(cv2.applyColorMap(levels, cv2.COLORMAP_VIRIDIS), cv2.COLOR_BGR2RGB)
    rgba = np.dstack([rgb, np.where(gaps, 0, 255).astype(np.uint8)])
    k = max(1, round(width_px / grid.shape[1]))
    h, w = grid.shape
    return encode_png(cv2.resize(rgba, (w * k, h * k), interpolation=cv2.INTER_NEAREST))


def probability_figure(probs: np.ndarray, classes, true_label: int, t: Translate) -> go.Figure:
    """The probe digit's probabilities as one row per class, read like a list: a grey track to
    100% behind each bar, the percentage beside it. Rows (not columns) fit the narrow column
    beside the digit, and the tracks fill it however one-sided the answer is."""
    probs = np.asarray(probs, dtype=np.float64)
    labels = [plot_text(c) for c in classes]
    top = int(np.argmax(probs)) if len(probs) else -1
    colours = [RED if i == top and i != true_label else (BLUE if i == true_label else GREY)
               for i in range(len(probs))]
    fig = go.Figure([
        go.Bar(y=labels, x=[1.0] * len(labels), orientation="h", marker_color="rgba(157,157,157,0.15)",
               hoverinfo="skip", showlegend=False),
        go.Bar(y=labels, x=probs, orientation="h", marker_color=colours, showlegend=False,
               text=[f"{100 * p:.0f}%" if p >= 0.005 else "" for p in probs], textposition="outside",
               cliponaxis=False, textfont=dict(size=11), hovertemplate="%{y}: %{x:.1%}<extra></extra>"),
    ])
    fig.update_xaxes(range=[0, 1], visible=False, fixedrange=True)
    fig.update_yaxes(type="category", autorange="reversed", fixedrange=True, ticks="",
                     tickfont=dict(size=12))
    fig.update_layout(barmode="overlay", bargap=0.25, height=26 + 21 * max(len(labels), 1),
                      margin=dict(l=0, r=34, t=26, b=0), plot_bgcolor="rgba(0,0,0,0)",
                      title=dict(text=t("train.probe_probs"), x=0, font=dict(size=13)))
    return fig


def confusion_figure(confusion: np.ndarray, classes, t: Translate, selected: tuple[int, int] | None = None) -> go.Figure:
    """Counts per (true, predicted) pair, colour on a log scale. An invisible square marker over
    each cell (Plotly cannot select a heatmap cell) carries the hover text and makes a click
    selectable: the selection's point_index is true * n + predicted (`confusion_cell`).
    `selected` outlines one cell."""
    labels = [plot_text(c) for c in classes]
    n = len(labels)
    fig = go.Figure([
        go.Heatmap(z=np.log1p(confusion), x=labels, y=labels, text=confusion, texttemplate="%{text}",
                   colorscale="Blues", showscale=False, xgap=1, ygap=1, hoverinfo="skip"),
        go.Scatter(x=labels * n, y=[lab for lab in labels for _ in range(n)], text=np.asarray(confusion).ravel().tolist(),
                   mode="markers", showlegend=False, hovertemplate=t("train.confusion_hover") + "<extra></extra>",
                   marker=dict(size=max(8, 360 // max(n, 1)), symbol="square", color="rgba(0,0,0,0)"),
                   selected=dict(marker=dict(opacity=0)), unselected=dict(marker=dict(opacity=0))),
    ])
    if selected is not None:
        r, c = selected
        fig.add_shape(type="rect", x0=c - 0.5, x1=c + 0.5, y0=r - 0.5, y1=r + 0.5,
                      line=dict(color="#ff4b4b", width=3))
    fig.update_xaxes(title_text=t("train.axis_predicted"), type="category", side="top")
    fig.update_yaxes(title_text=t("train.axis_true"), type="category", autorange="reversed")
    fig.update_layout(height=460, margin=dict(l=10, r=10, t=60, b=10), hovermode="closest",
                      hoverdistance=-1, dragmode=False, clickmode="event+select")
    return fig


def confusion_cell(point_index: int, n_classes: int) -> tuple[int, int]:
    """(true, predicted) of the confusion figure's marker `point_index`."""
    return divmod(int(point_index), n_classes)


def per_class_figure(acc: np.ndarray, classes, t: Translate) -> go.Figure:
    """Accuracy per class on an axis that ends at 100% (no accuracy is above it); the percentages
    stand above the bars, drawn outside the plot area so a full bar's label is never cut off."""
    fig = go.Figure(go.Bar(x=[str(c) for c in classes], y=acc, marker_color=BLUE,
                           text=[f"{100 * a:.1f}%" for a in acc], textposition="outside", cliponaxis=False,
                           hovertemplate="%{x}: %{y:.2%}<extra></extra>"))
    low = max(0.0, float(np.min(acc)) - 0.1) if len(acc) else 0.0
    fig.update_yaxes(range=[low, 1.0], tickformat=".0%")
    fig.update_xaxes(type="category")
    return room_above(style(fig, t("train.per_class_title"), t("train.axis_class"), t("train.axis_accuracy"), 460))


def compare_figure(runs: list[tuple[str, list[dict]]], metric: str, t: Translate) -> go.Figure:
    """One curve per (label, events) run: per-epoch test metrics, or smoothed training curves
    against the epoch position (comparable across batch sizes and data fractions)."""
    fig, ys = go.Figure(), []
    for i, (label, events) in enumerate(runs):
        colour = PALETTE[i % len(PALETTE)]
        c = metrics.curves(events)
        if metric.startswith("test_"):
            y = getattr(c, metric)
            fig.add_scatter(x=c.epoch, y=y, mode="lines+markers", name=label,
                            line=dict(color=colour, width=2), marker=dict(size=8))
        else:
            y = c.smoothed_loss() if metric == "loss" else metrics.ema(c.accuracy, 0.6)
            fig.add_scatter(x=c.step_epoch, y=y, mode="lines", name=label, line=dict(color=colour, width=2))
        ys += [v for v in y if v is not None and math.isfinite(v)]
    if "accuracy" in metric and ys:
        fig.update_yaxes(tickformat=".1%", range=[max(0.0, min(ys) - 0.02), min(1.005, max(ys) + 0.01)])
    fig.update_xaxes(rangemode="tozero")
    return style(fig, t(f"train.cmp_{metric}"), t("train.axis_epoch"), t(f"train.cmp_axis_{metric}"), 420)


def default_compare_metric(runs_events: list[list[dict]]) -> str:
    """Test accuracy when some run has more than one test point; else the training loss (a
    one-epoch run's single test point makes no curve)."""
    many = any(len(metrics.curves(events).epoch) > 1 for events in runs_events)
    return "test_accuracy" if many else "loss"
