"""The PyTorch snippet that reproduces what the Convolution page shows."""
from __future__ import annotations

from typing import Mapping

import numpy as np
import torch
import torch.nn.functional as F

from core.conv.steps import ConvResult, PoolResult, as_bias, as_input, as_weight


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
        x = as_input(result_or_x)
        w = as_weight(weight, x.shape[0])
        b = as_bias(bias, w.shape[0])
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
