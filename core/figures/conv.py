"""The Convolution page's figures: step-by-step boards of a convolution or pooling window,
the clickable output grid, and a kernel with its numbers."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from core import conv
from core.figures import Translate

# Colours shared by every grid: the window is orange everywhere it appears.
WINDOW = "#f97316"
PAD_FILL, PAD_TEXT = "#e5e7eb", "#6b7280"
INPUT_SCALE = [[0, "#f8fbff"], [1, "#93c5fd"]]
OUTPUT_SCALE = [[0, "#f5f3ff"], [1, "#c4b5fd"]]
SIGNED_SCALE = [[0, "#fca5a5"], [0.5, "#ffffff"], [1, "#86efac"]]
TEXT = "#111827"



def _font(cell: float, texts: list[str]) -> int:
    longest = max((len(s) for s in texts), default=1)
    size = cell * (0.38 if longest <= 3 else 0.3 if longest <= 5 else 0.24)
    return int(max(9, min(17, size)))


class Board:
    """One Plotly figure laid out in pixels: grids ("panels") placed at exact positions with square
    cells and a title above each (Plotly's own subplots stretch cells; this keeps them square).

    Traces, shapes and annotations are collected as plain dicts and turned into a figure once:
    adding hundreds of shapes one by one through Plotly's API takes seconds.
    """

    TITLE = 24  # pixels above a panel for its title

    def __init__(self, width: float, height: float):
        self.w, self.h = float(width), float(height)
        self.data: list[dict] = []
        self.shapes: list[dict] = []
        self.annotations: list[dict] = []
        self.axes: dict[str, dict] = {}
        self.n = 0

    @property
    def fig(self) -> go.Figure:
        layout = dict(
            width=int(self.w), height=int(self.h), margin=dict(l=0, r=0, t=0, b=0), showlegend=False,
            plot_bgcolor="rgba(0,0,0,0)", paper_bgcolor="rgba(0,0,0,0)", dragmode=False,
            hoverlabel=dict(bgcolor="white", font_size=13), shapes=self.shapes, annotations=self.annotations,
            **self.axes,
        )
        return go.Figure(data=self.data, layout=layout)

    def panel(self, x: float, y: float, rows: int, cols: int, cell: float, title: str = "") -> tuple[str, str]:
        """A rows×cols grid whose top-left corner is (x, y + TITLE) pixels from the figure's."""
        self.n += 1
        sx = "" if self.n == 1 else str(self.n)
        top = y + (self.TITLE if title else 0)
        self.axes[f"xaxis{sx}"] = dict(
            domain=[max(0.0, x / self.w), min(1.0, (x + cols * cell) / self.w)], range=[-0.5, cols - 0.5],
            anchor=f"y{sx}", visible=False, fixedrange=True)
        self.axes[f"yaxis{sx}"] = dict(
            domain=[max(0.0, 1 - (top + rows * cell) / self.h), min(1.0, 1 - top / self.h)],
            range=[rows - 0.5, -0.5], anchor=f"x{sx}", visible=False, fixedrange=True)
        if title:
            self.text(x + cols * cell / 2, y + self.TITLE / 2, title, size=13, color="#374151")
        return f"x{sx}", f"y{sx}"

    def text(self, x: float, y: float, s: str, size: int = 14, color: str = TEXT, bold: bool = False) -> None:
        """Text centred at (x, y) pixels."""
        self.annotations.append(dict(
            x=x / self.w, y=1 - y / self.h, xref="paper", yref="paper", text=f"<b>{s}</b>" if bold else s,
            showarrow=False, font=dict(size=size, color=color), xanchor="center", yanchor="middle"))

    def grid(self, axes: tuple[str, str], values: np.ndarray, cell: float, *, scale, zmin: float, zmax: float,
             pad_mask: np.ndarray | None = None, blank: np.ndarray | None = None, digits: int = 2) -> None:
        """Coloured cells with their numbers; padding cells grey; `blank` cells left empty."""
        xa, ya = axes
        h, w = values.shape
        hide = np.zeros((h, w), dtype=bool)
        if pad_mask is not None:
            hide |= pad_mask
        if blank is not None:
            hide |= blank
        z = values.astype(float).copy()
        z[hide | ~np.isfinite(z)] = np.nan
        self.data.append(dict(type="heatmap", z=z, zmin=zmin, zmax=zmax, colorscale=scale, showscale=False,
                              xgap=2, ygap=2, hoverinfo="skip", xaxis=xa, yaxis=ya))
        ys, xs = np.mgrid[0:h, 0:w]
        if blank is not None and blank.any():
            self.squares(axes, xs[blank], ys[blank], cell, fill="#fafafa", line="#e5e7eb")
        if pad_mask is not None and pad_mask.any():
            self.squares(axes, xs[pad_mask], ys[pad_mask], cell, fill=PAD_FILL, line="#b6bcc6")
            texts = [conv.fmt_num(v) for v in values[pad_mask]]
            self.data.append(dict(type="scatter", x=xs[pad_mask], y=ys[pad_mask], mode="text", text=texts,
                                  textfont=dict(color=PAD_TEXT, size=_font(cell, texts)), hoverinfo="skip",
                                  unselected=dict(textfont=dict(color=PAD_TEXT)), xaxis=xa, yaxis=ya))
        show = ~hide
        texts = [conv.fmt_num(v, digits) for v in values[show]]
        self.data.append(dict(type="scatter", x=xs[show], y=ys[show], mode="text", text=texts,
                              textfont=dict(color=TEXT, size=_font(cell, texts)), hoverinfo="skip",
                              unselected=dict(textfont=dict(color=TEXT)), xaxis=xa, yaxis=ya))

    def squares(self, axes: tuple[str, str], xs, ys, cell: float, *, fill: str, line: str, width: float = 1,
                shrink: float = 0.12) -> None:
        """Square markers filling cells (x, y): one trace however many cells."""
        xa, ya = axes
        self.data.append(dict(
            type="scatter", x=np.asarray(xs), y=np.asarray(ys), mode="markers", hoverinfo="skip", xaxis=xa, yaxis=ya,
            unselected=dict(marker=dict(opacity=1)),
            marker=dict(symbol="square", size=max(cell * (1 - shrink) - width, 4), color=fill,
                        line=dict(color=line, width=width))))

    def rect(self, axes: tuple[str, str], r0: float, c0: float, r1: float, c1: float, *, color: str = WINDOW,
             width: float = 3, dash: str = "solid", fill: str | None = None, inset: float = 0.0) -> None:
        """A frame around cells (r0, c0)…(r1, c1), inclusive."""
        xa, ya = axes
        self.shapes.append(dict(type="rect", xref=xa, yref=ya, x0=c0 - 0.5 + inset, x1=c1 + 0.5 - inset,
                                y0=r0 - 0.5 + inset, y1=r1 + 0.5 - inset,
                                line=dict(color=color, width=width, dash=dash),
                                fillcolor=fill or "rgba(0,0,0,0)", layer="above"))


def _signed_range(*arrays: np.ndarray) -> float:
    m = max((float(np.max(np.abs(a[np.isfinite(a)]))) for a in arrays if np.isfinite(a).any()), default=1.0)
    return m if m > 0 else 1.0


def _value_range(a: np.ndarray) -> tuple[float, float]:
    f = a[np.isfinite(a)]
    lo, hi = (float(f.min()), float(f.max())) if f.size else (0.0, 1.0)
    return lo, hi if hi > lo else lo + 1


def _text_width(s: str, size: int = 13) -> float:
    """Rough pixel width of a title (CJK characters are about twice as wide as Latin ones)."""
    return sum(size * (1.0 if ord(ch) > 0x2E80 else 0.55) for ch in s)


def conv_step_figure(res: conv.ConvResult, step: conv.ConvStep, t: Translate, max_width: float = 640) -> go.Figure:
    """Per channel, one row: padded input with the window → kernel → products → their sum."""
    c_n, hp, wp = res.padded.shape
    kh, kw = res.kernel.shape[2:]
    gap, sum_w = 26.0, 90.0
    t_in = [t("conv.fig_input", ch=f" · {t('conv.channel_n', n=c + 1)}" if c_n > 1 else "") for c in range(c_n)]
    t_k = t("conv.fig_kernel_flipped" if res.flip else "conv.fig_kernel", ch="")
    t_p = t("conv.fig_products", ch="")
    cell = float(np.clip((max_width - 2 * gap - sum_w) / (wp + 2 * kw), 24, 46))
    # each grid sits in a slot wide enough for its title, centred in it
    slot_in = max(wp * cell, max(_text_width(x) for x in t_in))
    slot_k = max(kw * cell, _text_width(t_k))
    slot_p = max(kw * cell, _text_width(t_p))
    rows = max(hp, kh)
    band = Board.TITLE + rows * cell + 14
    b = Board(slot_in + slot_k + slot_p + 2 * gap + sum_w, c_n * band)
    pad = conv.padding_mask(res.input.shape[1], res.input.shape[2], res.padding)
    lo, hi = _value_range(res.input)
    k_range, p_range = _signed_range(res.kernel), _signed_range(step.products)
    x_in = (slot_in - wp * cell) / 2
    x_k = slot_in + gap + (slot_k - kw * cell) / 2
    x_p = slot_in + gap + slot_k + gap + (slot_p - kw * cell) / 2
    for c in range(c_n):
        y = c * band
        y_k = y + (rows - kh) * cell / 2  # kernel and products centred on the input's height
        a_in = b.panel(x_in, y, hp, wp, cell, t_in[c])
        b.grid(a_in, res.padded[c], cell, scale=INPUT_SCALE, zmin=lo, zmax=hi, pad_mask=pad)
        if res.padding:
            p = res.padding
            b.rect(a_in, p, p, p + res.input.shape[1] - 1, p + res.input.shape[2] - 1, color="#4b5563", width=1.5,
                   dash="dot")
        if res.dilation > 1:
            b.rect(a_in, step.rows[0], step.cols[0], step.rows[-1], step.cols[-1], width=1.5, dash="dash")
        taps_r, taps_c = np.meshgrid(step.rows, step.cols, indexing="ij")
        b.squares(a_in, taps_c.ravel(), taps_r.ravel(), cell, fill="rgba(249,115,22,0.22)", line=WINDOW,
                  width=2.5, shrink=0.04)
        a_k = b.panel(x_k, y_k, kh, kw, cell, t_k)
        b.grid(a_k, res.kernel[0, c], cell, scale=SIGNED_SCALE, zmin=-k_range, zmax=k_range)
        b.rect(a_k, 0, 0, kh - 1, kw - 1, width=2.5)
        a_p = b.panel(x_p, y_k, kh, kw, cell, t_p)
        b.grid(a_p, step.products[c], cell, scale=SIGNED_SCALE, zmin=-p_range, zmax=p_range)
        mid = y_k + Board.TITLE + kh * cell / 2
        b.text(slot_in + gap / 2, mid, "×", size=18, color="#6b7280")
        b.text(slot_in + gap + slot_k + gap / 2, mid, "=", size=18, color="#6b7280")
        b.text(b.w - sum_w / 2, mid, f"Σ = {conv.fmt_sum(step.partial_sums[c])}", size=16, bold=True)
    return b.fig


def output_figure(values: np.ndarray, done: int, current: tuple[int, int] | None, *, signed: bool,
                  title: str, t: Translate, max_side: float = 330) -> go.Figure:
    """The output grid: cells up to `done` (row-major) filled, the current one framed, row and column
    numbers around it, every cell clickable."""
    h, w = values.shape
    cell = float(np.clip(max_side / max(h, w, 1), 24, 52))
    lab = 20.0
    grid_w = lab + w * cell
    b = Board(max(grid_w + 4, _text_width(title) + 16, 170), Board.TITLE + lab + h * cell + 4)
    x0 = (b.w - grid_w) / 2  # left edge of the row numbers; the grid starts at x0 + lab
    axes = b.panel(x0 + lab, Board.TITLE + lab, h, w, cell, "")
    b.text(x0 + lab + w * cell / 2, Board.TITLE / 2, title, size=13, color="#374151")
    fs = 11 if cell < 30 else 12
    for j in range(w):
        b.text(x0 + lab + (j + 0.5) * cell, Board.TITLE + lab / 2 + 1, str(j + 1), size=fs, color="#9ca3af")
    for i in range(h):
        b.text(x0 + lab / 2, Board.TITLE + lab + (i + 0.5) * cell, str(i + 1), size=fs, color="#9ca3af")
    blank = np.arange(h * w).reshape(h, w) > done
    if signed:
        rng = _signed_range(values)
        b.grid(axes, values, cell, scale=SIGNED_SCALE, zmin=-rng, zmax=rng, blank=blank)
    else:
        lo, hi = _value_range(values)
        b.grid(axes, values, cell, scale=OUTPUT_SCALE, zmin=lo, zmax=hi, blank=blank)
    ys, xs = np.mgrid[0:h, 0:w]
    # Nearly transparent squares on every cell catch clicks (Plotly heatmaps report no selection).
    b.data.append(dict(
        type="scatter", x=xs.ravel(), y=ys.ravel(), mode="markers", xaxis=axes[0], yaxis=axes[1],
        marker=dict(symbol="square", size=cell * 0.92, color="rgba(255,255,255,0.01)"),
        customdata=np.stack([ys.ravel() + 1, xs.ravel() + 1], axis=1),
        hovertemplate=t("conv.hover_cell") + "<extra></extra>",
        selected=dict(marker=dict(opacity=1)), unselected=dict(marker=dict(opacity=1)),
    ))
    if current is not None:
        b.rect(axes, current[0], current[1], current[0], current[1], width=3.5)
    fig = b.fig
    fig.update_layout(clickmode="event+select")
    return fig


def kernel_figure(kernel: np.ndarray, title: str) -> go.Figure:
    kh, kw = kernel.shape
    cell = float(np.clip(200 / max(kh, kw), 24, 44))
    b = Board(max(kw * cell, _text_width(title) + 10, 170), Board.TITLE + kh * cell + 2)
    axes = b.panel((b.w - kw * cell) / 2, 0, kh, kw, cell, title)
    rng = _signed_range(kernel)
    b.grid(axes, kernel, cell, scale=SIGNED_SCALE, zmin=-rng, zmax=rng, digits=3)
    return b.fig


def pool_figure(res: conv.PoolResult, step: conv.PoolStep, t: Translate, max_width: float = 560) -> go.Figure:
    """The padded input with the pooling window; the maximum (max pooling) framed in red."""
    _, hp, wp = res.padded.shape
    cell = float(np.clip(max_width / max(wp, 1), 26, 50))
    b = Board(wp * cell, Board.TITLE + hp * cell + 2)
    axes = b.panel(0, 0, hp, wp, cell, t("conv.fig_pool_input"))
    pad = conv.padding_mask(res.input.shape[1], res.input.shape[2], res.padding)
    lo, hi = _value_range(res.input)
    b.grid(axes, res.padded[step.channel], cell, scale=INPUT_SCALE, zmin=lo, zmax=hi, pad_mask=pad)
    if res.padding:
        p = res.padding
        b.rect(axes, p, p, p + res.input.shape[1] - 1, p + res.input.shape[2] - 1, color="#4b5563", width=1.5,
               dash="dot")
    b.rect(axes, step.rows[0], step.cols[0], step.rows[-1], step.cols[-1], width=3, fill="rgba(249,115,22,0.16)")
    if step.argmax is not None:
        a, c = step.argmax
        b.rect(axes, step.rows[a], step.cols[c], step.rows[a], step.cols[c], color="#b91c1c", width=2.5, inset=0.08)
    return b.fig
