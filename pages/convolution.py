"""Convolution page: watch a convolution (and pooling) happen one output cell at a time, then see
what kernels do to a real photo.

Layout and widgets only; the step engine, the output-size formula, kernel presets, parsing of
typed numbers, image filtering and the PyTorch snippet all live in core/conv.py and
core/images.py. Per-user state lives in st.session_state under keys starting with "conv.".
"""
from __future__ import annotations

import time
from typing import Callable

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from app.errors import guarded
from app.shell import ensure_app_shell
from app.state import PERSIST
from app.ui import option_labels, t, upload_limit_mb
from core import conv
from core.figures.conv import conv_step_figure, kernel_figure, output_figure, pool_figure
from core.i18n import I18N_DIR
from core.images import EXTENSIONS, ImageError, check_image_size, fit_within, load_image_bytes, load_image_file
from core.limits import current as current_limits
from core.stepper import SPEEDS, Stepper
from core.workspace import display_name

ensure_app_shell()
ss = st.session_state
PHOTO = I18N_DIR.parent / "astronaut.png"
WORK_SIDE = 1024      # photos are filtered at most this big (the speed target)
GRID_SIDE = 320       # the comparison grid uses smaller copies
CHANNEL_TILE = 360    # the channel-by-channel tiles are sent at most this big

# =========================================================================== state

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



def _default_conv_state() -> dict:
    return {
        K.C: 1, K.H: 5, K.W: 5, K.KH: 3, K.KW: 3,
        K.BIAS: 0.0, K.STRIDE: 1, K.PADDING: 0, K.DILATION: 1, K.FLIP: False,
        K.INPUT: np.array([conv.EXAMPLE_INPUT], dtype=float),
        K.KERNEL: np.array([conv.EXAMPLE_KERNEL], dtype=float),
    }


def _default_pool_state() -> dict:
    return {
        K.POOL_H: 4, K.POOL_W: 4, K.POOL_MODE: "max", K.POOL_K: 2,
        K.POOL_STRIDE: 2, K.POOL_PADDING: 0,
        K.POOL_X: np.array([conv.EXAMPLE_POOL_INPUT], dtype=float),
    }


def _set_state(values: dict) -> None:
    for k, v in values.items():
        ss[k] = v


def _sync_texts(mat_key: str) -> None:
    """Rewrite every channel's text area from the matrix and clear their error messages."""
    m = ss[mat_key]
    for c in range(conv.MAX_CHANNELS):
        ss.pop(K.error(mat_key, c), None)
        if c < m.shape[0]:
            ss[K.text(mat_key, c)] = conv.format_matrix(m[c])


def _restart(prefix: str) -> None:
    Stepper(ss, prefix, 1).restart()


def init_state() -> None:
    for k, v in {**_default_conv_state(), **_default_pool_state()}.items():
        ss.setdefault(k, v)
    for mat_key in (K.INPUT, K.KERNEL, K.POOL_X):
        if K.text(mat_key, 0) not in ss:
            _sync_texts(mat_key)
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


# --------------------------------------------------------------------------- callbacks

def on_conv_reset() -> None:
    _set_state(_default_conv_state())
    _sync_texts(K.INPUT)
    _sync_texts(K.KERNEL)
    _restart(K.CONV_STEPS)


def on_conv_rgb_example() -> None:
    x = np.array(conv.EXAMPLE_RGB_INPUT, dtype=float)
    w = np.array(conv.EXAMPLE_RGB_KERNEL, dtype=float)
    _set_state({
        K.C: 3, K.H: 5, K.W: 5, K.KH: 3, K.KW: 3, K.INPUT: x, K.KERNEL: w,
        K.BIAS: float(conv.EXAMPLE_RGB_BIAS), K.FLIP: False,
        **{f"conv.{k}": v for k, v in conv.EXAMPLE_RGB_SETTINGS.items()},
    })
    _sync_texts(K.INPUT)
    _sync_texts(K.KERNEL)
    _restart(K.CONV_STEPS)


def on_conv_random() -> None:
    rng = np.random.default_rng()
    ss[K.INPUT] = conv.random_ints(rng, ss[K.INPUT].shape, 0, 5)
    ss[K.KERNEL] = conv.random_ints(rng, ss[K.KERNEL].shape, -1, 2)
    _sync_texts(K.INPUT)
    _sync_texts(K.KERNEL)
    _restart(K.CONV_STEPS)


def on_pool_reset() -> None:
    _set_state(_default_pool_state())
    _sync_texts(K.POOL_X)
    _restart(K.POOL_STEPS)


def on_pool_random() -> None:
    ss[K.POOL_X] = conv.random_ints(np.random.default_rng(), ss[K.POOL_X].shape, 0, 9)
    _sync_texts(K.POOL_X)
    _restart(K.POOL_STEPS)


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
        _sync_texts(key)
    _restart(K.CONV_STEPS)


def on_size(mat_key: str, rows_key: str, cols_key: str, prefix: str) -> None:
    ss[mat_key] = conv.resize_matrix(ss[mat_key], int(ss[rows_key]), int(ss[cols_key]))
    _sync_texts(mat_key)
    _restart(prefix)


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
    _sync_texts(mat_key)
    _restart(prefix)


def on_setting(prefix: str) -> None:
    _restart(prefix)


def on_pool_kernel() -> None:
    k = ss[K.POOL_K]
    ss[K.POOL_PADDING] = min(ss[K.POOL_PADDING], conv.max_pool_padding(k))
    _restart(K.POOL_STEPS)


# =========================================================================== figures

CHART_CONFIG = {"displayModeBar": False, "responsive": True}


# =========================================================================== pieces of the page

def size_formula(sizes: tuple[conv.OutputSize, conv.OutputSize], with_dilation: bool = True) -> None:
    """The output-size formula, then the same with the current numbers for height and width."""
    if with_dilation:
        st.latex(r"H_{out} = \left\lfloor \frac{H + 2P - D\,(K-1) - 1}{S} \right\rfloor + 1")
    else:
        st.latex(r"H_{out} = \left\lfloor \frac{H + 2P - K}{S} \right\rfloor + 1")
    for axis, s in zip(("H", "W"), sizes):
        if with_dilation:
            num = rf"{s.n} + 2\cdot{s.padding} - {s.dilation}\cdot({s.k}-1) - 1"
        else:
            num = rf"{s.n} + 2\cdot{s.padding} - {s.k}"
        filled = rf"{axis}_{{out}} = \left\lfloor \frac{{{num}}}{{{s.stride}}} \right\rfloor + 1"
        if s.size:
            tail = rf"= \left\lfloor \frac{{{s.numerator}}}{{{s.stride}}} \right\rfloor + 1 = \mathbf{{{s.size}}}"
        else:
            tail = rf"= \left\lfloor \frac{{{s.numerator}}}{{{s.stride}}} \right\rfloor + 1 \le 0"
        st.latex(f"{filled} {tail}")


def size_hints(sizes: tuple[conv.OutputSize, conv.OutputSize], kind: str) -> None:
    """Short, situation-specific notes under the formula: padding keeps the size, stride shrinks…"""
    sh, sw = sizes
    notes = []
    if sh.size and sw.size:
        notes.append(t("conv.hint_size", ho=sh.size, wo=sw.size, h=sh.n, w=sw.n))
    if kind == "conv":
        notes.append(t("conv.hint_receptive", sh=sh.span, sw=sw.span))
    if sh.stride == 1 and sh.size == sh.n and sw.size == sw.n and sh.padding > 0:
        notes.append(t("conv.hint_same", p=sh.padding))
    elif sh.padding == 0 and sh.stride == 1 and (sh.size < sh.n or sw.size < sw.n) and sh.size:
        notes.append(t("conv.hint_shrink", lost=sh.n - sh.size))
    if sh.stride > 1 and sh.size:
        notes.append(t("conv.hint_stride", s=sh.stride))
    if (sh.unused or sw.unused) and sh.size and sw.size:
        notes.append(t("conv.hint_unused", n=max(sh.unused, sw.unused)))
    for n in notes:
        st.markdown("- " + n)


def explain_empty(sizes: tuple[conv.OutputSize, conv.OutputSize]) -> None:
    for axis, s in zip((t("conv.axis_height"), t("conv.axis_width")), sizes):
        if not s.size:
            st.warning(t("conv.empty_output", axis=axis, span=s.span, padded=s.padded, n=s.n, p=s.padding,
                         k=s.k, d=s.dilation), icon=":material/block:")
            return


def matrix_editors(mat_key: str, rows_key: str, cols_key: str, max_side: int, prefix: str,
                   label_key: str, channel_names: bool) -> None:
    m = ss[mat_key]
    cols = st.columns(conv.MAX_CHANNELS, gap="medium")  # always thirds: a box as wide as a grid needs
    for c in range(m.shape[0]):
        with cols[c]:
            label = t(label_key, ch=f" · {t('conv.channel_n', n=c + 1)}" if channel_names and m.shape[0] > 1 else "")
            st.text_area(
                label, key=K.text(mat_key, c), height=68 + 22 * min(m.shape[1], 12),
                on_change=on_matrix_text, args=(mat_key, c, rows_key, cols_key, max_side, prefix),
                help=t("conv.edit_help"),
            )
            err = ss.get(K.error(mat_key, c))
            if err:
                code, details = err
                st.error(t(f"conv.matrix_err_{code}", **details) + " " + t("conv.matrix_err_kept"),
                         icon=":material/error:")


def stepper(prefix: str, n_steps: int, out_shape: tuple[int, int],
            draw: Callable[[int, Callable[[], None]], None]) -> None:
    """Play/pause, step back/forward, first/last, speed, jump to a cell; `draw(i, jump)` shows step i
    and places the jump controls (`jump()`) next to its output grid.

    Lives in a fragment so that playing reruns only this part of the page: while playing, the
    fragment reruns on a timer and moves to the step the clock calls for (core.stepper: the pace
    holds even when a redraw is slower than a step). Starting, stopping or changing the
    speed needs a new timer, hence a full rerun.
    """
    player = Stepper(ss, prefix, n_steps)
    player.clamp()
    interval = player.interval()
    ho, wo = out_shape

    # st.rerun() in these callbacks is not a no-op (checked on Streamlit 1.67): the buttons live
    # in the fragment below, whose widgets rerun only the fragment; a plain st.rerun() from their
    # callback turns that into a full rerun, the only way to start, stop or re-time its timer.
    def go_to(i: int) -> None:
        if player.go_to(i):
            st.rerun()

    def jump_keys() -> tuple[str, str]:
        """The Row and Column boxes' keys for the current cell (core.stepper.cell_generation)."""
        gen = player.cell_generation
        return f"{prefix}.jump_row.{gen}", f"{prefix}.jump_col.{gen}"

    def on_row_col() -> None:
        row_key, col_key = jump_keys()
        r, c = ss.get(row_key) or 1, ss.get(col_key) or 1
        go_to((min(r, ho) - 1) * wo + min(c, wo) - 1)

    def set_playing(on: bool) -> None:
        if player.set_playing(on):
            st.rerun()

    def on_speed() -> None:
        if player.speed_changed():
            st.rerun()

    def jump_controls() -> None:
        """Row and column pickers and a Go button, shown above the output grid.

        The pickers start at the current cell and are new widgets whenever the cell moves (their
        keys carry core.stepper's cell generation): a row just picked, before Go is pressed,
        stays, and a stale value the browser sends back while the animation runs lands on a
        picker that no longer exists. No on_change: choosing alone moves nothing."""
        row_key, col_key = jump_keys()
        row, col = player.step // wo + 1, player.step % wo + 1
        with st.container(horizontal=True, vertical_alignment="bottom", gap="small"):
            st.selectbox(t("conv.jump_row"), options=list(range(1, ho + 1)), index=min(row, ho) - 1,
                         key=row_key, width=80)
            st.selectbox(t("conv.jump_col"), options=list(range(1, wo + 1)), index=min(col, wo) - 1,
                         key=col_key, width=80)
            st.button(t("conv.jump_go"), key=f"{prefix}.b_jump", icon=":material/my_location:",
                      on_click=on_row_col, help=t("conv.jump_help"))

    @st.fragment(run_every=interval)
    @guarded
    def body() -> None:
        if interval is not None:
            player.advance()
        if player.interval() != interval:
            st.rerun()  # the animation just ended (or its state changed): new timer, or none
        player.cell_moved(out_shape)  # a new cell: new Row/Column pickers (see jump_controls)
        i, playing, at_end = player.step, player.playing, player.at_end
        bar = st.container(horizontal=True, vertical_alignment="bottom", gap="small", key=f"{prefix}-controls")
        with bar:
            st.button(t("conv.btn_first"), key=f"{prefix}.b_first", icon=":material/first_page:",
                      on_click=go_to, args=(0,), disabled=i == 0)
            st.button(t("conv.btn_back"), key=f"{prefix}.b_back", icon=":material/chevron_left:",
                      on_click=go_to, args=(i - 1,), disabled=i == 0)
            # Two buttons with their own keys, not one that changes label: the browser may show a
            # frame or two behind the server, and a click on a stale "Pause" must never mean "Play".
            if playing:
                st.button(t("conv.btn_pause"), key=f"{prefix}.b_pause", icon=":material/pause:", type="primary",
                          on_click=set_playing, args=(False,))
            else:
                st.button(t("conv.btn_play"), key=f"{prefix}.b_play", icon=":material/play_arrow:", type="primary",
                          on_click=set_playing, args=(True,), disabled=n_steps <= 1)
            st.button(t("conv.btn_forward"), key=f"{prefix}.b_fwd", icon=":material/chevron_right:",
                      icon_position="right", on_click=go_to, args=(i + 1,), disabled=at_end)
            st.button(t("conv.btn_last"), key=f"{prefix}.b_last", icon=":material/last_page:",
                      icon_position="right", on_click=go_to, args=(n_steps - 1,), disabled=at_end)
            st.segmented_control(t("conv.speed"), options=list(SPEEDS), key=player.key("speed"), required=True,
                                 on_change=on_speed, **PERSIST)
        draw(i, jump_controls)

    body()


# =========================================================================== section: convolution

@st.cache_data(max_entries=64, show_spinner=False)
def compute_conv(x: np.ndarray, w: np.ndarray, bias: float, stride: int, padding: int, dilation: int,
                 flip: bool) -> conv.ConvResult:
    return conv.conv_steps(x, w, bias, stride, padding, dilation, flip)


def code_comments() -> dict[str, str]:
    return {k: t(f"conv.code_{k}") for k in conv.CODE_COMMENTS_EN}


def _figure_and_output(fig: go.Figure, out: go.Figure, prefix: str, wo: int, n_steps: int,
                       jump: Callable[[], None]) -> None:
    """The step figure and the clickable output grid: side by side when they fit, else stacked."""
    chart_key = f"{prefix}.out_click.{ss.get(f'{prefix}.click_gen', 0)}"
    wide = fig.layout.width > 640
    left, right = (st.container(), st.container()) if wide else st.columns([3, 2], gap="medium")
    with left:
        # static: nothing to hover or click here, and a static plot is cheaper to redraw
        st.plotly_chart(fig, config={**CHART_CONFIG, "staticPlot": True}, key=f"{prefix}.fig", width="content",
                        theme=None)
    with right:
        jump()
        st.plotly_chart(out, config=CHART_CONFIG, key=chart_key, width="content", theme=None,
                        on_select=_click_callback(prefix, chart_key, wo, n_steps), selection_mode="points")
        st.caption(t("conv.click_hint"))


def draw_conv_step(res: conv.ConvResult, i: int, jump: Callable[[], None]) -> None:
    step = res.steps[i]
    ho, wo = res.out_shape
    st.markdown(t("conv.step_title", i=i + 1, n=len(res.steps), r=step.row + 1, c=step.col + 1,
                  r0=step.rows[0] + 1, r1=step.rows[-1] + 1, c0=step.cols[0] + 1, c1=step.cols[-1] + 1))
    out = output_figure(res.output[0], i, (step.row, step.col), signed=bool(res.output.min() < 0),
                        title=t("conv.fig_output", ho=ho, wo=wo), t=t)
    _figure_and_output(conv_step_figure(res, step, t), out, K.CONV_STEPS, wo, len(res.steps), jump)
    with st.container(border=True, key="conv-sum"):
        c_n = res.input.shape[0]
        for c in range(c_n):
            name = t("conv.channel_n", n=c + 1) if c_n > 1 else t("conv.products_sum")
            st.markdown(f"**{name[:1].upper() + name[1:]}:** {step.channel_formula(c)}")
        parts = [conv.fmt_term(v) for v in step.partial_sums]
        total = " + ".join(parts) + f" + {conv.fmt_term(step.bias)} = **{conv.fmt_sum(step.total)}**"
        st.markdown(t("conv.total_line", r=step.row + 1, c=step.col + 1, formula=total))


def _click_callback(prefix: str, chart_key: str, wo: int, n_steps: int) -> Callable[[], None]:
    """on_select for the output grid: jump to the clicked cell, then reset the chart's selection."""
    def cb() -> None:
        state = ss.get(chart_key)
        points = state.selection.points if state is not None else []
        # only the click-catching squares carry customdata; x, y are the cell's column and row
        hits = [p for p in points if p.get("customdata") is not None and "x" in p and "y" in p]
        if hits:
            r, c = int(round(hits[0]["y"])), int(round(hits[0]["x"]))
            ss[f"{prefix}.click_gen"] = ss.get(f"{prefix}.click_gen", 0) + 1  # a fresh chart, no selection
            if Stepper(ss, prefix, n_steps).go_to_cell(r, c, wo):
                st.rerun()  # it was playing: a full rerun stops the fragment's timer (see stepper)
    return cb


def size_section(res, kind: str) -> None:
    sizes = (res.size_h, res.size_w)
    st.subheader(t("conv.size_title", ho=sizes[0].size, wo=sizes[1].size), anchor=False)
    size_formula(sizes, with_dilation=kind == "conv")
    st.caption(t("conv.size_legend" if kind == "conv" else "conv.size_legend_pool"))
    size_hints(sizes, kind)
    if res.empty:
        explain_empty(sizes)


def steps_and_code(res, kind: str, step_key: str, intro_key: str, draw, make_code) -> None:
    """The part convolution and pooling share: stepper, output-size formula, PyTorch code."""
    if res.empty:
        size_section(res, kind)
        return
    st.caption(t(intro_key))
    stepper(step_key, len(res.steps), res.out_shape, lambda i, jump: draw(res, i, jump))
    size_section(res, kind)
    with st.expander(t("conv.code_title"), icon=":material/code:"):
        st.caption(t("conv.code_intro"))
        st.code(make_code(res, comments=code_comments()), language="python")


def conv_section() -> None:
    st.markdown(t("conv.intro"))
    with st.container(border=True):
        row = st.container(horizontal=True, vertical_alignment="bottom", gap="medium")
        with row:
            st.segmented_control(t("conv.channels"), options=[1, 2, 3], key=K.C, required=True,
                                 on_change=on_channels, help=t("conv.channels_help"), **PERSIST)
            size_args = (K.INPUT, K.H, K.W, K.CONV_STEPS)
            st.number_input(t("conv.in_rows"), 1, conv.MAX_INPUT_SIDE, step=1, key=K.H, on_change=on_size,
                            args=size_args, width=118, **PERSIST)
            st.number_input(t("conv.in_cols"), 1, conv.MAX_INPUT_SIDE, step=1, key=K.W, on_change=on_size,
                            args=size_args, width=118, **PERSIST)
            k_args = (K.KERNEL, K.KH, K.KW, K.CONV_STEPS)
            st.number_input(t("conv.k_rows"), 1, conv.MAX_KERNEL_SIDE, step=1, key=K.KH, on_change=on_size,
                            args=k_args, width=118, **PERSIST)
            st.number_input(t("conv.k_cols"), 1, conv.MAX_KERNEL_SIDE, step=1, key=K.KW, on_change=on_size,
                            args=k_args, width=118, **PERSIST)
            st.number_input(t("conv.bias"), -100.0, 100.0, step=1.0, format="%g", key=K.BIAS,
                            help=t("conv.bias_help"), on_change=on_setting, args=(K.CONV_STEPS,), width=130, **PERSIST)
        row = st.container(horizontal=True, vertical_alignment="bottom", gap="medium")
        with row:
            st.segmented_control(t("conv.stride"), options=list(conv.STRIDES), key=K.STRIDE, required=True,
                                 help=t("conv.stride_help"), on_change=on_setting, args=(K.CONV_STEPS,), **PERSIST)
            st.segmented_control(t("conv.padding"), options=list(conv.PADDINGS), key=K.PADDING, required=True,
                                 help=t("conv.padding_help"), on_change=on_setting, args=(K.CONV_STEPS,), **PERSIST)
            st.segmented_control(t("conv.dilation"), options=list(conv.DILATIONS), key=K.DILATION,
                                 required=True, help=t("conv.dilation_help"), on_change=on_setting,
                                 args=(K.CONV_STEPS,), **PERSIST)
            st.space("small")
            st.toggle(t("conv.flip"), key=K.FLIP, on_change=on_setting, args=(K.CONV_STEPS,), **PERSIST)
        st.caption(t("conv.flip_note"))
        with st.container(horizontal=True, gap="small"):
            st.button(t("conv.btn_random"), icon=":material/casino:", on_click=on_conv_random, key="conv.b_random")
            st.button(t("conv.btn_reset"), icon=":material/restart_alt:", on_click=on_conv_reset, key="conv.b_reset")
            st.button(t("conv.btn_rgb"), icon=":material/palette:", on_click=on_conv_rgb_example, key="conv.b_rgb",
                      help=t("conv.btn_rgb_help"))

    with st.expander(t("conv.edit_numbers"), icon=":material/edit:"):
        st.caption(t("conv.edit_intro"))
        matrix_editors(K.INPUT, K.H, K.W, conv.MAX_INPUT_SIDE, K.CONV_STEPS, "conv.edit_input", True)
        matrix_editors(K.KERNEL, K.KH, K.KW, conv.MAX_KERNEL_SIDE, K.CONV_STEPS, "conv.edit_kernel", True)

    res = compute_conv(ss[K.INPUT], ss[K.KERNEL], float(ss[K.BIAS]), int(ss[K.STRIDE]),
                       int(ss[K.PADDING]), int(ss[K.DILATION]), bool(ss[K.FLIP]))
    steps_and_code(res, "conv", K.CONV_STEPS, "conv.steps_intro", draw_conv_step, conv.conv_code)


# =========================================================================== section: pooling

@st.cache_data(max_entries=64, show_spinner=False)
def compute_pool(x: np.ndarray, k: int, stride: int, padding: int, mode: str) -> conv.PoolResult:
    return conv.pool_steps(x, k, stride, padding, mode)


def draw_pool_step(res: conv.PoolResult, i: int, jump: Callable[[], None]) -> None:
    step = res.steps[i]
    ho, wo = res.out_shape
    st.markdown(t("conv.step_title", i=i + 1, n=len(res.steps), r=step.row + 1, c=step.col + 1,
                  r0=step.rows[0] + 1, r1=step.rows[-1] + 1, c0=step.cols[0] + 1, c1=step.cols[-1] + 1))
    out = output_figure(res.output[step.channel], i, (step.row, step.col), signed=bool(res.output.min() < 0),
                        title=t("conv.fig_output", ho=ho, wo=wo), t=t)
    _figure_and_output(pool_figure(res, step, t), out, K.POOL_STEPS, wo, len(res.steps), jump)
    with st.container(border=True, key="conv-pool-sum"):
        result = conv.fmt_sum(step.result)
        formula = step.formula(res.mode).removesuffix(f"= {result}") + f"= **{result}**"
        st.markdown(t("conv.pool_line", r=step.row + 1, c=step.col + 1, formula=formula))
        if res.padding:
            st.caption(t("conv.pool_pad_max" if res.mode == "max" else "conv.pool_pad_avg"))


def pool_section() -> None:
    st.markdown(t("conv.pool_intro"))
    with st.container(border=True):
        c1, c2, c3 = st.columns([1.4, 1.6, 1.1], gap="medium")
        with c1:
            st.segmented_control(t("conv.pool_mode"), options=list(conv.POOL_MODES), key=K.POOL_MODE,
                                 required=True, format_func=option_labels("conv.pool_"),
                                 on_change=on_setting, args=(K.POOL_STEPS,), **PERSIST)
            a, b = st.columns(2)
            a.number_input(t("conv.rows"), 1, conv.MAX_INPUT_SIDE, step=1, key=K.POOL_H,
                           on_change=on_size, args=(K.POOL_X, K.POOL_H, K.POOL_W, K.POOL_STEPS),
                           **PERSIST)
            b.number_input(t("conv.cols"), 1, conv.MAX_INPUT_SIDE, step=1, key=K.POOL_W,
                           on_change=on_size, args=(K.POOL_X, K.POOL_H, K.POOL_W, K.POOL_STEPS),
                           **PERSIST)
        with c2:
            st.segmented_control(t("conv.pool_k"), options=[1, 2, 3, 4], key=K.POOL_K, required=True,
                                 on_change=on_pool_kernel, **PERSIST)
            st.segmented_control(t("conv.stride"), options=[1, 2, 3, 4], key=K.POOL_STRIDE, required=True,
                                 on_change=on_setting, args=(K.POOL_STEPS,), **PERSIST)
            max_p = conv.max_pool_padding(int(ss[K.POOL_K]))
            if ss[K.POOL_PADDING] > max_p:
                ss[K.POOL_PADDING] = max_p
            st.segmented_control(t("conv.padding"), options=list(range(max_p + 1)), key=K.POOL_PADDING,
                                 required=True, help=t("conv.pool_padding_help"), on_change=on_setting,
                                 args=(K.POOL_STEPS,), **PERSIST)
        with c3:
            st.button(t("conv.btn_random"), icon=":material/casino:", on_click=on_pool_random,
                      key="conv.pool.b_random", width="stretch")
            st.button(t("conv.btn_reset"), icon=":material/restart_alt:", on_click=on_pool_reset,
                      key="conv.pool.b_reset", width="stretch")
    with st.expander(t("conv.edit_numbers"), icon=":material/edit:"):
        st.caption(t("conv.edit_intro"))
        matrix_editors(K.POOL_X, K.POOL_H, K.POOL_W, conv.MAX_INPUT_SIDE, K.POOL_STEPS,
                       "conv.edit_input", False)

    res = compute_pool(ss[K.POOL_X], int(ss[K.POOL_K]), int(ss[K.POOL_STRIDE]),
                       int(ss[K.POOL_PADDING]), ss[K.POOL_MODE])
    steps_and_code(res, "pool", K.POOL_STEPS, "conv.pool_steps_intro", draw_pool_step, conv.pool_code)


# =========================================================================== section: images

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


# =========================================================================== section: ideas

def ideas_section() -> None:
    for key in ("feature", "receptive", "shared", "padding", "stride", "pooling", "channels"):
        st.markdown(f"#### {t(f'conv.idea_{key}_title')}")
        st.markdown(t(f"conv.idea_{key}"))


# =========================================================================== page

init_state()
# Typed grids line up in a fixed-width font (format_matrix aligns the columns with spaces).
st.html('<style>[class*="st-key-conv-"][class*="_text-"] textarea, .st-key-conv-img-custom textarea '
        '{font-family: "Source Code Pro", ui-monospace, monospace; font-size: 0.95rem;}</style>')
st.title(t("conv.title"), anchor=False)
st.caption(t("conv.subtitle"))

TAB_NAMES = ("steps", "pool", "images", "ideas")
SECTIONS = {"steps": conv_section, "pool": pool_section, "images": images_section, "ideas": ideas_section}
tab_labels = [t(f"conv.tab_{n}") for n in TAB_NAMES]
# The tab remembers its label; after a language switch, map the old label to the new one.
if ss.get(K.TAB) not in tab_labels:
    ss[K.TAB] = tab_labels[ss.get(K.TAB_INDEX, 0)]
tabs = st.tabs(tab_labels, key=K.TAB, on_change="rerun")
ss[K.TAB_INDEX] = tab_labels.index(ss[K.TAB]) if ss.get(K.TAB) in tab_labels else 0
for tab, name in zip(tabs, TAB_NAMES):
    if tab.open:  # only the open tab runs (lazy tabs)
        with tab:
            SECTIONS[name]()
