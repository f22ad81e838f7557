"""The numbers of the Convolution page as a person sees and types them: the original material's
examples, the page's size limits, numbers and matrices as text, and parsing what a user typed."""
from __future__ import annotations

import math
import re
from typing import Sequence

import numpy as np


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
