"""What the Convolution page says about an output size: the formula (with the current numbers
filled in, as LaTeX) and which short notes apply. Plain decisions on core.conv.OutputSize; the
page translates the note keys ("conv.hint_<name>")."""
from __future__ import annotations

from core.conv import OutputSize

FORMULA = r"H_{out} = \left\lfloor \frac{H + 2P - D\,(K-1) - 1}{S} \right\rfloor + 1"
FORMULA_NO_DILATION = r"H_{out} = \left\lfloor \frac{H + 2P - K}{S} \right\rfloor + 1"


def formula(with_dilation: bool) -> str:
    """The output-size formula (pooling has no dilation)."""
    return FORMULA if with_dilation else FORMULA_NO_DILATION


def filled_formula(axis: str, s: OutputSize, with_dilation: bool) -> str:
    """The formula for one axis ("H" or "W") with its numbers, down to the size (or "≤ 0")."""
    if with_dilation:
        num = rf"{s.n} + 2\cdot{s.padding} - {s.dilation}\cdot({s.k}-1) - 1"
    else:
        num = rf"{s.n} + 2\cdot{s.padding} - {s.k}"
    filled = rf"{axis}_{{out}} = \left\lfloor \frac{{{num}}}{{{s.stride}}} \right\rfloor + 1"
    end = rf"\mathbf{{{s.size}}}" if s.size else ""
    tail = rf"= \left\lfloor \frac{{{s.numerator}}}{{{s.stride}}} \right\rfloor + 1"
    return f"{filled} {tail} = {end}" if s.size else f"{filled} {tail} \\le 0"


def size_notes(sizes: tuple[OutputSize, OutputSize], kind: str) -> list[tuple[str, dict]]:
    """(note name, its values) for the situation: the size, the receptive field (convolution),
    padding that keeps the size, a shrink without padding, a stride, unused rows/columns."""
    sh, sw = sizes
    notes: list[tuple[str, dict]] = []
    if sh.size and sw.size:
        notes.append(("size", dict(ho=sh.size, wo=sw.size, h=sh.n, w=sw.n)))
    if kind == "conv":
        notes.append(("receptive", dict(sh=sh.span, sw=sw.span)))
    if sh.stride == 1 and sh.size == sh.n and sw.size == sw.n and sh.padding > 0:
        notes.append(("same", dict(p=sh.padding)))
    elif sh.padding == 0 and sh.stride == 1 and (sh.size < sh.n or sw.size < sw.n) and sh.size:
        notes.append(("shrink", dict(lost=sh.n - sh.size)))
    if sh.stride > 1 and sh.size:
        notes.append(("stride", dict(s=sh.stride)))
    if (sh.unused or sw.unused) and sh.size and sw.size:
        notes.append(("unused", dict(n=max(sh.unused, sw.unused))))
    return notes


def empty_axis(sizes: tuple[OutputSize, OutputSize]) -> int | None:
    """0 (height) or 1 (width): the first axis with no output at all, else None."""
    return next((i for i, s in enumerate(sizes) if not s.size), None)
