"""Convolution and pooling, explained one output cell at a time; kernels on real images.

Plain NumPy and PyTorch, no Streamlit. Two engines live here:

* the *step engine* (`conv_steps`, `pool_steps`): explicit loops that record, for every output
  cell, where the window sits on the padded input, the element-wise products per channel, each
  channel's partial sum, the bias and the total. It is what the page animates, and the tests check
  it against `torch.nn.functional.conv2d` / `max_pool2d` / `avg_pool2d`.
* the *fast paths*: `conv2d` (one `F.conv2d` call, same result as the step engine) and
  `filter_image` for photos (OpenCV's filter2D with the same zero padding, stride and
  cross-correlation sums; a 1024×1024 colour photo in a few tens of milliseconds). Tests check
  both against the step engine.

Everything else the Convolution page needs is here too: the output-size formula, kernel presets,
parsing of the numbers a user types, and the PyTorch snippet that reproduces the page.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Mapping, Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F

# --------------------------------------------------------------------------- examples and limits

#: The original material's example: 5×5 input, 3×3 kernel, stride 1, no padding.
EXAMPLE_INPUT = [[1, 2, 0, 3, 1], [0, 1, 2, 3, 1], [1, 2, 1, 0, 0], [5, 2, 3, 1, 1], [2, 1, 0, 1, 1]]
EXAMPLE_KERNEL = [[1, 2, 1], [0, 1, 0], [2, 1, 0]]
EXAMPLE_OUTPUT = [[10, 12, 12], [18, 16, 16], [13, 9, 3]]

#: A colour example: a 3×5×5 input (three channels, like R, G, B) and one 3×3×3 kernel with a
#: bias, slid with stride 2 over the input padded by 1 (the layout of the classic CS231n demo).
EXAMPLE_RGB_INPUT = [
    [[2, 0, 1, 1, 0], [0, 2, 2, 1, 2], [1, 0, 0, 2, 1], [2, 1, 0, 0, 2], [0, 1, 2, 2, 1]],
    [[1, 1, 0, 2, 2], [2, 0, 1, 0, 1], [0, 2, 2, 1, 0], [1, 0, 1, 2, 2], [2, 2, 0, 1, 0]],
    [[0, 2, 1, 0, 1], [1, 1, 0, 2, 0], [2, 0, 1, 1, 2], [0, 2, 2, 0, 1], [1, 0, 1, 2, 2]],
]
EXAMPLE_RGB_KERNEL = [
    [[1, 0, -1], [0, 1, 0], [-1, 1, 1]],
    [[0, 1, 0], [1, -1, 1], [0, -1, 0]],
    [[-1, 0, 1], [1, 0, 0], [0, 1, -1]],
]
EXAMPLE_RGB_BIAS = 1
EXAMPLE_RGB_SETTINGS = {"stride": 2, "padding": 1, "dilation": 1}

#: Max pooling's textbook example (2×2 windows, stride 2): → [[6, 8], [3, 4]].
EXAMPLE_POOL_INPUT = [[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]]

MAX_INPUT_SIDE = 12
MAX_KERNEL_SIDE = 7
MAX_CHANNELS = 3
STRIDES = (1, 2, 3)
PADDINGS = (0, 1, 2, 3)
DILATIONS = (1, 2, 3)


# --------------------------------------------------------------------------- numbers as text

def fmt_num(value: float, digits: int = 3) -> str:
    """A number as a person writes it: 3, -1.5, 0.111 (at most `digits` decimals, no "-0")."""
    v = float(value)
    if math.isinf(v):
        return "−∞" if v < 0 else "∞"
    if math.isnan(v):
        return "?"
    r = round(v, digits)
    if r == 0:
        return "0"
    if r == int(r) and abs(r) < 1e15:
        return str(int(r))
    return f"{r:.{digits}f}".rstrip("0").rstrip(".")


def fmt_term(value: float, digits: int = 3) -> str:
    """A factor inside a formula: negative numbers get a typographic minus and parentheses."""
    s = fmt_num(value, digits)
    return f"({s.replace('-', '−')})" if s.startswith("-") else s.replace("-", "−")


def fmt_sum(value: float, digits: int = 3) -> str:
    """A result inside a formula (typographic minus, no parentheses)."""
    return fmt_num(value, digits).replace("-", "−")


class MatrixError(ValueError):
    """Text that is not a grid of numbers. `code` and `details` let the page translate it.

    Codes: "empty", "not_number" (row, col, token), "empty_entry" (row, col),
    "ragged" (row, count, expected), "too_big" (rows, cols, max_rows, max_cols).
    Rows and columns in `details` count from 1, as a person does.
    """

    _MESSAGES = {
        "empty": "Type at least one number.",
        "not_number": "Row {row}, entry {col}: “{token}” is not a number.",
        "empty_entry": "Row {row}, entry {col} is empty.",
        "ragged": "Row {row} has {count} numbers but row 1 has {expected}; every row needs the same count.",
        "too_big": "That grid is {rows}×{cols}; at most {max_rows}×{max_cols} is allowed here.",
    }

    def __init__(self, code: str, **details):
        self.code = code
        self.details = details
        super().__init__(self._MESSAGES[code].format(**details))


_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_FRACTION = re.compile(r"^[+-]?\d+\s*/\s*\d+$")


def parse_number(token: str) -> float:
    """A finite number from text: 3, -1.5, .5, 2e-3, 1/9 (fractions help with kernels)."""
    s = token.strip().replace("−", "-").replace("＋", "+").replace("，", ",")
    if _NUMBER.match(s):
        v = float(s)
        if math.isfinite(v):
            return v
    elif _FRACTION.match(s):
        num, den = (int(p) for p in s.split("/"))
        if den != 0:
            return num / den
    raise ValueError(token)


def parse_matrix(text: str, max_rows: int = MAX_INPUT_SIDE, max_cols: int = MAX_INPUT_SIDE) -> np.ndarray:
    """A 2-D float array from text: one row per line, numbers split by spaces or commas.

    A pasted Python/NumPy list such as ``[[1, 2], [3, 4]]`` works too. Raises MatrixError.
    """
    s = text.replace("，", ",").replace("；", ";").replace("\t", " ")
    s = re.sub(r"\]\s*[,;]?\s*\[", "\n", s)
    s = s.replace("[", " ").replace("]", " ").replace(";", "\n")
    rows: list[list[float]] = []
    for line in s.splitlines():
        line = line.strip().rstrip(",").strip()
        if not line:
            continue
        r = len(rows) + 1
        if "," in line:
            tokens = [tok.strip() for tok in line.split(",")]
        else:
            tokens = line.split()
        values = []
        for c, tok in enumerate(tokens, start=1):
            if not tok:
                raise MatrixError("empty_entry", row=r, col=c)
            # "1 2" inside a comma-separated row: two numbers written with a space
            parts = tok.split() if " " in tok and not _FRACTION.match(tok) else [tok]
            for part in parts:
                try:
                    values.append(parse_number(part))
                except ValueError:
                    raise MatrixError("not_number", row=r, col=len(values) + 1, token=part) from None
        if rows and len(values) != len(rows[0]):
            raise MatrixError("ragged", row=r, count=len(values), expected=len(rows[0]))
        rows.append(values)
    if not rows:
        raise MatrixError("empty")
    if len(rows) > max_rows or len(rows[0]) > max_cols:
        raise MatrixError("too_big", rows=len(rows), cols=len(rows[0]), max_rows=max_rows, max_cols=max_cols)
    return np.array(rows, dtype=np.float64)


def format_matrix(m: np.ndarray, digits: int = 4) -> str:
    """The text `parse_matrix` reads back: one row per line, columns aligned."""
    m = np.atleast_2d(np.asarray(m, dtype=np.float64))
    cells = [[fmt_num(v, digits) for v in row] for row in m]
    widths = [max(len(row[j]) for row in cells) for j in range(m.shape[1])]
    return "\n".join("  ".join(c.rjust(wd) for c, wd in zip(row, widths)) for row in cells)


def resize_matrix(m: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Crop or extend (with zeros) the last two axes to rows×cols, keeping the top-left part."""
    m = np.asarray(m, dtype=np.float64)
    out = np.zeros(m.shape[:-2] + (rows, cols), dtype=np.float64)
    r, c = min(rows, m.shape[-2]), min(cols, m.shape[-1])
    out[..., :r, :c] = m[..., :r, :c]
    return out


def random_ints(rng: np.random.Generator, shape: Sequence[int], low: int, high: int) -> np.ndarray:
    """Whole numbers in [low, high] (easy to add up in one's head) as floats."""
    return rng.integers(low, high + 1, size=tuple(shape)).astype(np.float64)


# --------------------------------------------------------------------------- output size

@dataclass(frozen=True)
class OutputSize:
    """One axis of ⌊(N + 2P − D·(K−1) − 1) / S⌋ + 1, with every number of the formula."""

    n: int          # input size along this axis
    k: int          # kernel size
    stride: int
    padding: int
    dilation: int

    @property
    def padded(self) -> int:
        """N + 2P: the input's size once padded."""
        return self.n + 2 * self.padding

    @property
    def span(self) -> int:
        """D·(K−1) + 1: how many input cells one window covers (its receptive field)."""
        return self.dilation * (self.k - 1) + 1

    @property
    def numerator(self) -> int:
        """N + 2P − D·(K−1) − 1: how far the window can travel."""
        return self.padded - self.span

    @property
    def size(self) -> int:
        """Output cells along this axis; 0 when the window does not fit in the padded input."""
        if self.numerator < 0:
            return 0
        return self.numerator // self.stride + 1

    @property
    def unused(self) -> int:
        """Input cells at the far end that no window reaches (stride does not divide evenly)."""
        return self.numerator % self.stride if self.numerator >= 0 else 0


def output_size(n: int, k: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """⌊(n + 2·padding − dilation·(k−1) − 1) / stride⌋ + 1, or 0 when nothing fits."""
    return OutputSize(n, k, stride, padding, dilation).size


# --------------------------------------------------------------------------- step engine: convolution

def _as_input(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or min(x.shape) < 1:
        raise ValueError(f"input must be C×H×W (or H×W), got shape {x.shape}")
    return x


def _as_weight(w, channels: int) -> np.ndarray:
    w = np.asarray(w, dtype=np.float64)
    if w.ndim == 2:
        w = w[None]
    if w.ndim == 3:
        w = w[None]
    if w.ndim != 4 or min(w.shape) < 1:
        raise ValueError(f"kernel must be O×C×kH×kW (or C×kH×kW, kH×kW), got shape {w.shape}")
    if w.shape[1] != channels:
        raise ValueError(f"kernel has {w.shape[1]} channels but the input has {channels}")
    return w


def _as_bias(bias, out_channels: int) -> np.ndarray:
    if bias is None:
        return np.zeros(out_channels)
    b = np.asarray(bias, dtype=np.float64).reshape(-1)
    if b.size == 1:
        return np.full(out_channels, float(b[0]))
    if b.size != out_channels:
        raise ValueError(f"bias has {b.size} values for {out_channels} output channels")
    return b


def _check_hyper(stride: int, padding: int, dilation: int) -> None:
    if stride < 1 or dilation < 1 or padding < 0:
        raise ValueError("stride and dilation must be ≥ 1 and padding ≥ 0")


def pad_input(x: np.ndarray, padding: int, value: float = 0.0) -> np.ndarray:
    """C×H×W → C×(H+2P)×(W+2P), the border filled with `value`."""
    p = padding
    out = np.full((x.shape[0], x.shape[1] + 2 * p, x.shape[2] + 2 * p), value, dtype=np.float64)
    out[:, p:p + x.shape[1], p:p + x.shape[2]] = x
    return out


def padding_mask(h: int, w: int, padding: int) -> np.ndarray:
    """True on the padded border of an (H+2P)×(W+2P) grid."""
    mask = np.ones((h + 2 * padding, w + 2 * padding), dtype=bool)
    mask[padding:padding + h, padding:padding + w] = False
    return mask


class _StepGrid:
    """What convolution and pooling results share: steps laid out channel by row by column."""

    output: np.ndarray
    steps: list

    @property
    def out_shape(self) -> tuple[int, int]:
        return self.output.shape[1], self.output.shape[2]

    @property
    def empty(self) -> bool:
        return not self.steps

    def step_at(self, row: int, col: int, channel: int = 0) -> int:
        """The index of the step that fills output cell (row, col) of `channel`."""
        ho, wo = self.out_shape
        return (channel * ho + row) * wo + col


@dataclass(frozen=True, eq=False)
class ConvStep:
    """How one output cell is made. Indices count from 0; `rows`/`cols` are on the padded input."""

    index: int
    out_channel: int
    row: int
    col: int
    rows: tuple[int, ...]   # padded-input rows the kernel taps touch (one per kernel row)
    cols: tuple[int, ...]   # padded-input columns the taps touch (one per kernel column)
    window: np.ndarray      # C×kH×kW: the input values under the taps (padding included)
    kernel: np.ndarray      # C×kH×kW: the kernel as applied (flipped for true convolution)
    products: np.ndarray    # C×kH×kW: window × kernel, element by element
    partial_sums: np.ndarray  # C: the sum of each channel's products
    bias: float
    total: float            # partial sums added up, plus the bias

    @property
    def top(self) -> int:
        return self.rows[0]

    @property
    def left(self) -> int:
        return self.cols[0]

    def channel_formula(self, c: int, digits: int = 3) -> str:
        """'1×1 + 2×2 + … = 10' for channel c (input value × kernel weight, row by row)."""
        terms = [
            f"{fmt_term(a, digits)}×{fmt_term(b, digits)}"
            for a, b in zip(self.window[c].ravel(), self.kernel[c].ravel())
        ]
        return " + ".join(terms) + f" = {fmt_sum(self.partial_sums[c], digits)}"


@dataclass(frozen=True, eq=False)
class ConvResult(_StepGrid):
    """Everything the page shows for one convolution: settings, padded input, every step."""

    input: np.ndarray        # C×H×W as given
    weight: np.ndarray       # O×C×kH×kW as given
    kernel: np.ndarray       # O×C×kH×kW as applied (flipped when `flip`)
    bias: np.ndarray         # O
    stride: int
    padding: int
    dilation: int
    flip: bool
    padded: np.ndarray       # C×(H+2P)×(W+2P)
    output: np.ndarray       # O×Ho×Wo (empty when the window never fits)
    steps: list[ConvStep] = field(repr=False)

    @property
    def size_h(self) -> OutputSize:
        return OutputSize(self.input.shape[1], self.weight.shape[2], self.stride, self.padding, self.dilation)

    @property
    def size_w(self) -> OutputSize:
        return OutputSize(self.input.shape[2], self.weight.shape[3], self.stride, self.padding, self.dilation)



def conv_steps(x, weight, bias=None, stride: int = 1, padding: int = 0, dilation: int = 1,
               flip: bool = False) -> ConvResult:
    """Convolve step by step, recording how every output cell is made.

    x: C×H×W (or H×W); weight: O×C×kH×kW (or C×kH×kW, kH×kW); bias: None, a number or O numbers.
    Zero padding, like `F.conv2d`. `flip=False` is cross-correlation (what deep-learning libraries
    call convolution); `flip=True` is true convolution: the kernel is turned 180° first.
    The output equals `F.conv2d(x, weight', bias, stride, padding, dilation)` where weight' is the
    (flipped) kernel; steps are ordered by output channel, then row, then column.
    """
    _check_hyper(stride, padding, dilation)
    x = _as_input(x)
    w = _as_weight(weight, x.shape[0])
    b = _as_bias(bias, w.shape[0])
    kernel = w[:, :, ::-1, ::-1].copy() if flip else w.copy()
    o_ch, c_ch, kh, kw = w.shape
    padded = pad_input(x, padding)
    ho = output_size(x.shape[1], kh, stride, padding, dilation)
    wo = output_size(x.shape[2], kw, stride, padding, dilation)
    output = np.zeros((o_ch, ho, wo))
    steps: list[ConvStep] = []
    for o in range(o_ch):
        for i in range(ho):
            rows = tuple(i * stride + dilation * a for a in range(kh))
            for j in range(wo):
                cols = tuple(j * stride + dilation * a for a in range(kw))
                window = padded[:, rows, :][:, :, cols]  # C×kH×kW, the dilated taps
                products = np.empty_like(window)
                partial = np.zeros(c_ch)
                for c in range(c_ch):
                    for a in range(kh):
                        for bb in range(kw):
                            products[c, a, bb] = window[c, a, bb] * kernel[o, c, a, bb]
                            partial[c] += products[c, a, bb]
                total = float(partial.sum() + b[o])
                output[o, i, j] = total
                steps.append(ConvStep(
                    index=len(steps), out_channel=o, row=i, col=j, rows=rows, cols=cols,
                    window=window, kernel=kernel[o], products=products, partial_sums=partial,
                    bias=float(b[o]), total=total,
                ))
    return ConvResult(
        input=x, weight=w, kernel=kernel, bias=b, stride=stride, padding=padding, dilation=dilation,
        flip=flip, padded=padded, output=output, steps=steps,
    )


# --------------------------------------------------------------------------- fast path

def conv2d(x, weight, bias=None, stride: int = 1, padding: int = 0, dilation: int = 1,
           flip: bool = False, dtype: torch.dtype = torch.float64) -> np.ndarray:
    """The same result as `conv_steps(...).output`, computed in one `F.conv2d` call."""
    _check_hyper(stride, padding, dilation)
    x = _as_input(x)
    w = _as_weight(weight, x.shape[0])
    b = _as_bias(bias, w.shape[0])
    if output_size(x.shape[1], w.shape[2], stride, padding, dilation) == 0 or \
            output_size(x.shape[2], w.shape[3], stride, padding, dilation) == 0:
        ho = output_size(x.shape[1], w.shape[2], stride, padding, dilation)
        wo = output_size(x.shape[2], w.shape[3], stride, padding, dilation)
        return np.zeros((w.shape[0], ho, wo))
    if flip:
        w = w[:, :, ::-1, ::-1].copy()
    with torch.inference_mode():
        out = F.conv2d(
            torch.from_numpy(x).to(dtype)[None], torch.from_numpy(w).to(dtype),
            torch.from_numpy(b).to(dtype), stride=stride, padding=padding, dilation=dilation,
        )
    return out[0].double().numpy()


# --------------------------------------------------------------------------- step engine: pooling

POOL_MODES = ("max", "avg")


@dataclass(frozen=True, eq=False)
class PoolStep:
    """How one pooled cell is made. Indices count from 0; `rows`/`cols` are on the padded input."""

    index: int
    channel: int
    row: int
    col: int
    rows: tuple[int, ...]
    cols: tuple[int, ...]
    window: np.ndarray       # kH×kW values (padding: −∞ for max, 0 for average)
    result: float
    argmax: tuple[int, int] | None  # position of the maximum inside the window (max pooling)
    divisor: int             # how many cells the average divides by (kH·kW, padding counted)

    def formula(self, mode: str, digits: int = 3) -> str:
        """'max(1, 1, 5, 6) = 6' or '(1 + 1 + 5 + 6) / 4 = 3.25'."""
        values = [fmt_sum(v, digits) for v in self.window.ravel()]
        if mode == "max":
            return f"max({', '.join(values)}) = {fmt_sum(self.result, digits)}"
        terms = " + ".join(fmt_term(v, digits) for v in self.window.ravel())
        return f"({terms}) / {self.divisor} = {fmt_sum(self.result, digits)}"


@dataclass(frozen=True, eq=False)
class PoolResult(_StepGrid):
    input: np.ndarray        # C×H×W
    mode: str
    kernel: int
    stride: int
    padding: int
    padded: np.ndarray       # C×(H+2P)×(W+2P); the border holds −∞ (max) or 0 (average)
    output: np.ndarray       # C×Ho×Wo
    steps: list[PoolStep] = field(repr=False)

    @property
    def size_h(self) -> OutputSize:
        return OutputSize(self.input.shape[1], self.kernel, self.stride, self.padding, 1)

    @property
    def size_w(self) -> OutputSize:
        return OutputSize(self.input.shape[2], self.kernel, self.stride, self.padding, 1)



def max_pool_padding(kernel: int) -> int:
    """The most padding PyTorch's pooling accepts for a kernel: half of it, rounded down."""
    return kernel // 2


def pool_steps(x, kernel: int, stride: int | None = None, padding: int = 0, mode: str = "max") -> PoolResult:
    """Max or average pooling step by step, each channel on its own (like PyTorch's defaults).

    Max pooling pads with −∞ so padding never wins; average pooling pads with zeros that count in
    the average (`count_include_pad=True`). Padding may be at most kernel // 2, as in PyTorch.
    """
    if mode not in POOL_MODES:
        raise ValueError(f"mode must be one of {POOL_MODES}")
    stride = kernel if stride is None else stride
    _check_hyper(stride, padding, 1)
    if kernel < 1:
        raise ValueError("kernel must be ≥ 1")
    if padding > max_pool_padding(kernel):
        raise ValueError(f"padding {padding} is more than half the kernel size {kernel}")
    x = _as_input(x)
    pad_value = -math.inf if mode == "max" else 0.0
    padded = pad_input(x, padding, pad_value)
    ho = output_size(x.shape[1], kernel, stride, padding)
    wo = output_size(x.shape[2], kernel, stride, padding)
    output = np.zeros((x.shape[0], ho, wo))
    steps: list[PoolStep] = []
    divisor = kernel * kernel
    for c in range(x.shape[0]):
        for i in range(ho):
            rows = tuple(range(i * stride, i * stride + kernel))
            for j in range(wo):
                cols = tuple(range(j * stride, j * stride + kernel))
                window = padded[c][np.ix_(rows, cols)]
                if mode == "max":
                    best, argmax = -math.inf, (0, 0)
                    for a in range(kernel):
                        for bb in range(kernel):
                            if window[a, bb] > best:
                                best, argmax = window[a, bb], (a, bb)
                    result = float(best)
                else:
                    total = 0.0
                    for v in window.ravel():
                        total += v
                    result, argmax = total / divisor, None
                output[c, i, j] = result
                steps.append(PoolStep(
                    index=len(steps), channel=c, row=i, col=j, rows=rows, cols=cols,
                    window=window, result=result, argmax=argmax, divisor=divisor,
                ))
    return PoolResult(input=x, mode=mode, kernel=kernel, stride=stride, padding=padding,
                      padded=padded, output=output, steps=steps)


# --------------------------------------------------------------------------- kernels for images

@dataclass(frozen=True)
class KernelPreset:
    """A named kernel written as whole numbers over a divisor, the way textbooks print them."""

    name: str
    weights: tuple[tuple[int, ...], ...]
    divisor: int = 1

    @property
    def kernel(self) -> np.ndarray:
        return np.array(self.weights, dtype=np.float64) / self.divisor


def _binomial(n: int) -> list[int]:
    return [math.comb(n - 1, i) for i in range(n)]


_G5 = _binomial(5)
KERNEL_PRESETS: dict[str, KernelPreset] = {p.name: p for p in [
    KernelPreset("identity", ((0, 0, 0), (0, 1, 0), (0, 0, 0))),
    KernelPreset("box_blur", ((1, 1, 1), (1, 1, 1), (1, 1, 1)), 9),
    KernelPreset("gaussian", tuple(tuple(a * b for b in _G5) for a in _G5), 256),
    KernelPreset("sharpen", ((0, -1, 0), (-1, 5, -1), (0, -1, 0))),
    KernelPreset("laplacian", ((0, 1, 0), (1, -4, 1), (0, 1, 0))),
    KernelPreset("sobel_x", ((-1, 0, 1), (-2, 0, 2), (-1, 0, 1))),
    KernelPreset("sobel_y", ((-1, -2, -1), (0, 0, 0), (1, 2, 1))),
    KernelPreset("prewitt_x", ((-1, 0, 1), (-1, 0, 1), (-1, 0, 1))),
    KernelPreset("prewitt_y", ((-1, -1, -1), (0, 0, 0), (1, 1, 1))),
    KernelPreset("emboss", ((-2, -1, 0), (-1, 1, 1), (0, 1, 2))),
    KernelPreset("outline", ((-1, -1, -1), (-1, 8, -1), (-1, -1, -1))),
]}

DISPLAY_MODES = ("auto", "clip", "abs", "stretch")


def kernel_fraction_text(kernel: np.ndarray) -> tuple[str, np.ndarray]:
    """('1/9', integer grid) when the kernel is whole numbers over one divisor, else ('', kernel)."""
    k = np.asarray(kernel, dtype=np.float64)
    fracs = [Fraction(float(v)).limit_denominator(1024) for v in k.ravel()]
    if any(abs(float(f) - v) > 1e-9 for f, v in zip(fracs, k.ravel())):
        return "", k
    den = math.lcm(*(f.denominator for f in fracs))
    if den == 1:
        return "", k
    return f"1/{den}", (k * den).round()


def normalize_kernel(kernel: np.ndarray) -> tuple[np.ndarray, bool]:
    """The kernel divided by its sum so it keeps the brightness; (kernel, False) if the sum is 0."""
    k = np.asarray(kernel, dtype=np.float64)
    s = float(k.sum())
    if abs(s) < 1e-12:
        return k, False
    return k / s, True


def auto_display_mode(kernel: np.ndarray) -> str:
    """'abs' for edge detectors (weights summing to 0: the answer is ± around 0), else 'clip'."""
    return "abs" if abs(float(np.sum(kernel))) < 1e-9 else "clip"


def to_gray(img: np.ndarray) -> np.ndarray:
    """RGB uint8 → float32 luminance (ITU-R BT.601 weights, as OpenCV and PIL)."""
    rgb = img.astype(np.float32)
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def filter_image(img: np.ndarray, kernel, stride: int = 1, padding: int = 0, gray: bool = False,
                 flip: bool = False) -> np.ndarray:
    """Convolve a photo with one kH×kW kernel: every colour channel on its own (or the grey image).

    img: H×W×3 uint8 RGB (or one H×W plane, with gray=True). Returns float32 Ho×Wo×3 (or Ho×Wo
    for grey), not clipped: edge kernels give negative numbers. Zero padding, stride and output
    size as in the step engine, whose numbers it reproduces (tests check); OpenCV's filter2D does
    the sums, since a photo has a million windows: a 1024×1024 colour photo takes a few tens of
    milliseconds.
    """
    k = np.asarray(kernel, dtype=np.float32)
    if k.ndim != 2:
        raise ValueError("the image kernel must be a single kH×kW grid")
    _check_hyper(stride, padding, 1)
    if flip:
        k = k[::-1, ::-1].copy()
    if gray:  # an H×W array is already one plane (a colour channel or a greyscale photo)
        src = img.astype(np.float32) if img.ndim == 2 else to_gray(img)
    else:
        src = img.astype(np.float32)
    h, w = src.shape[:2]
    kh, kw = k.shape
    ho, wo = output_size(h, kh, stride, padding), output_size(w, kw, stride, padding)
    if ho == 0 or wo == 0:
        return np.zeros((ho, wo) if gray else (ho, wo, 3), dtype=np.float32)
    if padding:
        src = cv2.copyMakeBorder(src, padding, padding, padding, padding, cv2.BORDER_CONSTANT, value=0)
    # anchor (0, 0): out[y, x] = Σ k[a, b] · src[y + a, x + b], the same sum as the step engine
    # (cross-correlation); only windows that fit inside the padded image are kept.
    out = cv2.filter2D(src, cv2.CV_32F, k, anchor=(0, 0), borderType=cv2.BORDER_CONSTANT)
    return np.ascontiguousarray(out[: (ho - 1) * stride + 1: stride, : (wo - 1) * stride + 1: stride])


CHANNEL_NAMES = ("R", "G", "B")


@dataclass(frozen=True)
class ChannelFilter:
    """A colour photo filtered one colour channel at a time, every stage kept for the page to show.

    inputs: 3×H×W, the photo's red, green and blue channels (each a greyscale picture).
    raw: 3×Ho×Wo float32, each channel convolved with the same kernel on its own (unclipped).
    shown: 3×Ho×Wo uint8, `raw` made a picture with ONE mapping for all three channels (as the
    colour result is), so stacking them gives exactly `recombined`.
    recombined: Ho×Wo×3 uint8, the three filtered channels stacked back into a colour picture.
    The 3×… arrays are views of the H×W×3 ones (no copies of a large photo).
    """

    inputs: np.ndarray
    raw: np.ndarray
    shown: np.ndarray
    recombined: np.ndarray
    mode: str

    def input_range(self, c: int) -> tuple[int, int]:
        """Smallest and largest value of input channel c (0–255 at most)."""
        a = self.inputs[c]
        return (int(a.min()), int(a.max())) if a.size else (0, 0)

    def raw_range(self, c: int) -> tuple[float, float]:
        """Smallest and largest filtered value of channel c, before it is made a picture."""
        a = self.raw[c]
        return (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)


def split_channels(img: np.ndarray) -> np.ndarray:
    """H×W×3 RGB → 3×H×W (a view): channel c is the photo's red (0), green (1) or blue (2) values."""
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError("a colour photo is an H×W×3 array")
    return np.moveaxis(img, -1, 0)


def recombine_channels(planes: np.ndarray) -> np.ndarray:
    """3×H×W → H×W×3: the inverse of `split_channels`."""
    return np.ascontiguousarray(np.moveaxis(np.asarray(planes), 0, -1))


def tint_channel(plane: np.ndarray, channel: int) -> np.ndarray:
    """One channel (H×W uint8) as an RGB picture in its own colour: the red channel's values in
    the red slot and 0 in the others, so a learner sees which colour the numbers stand for."""
    out = np.zeros(plane.shape + (3,), dtype=np.uint8)
    out[..., channel] = plane
    return out


def filter_channels(img: np.ndarray, kernel, stride: int = 1, padding: int = 0, mode: str = "clip",
                    flip: bool = False) -> ChannelFilter:
    """`filter_image` on a colour photo, split into its steps: R, G and B each filtered on its own
    with the same kernel, shown with display `mode` (see `to_display`), stacked again.

    One filter2D call does the three channels (OpenCV filters each channel separately, the same
    numbers as three one-channel convolutions: the tests check each against F.conv2d), and one
    display mapping covers all three, as the colour picture gets (stretch uses the smallest and
    largest value of the three channels together)."""
    inputs = split_channels(img)
    raw = filter_image(img, kernel, stride, padding, flip=flip)
    shown = to_display(raw, mode)
    return ChannelFilter(inputs, split_channels(raw), split_channels(shown), shown, mode)


def to_display(result: np.ndarray, mode: str) -> np.ndarray:
    """A filter's raw numbers as a uint8 picture.

    clip: values outside 0–255 are cut (blur, sharpen); abs: |value| (edges show bright on black);
    stretch: the smallest value becomes black and the largest white.
    """
    r = np.asarray(result, dtype=np.float32)
    if mode == "abs":
        r = np.abs(r)
    elif mode == "stretch":
        # (min/max with initial=0 would count a 0 that is not there: 50…200 must map to 0…255)
        lo, hi = (float(r.min()), float(r.max())) if r.size else (0.0, 0.0)
        r = (r - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(r)
    elif mode != "clip":
        raise ValueError(f"unknown display mode {mode!r}")
    return np.clip(r + 0.5, 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- PyTorch code

CODE_COMMENTS_EN = {
    "input": "Input: a batch of 1 image with {c} channel(s) of {h}×{w}  (shape N×C×H×W)",
    "weight": "Kernel: {o} filter(s) looking at {c} channel(s), {kh}×{kw} each  (shape out×in×kH×kW)",
    "flip": "True convolution: turn the kernel 180° first (PyTorch's conv2d does not)",
    "functional": "The functional form",
    "layer": "The same as a layer, the way a CNN uses it",
    "check": "Both give the page's output grid",
    "pool_input": "Input: a batch of 1 image with {c} channel(s) of {h}×{w}  (shape N×C×H×W)",
    "pool_avg": "Average pooling counts padded zeros in the average (count_include_pad=True)",
    "pool_max": "Max pooling ignores padding (PyTorch pads with −∞)",
}


def _literal(a: np.ndarray, indent: int) -> str:
    """A nested Python list literal of floats, rows aligned, one row per line."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 1:
        return "[" + ", ".join(_py_num(v) for v in a) + "]"
    pad = " " * (indent + 1)
    inner = [_literal(sub, indent + 1) for sub in a]
    sep = ",\n" + pad if a.ndim == 2 else ",\n\n" + pad
    return "[" + sep.join(inner) + "]"


def _py_num(v: float) -> str:
    v = float(v)
    if v == int(v) and abs(v) < 1e15:
        return f"{int(v)}."
    return repr(v)


def conv_code(result_or_x, weight=None, bias=None, stride: int = 1, padding: int = 0,
              dilation: int = 1, flip: bool = False, comments: Mapping[str, str] | None = None) -> str:
    """A runnable Python snippet that reproduces a convolution with PyTorch.

    Pass a ConvResult, or the same arguments as `conv_steps`. The snippet leaves the output grid
    (O×Ho×Wo) in a variable named `out` and prints it.
    """
    if isinstance(result_or_x, ConvResult):
        r = result_or_x
        x, w, b = r.input, r.weight, r.bias
        stride, padding, dilation, flip = r.stride, r.padding, r.dilation, r.flip
    else:
        x = _as_input(result_or_x)
        w = _as_weight(weight, x.shape[0])
        b = _as_bias(bias, w.shape[0])
    cm = {**CODE_COMMENTS_EN, **(comments or {})}
    c, h, wd = x.shape
    o, _, kh, kw = w.shape
    lines = [
        "import torch",
        "import torch.nn.functional as F",
        "",
        "# " + cm["input"].format(c=c, h=h, w=wd),
        "x = torch.tensor(" + _literal(x[None], 17) + ")",
        "",
        "# " + cm["weight"].format(o=o, c=c, kh=kh, kw=kw),
        "weight = torch.tensor(" + _literal(w, 22) + ")",
        "bias = torch.tensor(" + _literal(b, 0) + ")",
    ]
    wname = "weight"
    if flip:
        lines += ["", "# " + cm["flip"], "weight_flipped = torch.flip(weight, dims=[2, 3])"]
        wname = "weight_flipped"
    args = f"stride={stride}, padding={padding}, dilation={dilation}"
    lines += [
        "",
        "# " + cm["functional"],
        f"out = F.conv2d(x, {wname}, bias, {args})[0]",
        "",
        "# " + cm["layer"],
        f"conv = torch.nn.Conv2d(in_channels={c}, out_channels={o}, kernel_size=({kh}, {kw}), {args})",
        "with torch.no_grad():",
        f"    conv.weight.copy_({wname})",
        "    conv.bias.copy_(bias)",
        "    out_layer = conv(x)[0]",
        "",
        "# " + cm["check"],
        "print(out)",
        "print(torch.allclose(out, out_layer))",
    ]
    return "\n".join(lines) + "\n"


def pool_code(result: PoolResult, comments: Mapping[str, str] | None = None) -> str:
    """A runnable snippet that reproduces a pooling result; leaves C×Ho×Wo in `out`."""
    cm = {**CODE_COMMENTS_EN, **(comments or {})}
    c, h, w = result.input.shape
    fn = "F.max_pool2d" if result.mode == "max" else "F.avg_pool2d"
    layer = "torch.nn.MaxPool2d" if result.mode == "max" else "torch.nn.AvgPool2d"
    args = f"kernel_size={result.kernel}, stride={result.stride}, padding={result.padding}"
    lines = [
        "import torch",
        "import torch.nn.functional as F",
        "",
        "# " + cm["pool_input"].format(c=c, h=h, w=w),
        "x = torch.tensor(" + _literal(result.input[None], 17) + ")",
        "",
        "# " + cm["pool_max" if result.mode == "max" else "pool_avg"],
        f"out = {fn}(x, {args})[0]",
        f"out_layer = {layer}({args})(x)[0]",
        "",
        "print(out)",
        "print(torch.equal(out, out_layer))",
    ]
    return "\n".join(lines) + "\n"
