"""Turn any drawn or uploaded image into a model input the way MNIST digits were made.

MNIST's recipe (LeCun et al.): light ink on a dark background, the digit's bounding box scaled so
its longest side is 20 px (aspect ratio kept, anti-aliased), then placed in a 28×28 field so its
centre of mass is at the centre. A model trained on MNIST only recognises digits prepared that way,
so a canvas drawing or a phone photo must go through the same steps. Every intermediate image is
returned so the UI can show "what the model sees".
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
import torch

FIELD, BOX = 28, 20      # MNIST: 28×28 field, digit scaled into a 20×20 box
INK_LEVEL = 0.2          # ink intensity (0..1) above which a pixel counts as drawn
MIN_INK_PIXELS = 4       # fewer inked pixels than this is "nothing drawn", never a guess


@dataclass
class Preprocessed:
    blank: bool
    steps: dict[str, np.ndarray] = field(default_factory=dict)  # name -> float image in 0..1
    tensor: torch.Tensor | None = None   # normalized [1, 1, 28, 28]; None when blank
    inverted: bool = False               # True when the input was dark ink on a light background
    bbox: tuple[int, int, int, int] | None = None  # ink box (top, left, bottom, right) in the input

    @property
    def model_view(self) -> np.ndarray | None:
        """The 28×28 image (0..1, ink bright) the model receives, before normalization."""
        return self.steps.get("centered")


def to_grayscale(image: np.ndarray) -> np.ndarray:
    """Any HxW, HxWx3 (RGB) or HxWx4 (RGBA) image, uint8 or float, to float32 grey in 0..1.

    Transparent pixels (a drawing canvas) are composited over the colour that contrasts with the
    strokes, so white-on-transparent and black-on-transparent drawings both keep their ink.
    """
    img = np.asarray(image)
    if img.dtype == np.uint8:
        img = img.astype(np.float32) / 255.0
    else:
        img = img.astype(np.float32)
        if img.size and img.max() > 1.0:
            img = img / 255.0
    if img.ndim == 2:
        return np.clip(img, 0, 1)
    if img.ndim != 3 or img.shape[2] not in (1, 3, 4):
        raise ValueError(f"Expected a greyscale, RGB or RGBA image, got an array of shape {img.shape}.")
    if img.shape[2] == 1:
        return np.clip(img[..., 0], 0, 1)
    rgb = img[..., :3]
    grey = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    if img.shape[2] == 4:
        alpha = img[..., 3]
        if alpha.min() < 1.0:
            opaque = alpha > 0.5
            strokes_light = opaque.any() and grey[opaque].mean() > 0.5
            background = 0.0 if strokes_light else 1.0
            grey = grey * alpha + background * (1 - alpha)
    return np.clip(grey, 0, 1)


UNEVEN_BORDER = 0.06     # border brightness spread (10th..90th percentile) that means uneven light


def smooth_background(ink: np.ndarray) -> np.ndarray:
    """The slowly varying paper level under the ink (bright ink on dark), for photos.

    A morphological opening with a disc wider than a pen stroke removes the strokes and keeps
    the lighting gradient, shadows and vignetting; it runs on a copy shrunk to ≤ 200 px (fast,
    and a disc of 1/6 of the image is wider than any digit stroke) and is then blurred and
    enlarged back.
    """
    h, w = ink.shape
    scale = min(1.0, 200 / max(h, w))
    small = cv2.resize(ink, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    k = max(5, min(small.shape) // 6) | 1
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    background = cv2.morphologyEx(small, cv2.MORPH_OPEN, disc, borderType=cv2.BORDER_REPLICATE)
    background = cv2.GaussianBlur(background, (0, 0), k / 3)
    return cv2.resize(background, (w, h), interpolation=cv2.INTER_LINEAR)


def ink_is_dark(grey: np.ndarray) -> bool:
    """Whether the ink is darker than the background (paper) rather than lighter (chalkboard,
    the MNIST convention).

    The background level is the border's median; the ink is whichever extreme lies further from
    it. (A plain "border brighter than 50%" test fails on a dimly lit photo of white paper,
    whose border can be darker than mid-grey while the ink is darker still.) Extremes are read
    from a copy shrunk to ≤ 256 px, which averages sensor noise away; when nothing stands out,
    the border brightness decides.
    """
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    level = float(np.median(border))
    h, w = grey.shape
    scale = min(1.0, 256 / max(h, w))
    small = grey if scale == 1.0 else cv2.resize(
        grey, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    darker, lighter = level - float(small.min()), float(small.max()) - level
    if max(darker, lighter) < 0.1:
        return level > 0.5
    return darker > lighter


def ink_image(grey: np.ndarray) -> tuple[np.ndarray, bool]:
    """Bright ink on black, background removed; also whether the input had to be inverted.

    The background is read off the border (a digit rarely touches all four edges); dark ink on
    lighter paper is inverted (`ink_is_dark`). When the border is uneven (a photo:
    a lighting gradient, a shadow) the background is estimated locally (`smooth_background`)
    instead of as one level, so a darker corner of the paper is not mistaken for ink. Otsu's
    threshold then separates ink from paper texture, and the ink is stretched to full intensity.
    """
    inverted = ink_is_dark(grey)
    ink = 1.0 - grey if inverted else grey.copy()
    border_ink = np.concatenate([ink[0], ink[-1], ink[:, 0], ink[:, -1]])
    low, high = np.percentile(border_ink, [10, 90])
    if high - low > UNEVEN_BORDER and min(ink.shape) >= 16:
        ink = np.clip(ink - smooth_background(ink), 0, None)
    else:
        ink = np.clip(ink - float(np.median(border_ink)), 0, None)
    peak = float(ink.max())
    if peak < 0.1:  # nothing stands out from the background
        return np.zeros_like(ink), inverted
    ink8 = (ink / peak * 255).astype(np.uint8)
    otsu, _ = cv2.threshold(ink8, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    # Keep anti-aliased stroke edges: zero only what lies clearly below the threshold.
    cut = max(otsu * 0.5, 20) / 255.0
    ink = ink / peak
    ink[ink < cut] = 0.0
    return drop_specks(np.clip(ink, 0, 1).astype(np.float32)), inverted


SPECK_SHARE = 0.02       # ink blobs with < 2% of the largest blob's ink are noise, not strokes


def drop_specks(ink: np.ndarray) -> np.ndarray:
    """Remove isolated specks (sensor noise, paper grain, dust) that would otherwise stretch the
    ink's bounding box and shrink the digit: connected blobs whose total ink is under
    SPECK_SHARE of the largest blob's. Separate strokes of one digit are far heavier than that."""
    count, labels = cv2.connectedComponents((ink > 0).astype(np.uint8), connectivity=8)
    if count <= 2:  # background plus at most one blob
        return ink
    mass = np.bincount(labels.ravel(), weights=ink.ravel(), minlength=count)
    mass[0] = 0.0
    keep = mass >= SPECK_SHARE * mass.max()
    keep[0] = False
    return np.where(keep[labels], ink, 0.0).astype(np.float32)


def crop_to_ink(ink: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int, int]] | None:
    mask = ink > INK_LEVEL
    if mask.sum() < MIN_INK_PIXELS:
        return None
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    return ink[top:bottom, left:right], (int(top), int(left), int(bottom), int(right))


def scale_to_box(crop: np.ndarray, box: int = BOX) -> np.ndarray:
    """Longest side to `box` px keeping the aspect ratio (area interpolation = anti-aliasing)."""
    h, w = crop.shape
    s = box / max(h, w)
    nh, nw = max(1, round(h * s)), max(1, round(w * s))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    scaled = np.clip(cv2.resize(crop, (nw, nh), interpolation=interp), 0, 1)
    # Thin strokes average out to grey when shrunk; MNIST ink reaches full intensity, so stretch.
    peak = scaled.max()
    return scaled / peak if peak > 0 else scaled


def center_by_mass(digit: np.ndarray, size: int = FIELD) -> np.ndarray:
    """Place `digit` in a size×size field with its centre of mass at the field's centre."""
    h, w = digit.shape
    total = digit.sum()
    cy = (digit.sum(1) * np.arange(h)).sum() / total if total > 0 else (h - 1) / 2
    cx = (digit.sum(0) * np.arange(w)).sum() / total if total > 0 else (w - 1) / 2
    # Translate with sub-pixel precision; warpAffine clips whatever would fall outside.
    shift = np.float32([[1, 0, (size - 1) / 2 - cx], [0, 1, (size - 1) / 2 - cy]])
    return cv2.warpAffine(digit.astype(np.float32), shift, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)


def preprocess(image: np.ndarray, mean: float = 0.1307, std: float = 0.3081) -> Preprocessed:
    """The full MNIST-style pipeline; `mean`/`std` are the model's dataset normalization."""
    grey = to_grayscale(image)
    if grey.size == 0 or min(grey.shape) < 2:
        return Preprocessed(blank=True, steps={"input": grey})
    ink, inverted = ink_image(grey)
    steps = {"input": grey, "ink": ink}
    found = crop_to_ink(ink)
    if found is None:
        return Preprocessed(blank=True, steps=steps, inverted=inverted)
    crop, bbox = found
    scaled = scale_to_box(crop)
    centered = center_by_mass(scaled)
    steps.update(cropped=crop, scaled=scaled, centered=centered)
    tensor = torch.from_numpy((centered - mean) / std).float()[None, None]
    return Preprocessed(False, steps, tensor, inverted, bbox)


def from_dataset_image(image_uint8: np.ndarray, mean: float, std: float) -> Preprocessed:
    """A test-set image is already in the model's format: no cropping, just normalization."""
    img = np.asarray(image_uint8, dtype=np.float32) / 255.0
    tensor = torch.from_numpy((img - mean) / std).float()[None, None]
    return Preprocessed(False, {"input": img, "centered": img}, tensor)
