"""Kernels on real photos: presets, OpenCV's filter2D with the step engine's zero padding, stride
and cross-correlation sums (a 1024×1024 colour photo in a few tens of milliseconds), per-channel
filtering and how a filtered result is shown."""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import cv2
import numpy as np
import torch.nn.functional as F

from core.conv.steps import check_hyper, output_size


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
    check_hyper(stride, padding, 1)
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
