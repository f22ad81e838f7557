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
# Uploaded photos are decoded at most this big (core.images.load_image_bytes(max_side=...)): the
# digit ends up 20 px tall anyway, and a 4096×4096 upload would cost ~16 times the memory.
UPLOAD_SIDE = 1024


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


def shrunk(img: np.ndarray, side: int) -> np.ndarray:
    """A copy whose longer side is at most `side` px (area averaging: noise averages away)."""
    h, w = img.shape
    scale = min(1.0, side / max(h, w))
    if scale == 1.0:
        return img
    return cv2.resize(img, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


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
    small = shrunk(grey, 256)
    darker, lighter = level - float(small.min()), float(small.max()) - level
    if max(darker, lighter) < 0.1:
        return level > 0.5
    return darker > lighter


# --- The paper under the ink -------------------------------------------------------------------
# Photos of paper are lit unevenly, so "background" is not one level. But an image is also uneven
# when the digit fills it (a tight crop, a thick marker): ink touching the frame, and strokes as
# wide as a fixed-size filter, look like uneven light to a border- or filter-based test and get
# subtracted as "background", hollowing the strokes. So the paper is measured from the image:
#   1. `paper_fit` cuts a ≤ 64 px copy into blocks; a block's low percentile is its paper level
#      wherever some paper shows. A smooth surface (a plane, or a bowl-shaped quadratic) is fitted
#      to those levels, growing from the darkest third and rejecting blocks far above it — ink
#      only ever adds light, so rejection is one-sided, and ink touching the frame or covering
#      most of the image does not bend the surface. Blocks whose level is most of the way up to
#      the ink's are counted as ink: there a stroke is as wide as a block.
#   2. No ink block: every stroke is narrower than a block, so a morphological opening with a disc
#      wider than a block removes the strokes and keeps whatever light does (gradient, vignetting,
#      a shadow's edge) — used when the surface or that opening shows uneven light.
#   3. Ink blocks (the digit fills the frame): no disc can tell strokes from light, so only the
#      smooth surface is subtracted, and only when it varies by LIGHTING_SPREAD or more.
#   Otherwise the light is even and one level, the paper's median, is subtracted (a clean scan,
#   a canvas, a tight crop).
# Limit: a shadow so deep that its paper is most of the way to the ink's darkness counts as ink
# blocks, and only the smooth surface is taken off it.

LIGHTING_SPREAD = 0.06   # paper brightness range (0..1) across the image that means uneven light
FIT_SIDE = 64            # the surface is fitted on a 64×64 copy: light varies slowly
FIT_BLOCKS = 8           # 8×8 blocks, whose paper levels the surface is fitted to
PAPER_PERCENTILE = 25    # a block's paper level: most blocks show paper in a quarter of their pixels
MIN_PAPER_DEVIATION = 0.03  # paper within this of the surface is paper even on a noise-free image
INK_BLOCK = 0.7          # a block whose paper level is this far up to the ink's is ink
DISC_BLOCKS = 1.25       # the opening's disc, in blocks: wider than any stroke when no block is ink


def _surface_terms(y: np.ndarray, x: np.ndarray, order: int) -> np.ndarray:
    """Constant, plane or quadratic terms of coordinates in -1..1."""
    terms = [np.ones_like(x), x, y, x * x, x * y, y * y][:{0: 1, 1: 3, 2: 6}[order]]
    return np.stack(terms, -1)


def _fit_light(v: np.ndarray, y: np.ndarray, x: np.ndarray, paper: np.ndarray) -> tuple[np.ndarray, int]:
    """Least-squares surface through the paper blocks: (coefficients, order).

    A quadratic when enough blocks support one and it is bowl-shaped: light falling off from a
    lamp or towards the corners makes the paper a dome, so the ink image (inverted) a bowl; a
    quadratic bulging the other way is fitting a digit, not light. Otherwise a plane (a lighting
    gradient), or one level when only a few blocks show paper.
    """
    n = int(paper.sum())
    if n >= 24:
        quad, *_ = np.linalg.lstsq(_surface_terms(y[paper], x[paper], 2), v[paper], rcond=None)
        if np.linalg.eigvalsh(np.array([[2 * quad[3], quad[4]], [quad[4], 2 * quad[5]]])).min() >= 0:
            return quad, 2
    order = 1 if n >= 6 else 0
    coef, *_ = np.linalg.lstsq(_surface_terms(y[paper], x[paper], order), v[paper], rcond=None)
    return coef, order


@dataclass
class PaperFit:
    surface: np.ndarray      # the smooth paper level at every pixel
    spread: float            # its brightness range over the paper blocks
    ink_blocks: int          # blocks covered by ink (a stroke as wide as a block)
    block: float             # a block's side in the image's pixels


def paper_fit(ink: np.ndarray) -> PaperFit:
    """The smooth paper surface under bright ink on a darker background; see the comment above.

    The image is shrunk to ≤ FIT_SIDE px and cut into square blocks (FIT_BLOCKS along the longer
    side); a block's low percentile is its paper level.
    """
    h, w = ink.shape
    b = FIT_SIDE // FIT_BLOCKS
    rows = max(1, round(FIT_BLOCKS * h / max(h, w)))
    cols = max(1, round(FIT_BLOCKS * w / max(h, w)))
    small = cv2.resize(ink, (cols * b, rows * b), interpolation=cv2.INTER_AREA)
    blocks = small.reshape(rows, b, cols, b).transpose(0, 2, 1, 3).reshape(rows * cols, -1)
    v = np.percentile(blocks, PAPER_PERCENTILE, axis=1)
    y, x = (c.ravel() for c in np.meshgrid((np.arange(rows) + 0.5) / rows * 2 - 1,
                                           (np.arange(cols) + 0.5) / cols * 2 - 1, indexing="ij"))
    # Start from the darkest third (paper even when ink covers most blocks); the paper's own
    # unevenness (texture, noise) around that first fit sets how far a block may lie from the
    # surface and still be paper. That tolerance stays fixed while the paper grows, so the fit
    # cannot creep up the soft edges of blurred ink one ring of blocks at a time.
    paper = v <= np.percentile(v, 33)
    coef, order = _fit_light(v, y, x, paper)
    resid = v[paper] - _surface_terms(y[paper], x[paper], order) @ coef
    tolerance = max(3 * 1.4826 * float(np.median(np.abs(resid - np.median(resid)))), MIN_PAPER_DEVIATION)
    for _ in range(4):
        keep = v - _surface_terms(y, x, order) @ coef <= tolerance  # one-sided: ink only adds light
        if (keep == paper).all() or keep.sum() < 3:
            break
        paper = keep
        coef, order = _fit_light(v, y, x, paper)
    fitted = _surface_terms(y[paper], x[paper], order) @ coef
    yy, xx = np.meshgrid((np.arange(rows * b) + 0.5) / (rows * b) * 2 - 1,
                         (np.arange(cols * b) + 0.5) / (cols * b) * 2 - 1, indexing="ij")
    surface = cv2.resize((_surface_terms(yy, xx, order) @ coef).astype(np.float32), (w, h),
                         interpolation=cv2.INTER_LINEAR)
    # A block is ink when even its paper level lies most of the way from the surface up to the
    # ink's brightness: a stroke (or blob) there is as wide as the block. (A shadow's paper stays
    # well below the ink that is written on it.)
    top = float(np.percentile(small, 99))
    at_blocks = _surface_terms(y, x, order) @ coef
    ink_blocks = int(np.sum(v - at_blocks > INK_BLOCK * (top - at_blocks)))
    return PaperFit(surface, float(fitted.max() - fitted.min()), ink_blocks, max(h, w) / max(rows, cols))


def shadow_residue(flat: np.ndarray, disc_px: float) -> np.ndarray:
    """What is left of uneven light once the smooth surface is subtracted (a shadow's edge): a
    morphological opening with a disc of `disc_px` — wider than every stroke, which the caller
    has checked — removes the strokes and keeps broader shapes. Runs on a copy shrunk to
    ≤ 200 px, then is blurred and enlarged back."""
    h, w = flat.shape
    small = shrunk(flat, 200)
    k = int(np.ceil(disc_px * small.shape[0] / h)) | 1
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    residue = cv2.morphologyEx(np.clip(small, 0, None), cv2.MORPH_OPEN, disc, borderType=cv2.BORDER_REPLICATE)
    residue = cv2.GaussianBlur(residue, (0, 0), k / 3)
    return cv2.resize(residue, (w, h), interpolation=cv2.INTER_LINEAR)


def remove_background(ink: np.ndarray) -> np.ndarray:
    """Bright ink with the paper under it subtracted (see the comment above `LIGHTING_SPREAD`)."""
    if min(ink.shape) < 16:  # too small to hold a lighting gradient: one level, from the border
        border = np.concatenate([ink[0], ink[-1], ink[:, 0], ink[:, -1]])
        return np.clip(ink - float(np.median(border)), 0, None)
    fit = paper_fit(ink)
    flat = ink - fit.surface
    near = flat[flat <= MIN_PAPER_DEVIATION]
    paper = flat <= max(MIN_PAPER_DEVIATION, 3 * float(near.std())) if near.size else flat <= np.median(flat)
    level = float(np.median(flat[paper]))
    flat -= level
    if fit.ink_blocks == 0:
        # Paper shows in every block, so every stroke is narrower than a block: an opening with
        # a disc of DISC_BLOCKS blocks removes strokes and keeps what light does (a shadow).
        residue = shadow_residue(flat, DISC_BLOCKS * fit.block)
        if fit.spread >= LIGHTING_SPREAD or residue.max() >= LIGHTING_SPREAD:
            return np.clip(flat - residue, 0, None)
    elif fit.spread >= LIGHTING_SPREAD:
        # Ink fills whole blocks (a tight crop, a thick marker): no disc can tell strokes from
        # light, but the surface fitted around them can.
        return np.clip(flat, 0, None)
    # even light: one level, the paper's median
    return np.clip(ink - float(np.median(ink[paper])), 0, None)


def ink_image(grey: np.ndarray) -> tuple[np.ndarray, bool]:
    """Bright ink on black, background removed; also whether the input had to be inverted.

    Dark ink on lighter paper is inverted (`ink_is_dark`). The paper under the ink is then
    measured and subtracted (`remove_background`): one level under even light, a smooth surface
    under a lighting gradient, so a darker corner of the paper is not mistaken for ink and a
    digit that fills the frame keeps its strokes. Otsu's threshold then separates ink from paper
    texture, and the ink is stretched to full intensity.
    """
    inverted = ink_is_dark(grey)
    ink = remove_background(1.0 - grey if inverted else grey.copy())
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
