"""A grid of test images with the model's answers (the Train page's results, the Predict page's
test-set input): one Plotly figure, fast to draw whatever the count.

All tiles are drawn into one picture (a PNG in the figure, a few tens of kB) instead of one
subplot per image, which would be dozens of axes to lay out. Labels are annotations in the band
under each tile; a mistake gets a red frame and its true label. An invisible marker over each
tile carries its hover text and makes a click selectable (Plotly cannot select a point of an
image trace), so a page can take the clicked tile with `st.plotly_chart(on_select=...)`:
the selection's point_index is the tile's position in the draw.
"""
from __future__ import annotations

import base64
import math

import cv2
import numpy as np
import plotly.graph_objects as go

from core.figures import Translate, plot_text
from core.samples import MAX_SAMPLES, Samples, SampleError

ZOOM = 1                   # picture pixels per image pixel: the browser enlarges it without smoothing
FRAME = 1                  # frame width around a tile, in picture pixels (≈ 3 px on screen)
GAP = 3                    # space between tiles
PAD = 4                    # room around the picture for the outline of the selected tile
LABEL_PX = 38              # height of the label band under a tile, in screen pixels (two lines)
RIGHT, WRONG, SELECTED = "#2b8a3e", "#e03131", "#1c7ed6"
RIGHT_FRAME = (222, 226, 230)  # light grey: a correct tile is framed quietly


def grid_shape(n: int, columns: int) -> tuple[int, int]:
    """(rows, columns) for n tiles, at most `columns` to a row."""
    cols = max(1, min(columns, n))
    return math.ceil(n / cols), cols


def samples_figure(images: np.ndarray, samples: Samples, classes, t: Translate, columns: int = 6,
                   width_px: int = 600, selected: int | None = None, clickable: bool = False) -> go.Figure:
    """`images`: uint8 [N, H, W] in the order of `samples`; `width_px`: about the width the page
    gives the chart (the height follows, so the tiles stay square and the labels fit);
    `selected`: a test index to outline in blue (the Predict page's current input)."""
    n = len(samples)
    if n > MAX_SAMPLES or len(images) != n:
        raise SampleError(f"A sample grid shows 1 to {MAX_SAMPLES} images, one per sample.")
    images = np.asarray(images, dtype=np.uint8)
    rows, cols = grid_shape(max(n, 1), columns)
    h, w = (images.shape[1] * ZOOM, images.shape[2] * ZOOM) if n else (28 * ZOOM, 28 * ZOOM)
    cell_w = w + 2 * FRAME
    total_w = cols * cell_w + (cols - 1) * GAP
    unit = width_px / (total_w + 2 * PAD)           # screen pixels per picture pixel
    band = math.ceil(LABEL_PX / unit)               # the label band, in picture pixels
    cell_h = h + 2 * FRAME + band
    picture = np.full((rows * cell_h, total_w, 3), 255, np.uint8)
    xs, ys, hover, annotations = [], [], [], []
    names = [plot_text(c) for c in classes]
    for k in range(n):
        r, c = divmod(k, cols)
        left, top = c * (cell_w + GAP), r * cell_h
        right = bool(samples.correct[k])
        picture[top:top + h + 2 * FRAME, left:left + cell_w] = RIGHT_FRAME if right else (224, 49, 49)
        tile = cv2.resize(images[k], (w, h), interpolation=cv2.INTER_NEAREST)
        picture[top + FRAME:top + FRAME + h, left + FRAME:left + FRAME + w] = tile[..., None]
        true, pred = names[samples.true[k]], names[samples.predicted[k]]
        conf = f"{100 * samples.confidence[k]:.0f}"
        text = (t("samples.tile_right", pred=pred, conf=conf) if right
                else t("samples.tile_wrong", pred=pred, conf=conf, true=true))
        annotations.append(dict(x=left + cell_w / 2, y=top + h + 2 * FRAME + 2, text=text, showarrow=False,
                                xanchor="center", yanchor="top", font=dict(size=13, color=RIGHT if right else WRONG),
                                xref="x", yref="y"))
        xs.append(left + cell_w / 2)
        ys.append(top + FRAME + h / 2)
        hover.append(t("samples.hover", index=int(samples.indices[k]), true=true, pred=pred, conf=conf))
    _, png = cv2.imencode(".png", picture[..., ::-1])
    source = "data:image/png;base64," + base64.b64encode(png.tobytes()).decode()
    fig = go.Figure([
        go.Image(source=source, hoverinfo="skip"),
        go.Scatter(x=xs, y=ys, mode="markers", hovertext=hover, hoverinfo="text", showlegend=False,
                   marker=dict(size=max(12, int(cell_w * unit * 0.9)), symbol="square", color="rgba(0,0,0,0)"),
                   selected=dict(marker=dict(opacity=0)), unselected=dict(marker=dict(opacity=0))),
    ])
    if selected is not None and selected in samples.indices:
        k = int(np.flatnonzero(samples.indices == selected)[0])
        r, c = divmod(k, cols)
        left, top = c * (cell_w + GAP), r * cell_h
        fig.add_shape(type="rect", x0=left - 1.5, x1=left + cell_w + 0.5, y0=top - 1.5, y1=top + h + 2 * FRAME + 0.5,
                      line=dict(color=SELECTED, width=3))
    # Axis ranges in the picture's proportions, and a height that gives the plot exactly them:
    # the tiles then fill the width (scaleanchor would otherwise shrink and centre the plot).
    fig.update_xaxes(visible=False, range=[-PAD, total_w + PAD], constrain="domain")
    fig.update_yaxes(visible=False, range=[rows * cell_h, -PAD], scaleanchor="x", constrain="domain")
    fig.update_layout(annotations=annotations, width=int(width_px),
                      height=round((rows * cell_h + PAD) * unit) + 8,
                      margin=dict(l=0, r=0, t=4, b=4), hovermode="closest", dragmode=False,
                      hoverdistance=-1 if clickable else 20, clickmode="event+select" if clickable else "event",
                      plot_bgcolor="rgba(0,0,0,0)", paper_bgcolor="rgba(0,0,0,0)")
    return fig


def clicked_marker(event, curve: int = 1) -> int | None:
    """The point_index of the first selected point of trace `curve` in a plotly_chart selection
    event (st.session_state[key] of a chart drawn with on_select), or None."""
    selection = event.get("selection") if hasattr(event, "get") else None
    for point in (selection or {}).get("points", []) or []:
        if point.get("curve_number") == curve and isinstance(point.get("point_index"), int):
            return int(point["point_index"])
    return None


def picked_index(event, samples: Samples) -> int | None:
    """The test index of the tile clicked in a `samples_figure`, or None."""
    k = clicked_marker(event)
    return int(samples.indices[k]) if k is not None and 0 <= k < len(samples) else None
