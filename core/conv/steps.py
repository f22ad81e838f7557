"""Convolution and pooling explained one output cell at a time (the *step engine*), the output-size
formula, and the fast path that gives the same result in one call.

`conv_steps` / `pool_steps` are explicit loops that record, for every output cell, where the
window sits on the padded input, the element-wise products per channel, each channel's partial
sum, the bias and the total: what the page animates. The tests check them against
`torch.nn.functional.conv2d` / `max_pool2d` / `avg_pool2d`, and `conv2d` (one `F.conv2d` call)
against them."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from core.conv.matrices import fmt_sum, fmt_term


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

def as_input(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or min(x.shape) < 1:
        raise ValueError(f"input must be C×H×W (or H×W), got shape {x.shape}")
    return x


def as_weight(w, channels: int) -> np.ndarray:
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


def as_bias(bias, out_channels: int) -> np.ndarray:
    if bias is None:
        return np.zeros(out_channels)
    b = np.asarray(bias, dtype=np.float64).reshape(-1)
    if b.size == 1:
        return np.full(out_channels, float(b[0]))
    if b.size != out_channels:
        raise ValueError(f"bias has {b.size} values for {out_channels} output channels")
    return b


def check_hyper(stride: int, padding: int, dilation: int) -> None:
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
    check_hyper(stride, padding, dilation)
    x = as_input(x)
    w = as_weight(weight, x.shape[0])
    b = as_bias(bias, w.shape[0])
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
    check_hyper(stride, padding, dilation)
    x = as_input(x)
    w = as_weight(weight, x.shape[0])
    b = as_bias(bias, w.shape[0])
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
    check_hyper(stride, padding, 1)
    if kernel < 1:
        raise ValueError("kernel must be ≥ 1")
    if padding > max_pool_padding(kernel):
        raise ValueError(f"padding {padding} is more than half the kernel size {kernel}")
    x = as_input(x)
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
