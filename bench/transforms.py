"""MNIST test digits turned into the images people actually give the Predict page.

Shared by bench/robustness_bench.py (thousands of digits, figures) and tests/test_robustness.py
(a small fixed subset, floors). Each transform takes one 28×28 uint8 MNIST digit (light ink on
black) and returns the file a person would upload — PNG or JPEG bytes — so that the bench and the
tests read it back through `core.images.load_image_bytes` and `core.preprocess.preprocess`,
exactly as `python -m core predict` does.

Every transform is deterministic: its random choices come from a generator seeded with
(seed, transform, digit index), so digit i looks the same whether 200 or 10,000 are drawn.
"""
from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

SEED = 0
UP = 4  # working resolution for stroke edits and rotation: 28 px → 112 px


@dataclass(frozen=True)
class Transform:
    name: str
    describe: str
    make: Callable[[np.ndarray, int, np.random.Generator], bytes]


# ---------------------------------------------------------------- helpers

def png(img: np.ndarray) -> bytes:
    """PNG bytes of a grey (H×W), RGB (H×W×3) or RGBA (H×W×4) uint8 array."""
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_RGB2BGR if img.shape[2] == 3 else cv2.COLOR_RGBA2BGRA)
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return buf.tobytes()


def jpeg(img: np.ndarray, quality: int) -> bytes:
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()


def to_uint8(img: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def ink_box(digit: np.ndarray) -> np.ndarray:
    """The digit cropped to the bounding box of its non-zero pixels."""
    rows, cols = np.flatnonzero(digit.max(1) > 0), np.flatnonzero(digit.max(0) > 0)
    return digit[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def longest_side(img: np.ndarray, side: int, interpolation: int) -> np.ndarray:
    """Resized so its longest side is `side` px, aspect ratio kept."""
    h, w = img.shape[:2]
    s = side / max(h, w)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    return cv2.resize(img.astype(np.float32), size, interpolation=interpolation)


def enlarged(digit: np.ndarray, factor: int = UP) -> np.ndarray:
    """The whole 28×28 field enlarged (cubic), float 0..255, as a higher-resolution 'original'."""
    return np.clip(cv2.resize(digit.astype(np.float32), None, fx=factor, fy=factor,
                              interpolation=cv2.INTER_CUBIC), 0, 255)


def alternate_polarity(img: np.ndarray, index: int) -> np.ndarray:
    """Every other digit as dark ink on white, the rest as MNIST's light ink on black."""
    return 255.0 - img if index % 2 else img


def crop_with_margins(img: np.ndarray, rng: np.random.Generator, most: int) -> np.ndarray:
    """Cropped to its ink box plus a random margin of 0..`most` px per side (0 = touches the frame)."""
    rows, cols = np.flatnonzero(img.max(1) > 8), np.flatnonzero(img.max(0) > 8)
    top, bottom, left, right = (int(m) for m in rng.integers(0, most + 1, 4))
    h, w = img.shape
    return img[max(0, rows[0] - top):min(h, rows[-1] + 1 + bottom),
               max(0, cols[0] - left):min(w, cols[-1] + 1 + right)]


# ---------------------------------------------------------------- transforms

def as_is(digit, index, rng):
    """The MNIST image itself as a 28×28 PNG: the pipeline must not hurt what is already right."""
    return png(digit)


def tight_crop(digit, index, rng):
    """Cropped to the ink box, longest side enlarged to 64 px (cubic): a tightly framed scan."""
    return png(to_uint8(alternate_polarity(longest_side(ink_box(digit), 64, cv2.INTER_CUBIC), index)))


def tight_small(side: int):
    def make(digit, index, rng):
        """Cropped to the ink box, shrunk to `side` px, enlarged to 64: a tiny image blown up."""
        small = longest_side(ink_box(digit), side, cv2.INTER_AREA)
        return png(to_uint8(alternate_polarity(longest_side(small, 64, cv2.INTER_CUBIC), index)))
    return make


def thick_strokes(digit, index, rng):
    """A marker: strokes ≈ 8 px wider at 112 px (about 1.8× MNIST's), framed 0–16 px around the ink."""
    big = cv2.dilate(enlarged(digit), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9)))
    return png(to_uint8(alternate_polarity(crop_with_margins(big, rng, 16), index)))


def thin_strokes(digit, index, rng):
    """A fine pen: strokes ≈ 4 px narrower at 112 px (grey erosion), framed 0–16 px around the ink."""
    big = cv2.erode(enlarged(digit), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)))
    return png(to_uint8(alternate_polarity(crop_with_margins(big, rng, 16), index)))


def dark_on_paper(digit, index, rng):
    """A clean scan: dark grey ink on off-white paper, 112 px."""
    paper, ink = rng.uniform(215, 250), rng.uniform(10, 70)
    cover = enlarged(digit) / 255.0
    return png(to_uint8(paper - (paper - ink) * cover))


def photo_of_paper(digit, index, rng):
    """A phone photo: digit on a 240×240 sheet, lighting gradient and vignetting, paper texture,
    sensor noise, a warm colour cast, saved as JPEG at quality 60."""
    size = 240
    cover = np.zeros((size, size), np.float32)
    scale = rng.uniform(3.0, 5.0)
    d = np.clip(cv2.resize(digit.astype(np.float32), None, fx=scale, fy=scale,
                           interpolation=cv2.INTER_CUBIC), 0, 255) / 255.0
    h, w = d.shape
    y, x = (int(v) for v in rng.integers(0, size - h + 1, 2))
    cover[y:y + h, x:x + w] = d
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / (size - 1)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * (xx - 0.5) + np.sin(angle) * (yy - 0.5))          # −0.7 .. 0.7
    light = rng.uniform(160, 215) + rng.uniform(40, 90) * ramp                # gradient
    light -= rng.uniform(10, 30) * ((xx - 0.5) ** 2 + (yy - 0.5) ** 2) * 2   # vignetting
    texture = cv2.GaussianBlur(rng.normal(0, 1, (size, size)).astype(np.float32), (0, 0), 2.0)
    paper = light * (1 + 0.03 * texture / texture.std())
    ink = paper * rng.uniform(0.15, 0.4)                                       # ink reflects less
    grey = paper - (paper - ink) * cover
    tint = np.array([1.0, 0.97, 0.9], np.float32)                              # warm light
    rgb = grey[..., None] * tint + rng.normal(0, 5, (size, size, 3))           # sensor noise
    return jpeg(to_uint8(rgb), 60)


def small_off_centre(digit, index, rng):
    """The 28 px digit (1–1.5×) somewhere in a 256×256 frame."""
    scale = rng.uniform(1.0, 1.5)
    d = np.clip(cv2.resize(digit.astype(np.float32), None, fx=scale, fy=scale,
                           interpolation=cv2.INTER_CUBIC), 0, 255)
    frame = np.zeros((256, 256), np.float32)
    h, w = d.shape
    y, x = (int(v) for v in rng.integers(0, 256 - h + 1, 2))
    frame[y:y + h, x:x + w] = d
    return png(to_uint8(alternate_polarity(frame, index)))


def rotated(digit, index, rng):
    """Turned by +15° (even digits) or −15° (odd), at 112 px."""
    big = enlarged(digit)
    angle = 15.0 if index % 2 == 0 else -15.0
    turn = cv2.getRotationMatrix2D(((big.shape[1] - 1) / 2, (big.shape[0] - 1) / 2), angle, 1.0)
    out = cv2.warpAffine(big, turn, big.shape[::-1], flags=cv2.INTER_CUBIC, borderValue=0.0)
    return png(to_uint8(alternate_polarity(np.clip(out, 0, 255), index)))


def canvas_strokes(digit, index, rng):
    """A drawing canvas: solid black strokes with anti-aliased edges on a transparent 280×280
    RGBA image (the stroke shape is the digit's outline at 50%; the ink is all in the alpha)."""
    big = cv2.resize(digit.astype(np.float32) / 255.0, (280, 280), interpolation=cv2.INTER_CUBIC)
    shape = (big > 0.5).astype(np.float32)
    # anti-aliasing: a 1.5 px edge ramp, as a browser's path rasteriser gives
    alpha = np.clip((cv2.GaussianBlur(shape, (0, 0), 1.0) - 0.5) * 1.5 + 0.5, 0, 1)
    rgba = np.zeros((280, 280, 4), np.uint8)
    rgba[..., 3] = to_uint8(alpha * 255)
    return png(rgba)


TRANSFORMS: dict[str, Transform] = {t.name: t for t in [
    Transform("as is (28×28 PNG)", "the MNIST image itself", as_is),
    Transform("tight crop → 64", "ink box, longest side 64 px, cubic", tight_crop),
    Transform("tight 8×8 → 64", "ink box shrunk to 8 px, enlarged to 64", tight_small(8)),
    Transform("tight 12×12 → 64", "ink box shrunk to 12 px, enlarged to 64", tight_small(12)),
    Transform("tight 16×16 → 64", "ink box shrunk to 16 px, enlarged to 64", tight_small(16)),
    Transform("thick strokes", "dilated, framed 0–16 px", thick_strokes),
    Transform("thin strokes", "eroded, framed 0–16 px", thin_strokes),
    Transform("dark ink on paper", "clean scan, dark on off-white", dark_on_paper),
    Transform("photo of paper", "gradient, texture, noise, JPEG q60", photo_of_paper),
    Transform("small off-centre", "28–42 px digit in a 256 px frame", small_off_centre),
    Transform("rotated ±15°", "+15° / −15° alternately", rotated),
    Transform("canvas RGBA", "anti-aliased strokes on transparency", canvas_strokes),
]}


def rng_for(name: str, index: int, seed: int = SEED) -> np.random.Generator:
    """The generator for one (transform, digit): independent of how many digits are drawn."""
    return np.random.default_rng([seed, zlib.crc32(name.encode()), index])


def make_file(name: str, digit: np.ndarray, index: int, seed: int = SEED) -> bytes:
    """The image file (PNG or JPEG bytes) transform `name` makes of test digit number `index`."""
    return TRANSFORMS[name].make(np.asarray(digit, np.uint8), index, rng_for(name, index, seed))


def pick_digits(n_test: int, count: int, seed: int = SEED) -> np.ndarray:
    """Indices of `count` test digits: the first `count` of a fixed permutation, so a smaller
    draw (the tests') is a prefix of a larger one (the bench's)."""
    return np.random.default_rng(seed).permutation(n_test)[:count]


def write_files(name: str, images: np.ndarray, indices: np.ndarray, folder, seed: int = SEED) -> list:
    """Transform `name` of test digits `indices`, each written to its own file in `folder`."""
    from pathlib import Path
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in indices:
        data = make_file(name, images[i], int(i), seed)
        ext = "jpg" if data.startswith(b"\xff\xd8\xff") else "png"
        path = folder / f"{int(i):05d}.{ext}"
        path.write_bytes(data)
        paths.append(path)
    return paths


def predict_files(paths, model, mean: float, std: float, preprocess=None) -> np.ndarray:
    """The digit `python -m core predict` reads in each file (−1 where it finds no ink).

    Same steps as core.__main__.cmd_predict: load_image_bytes, preprocess, the model; the
    inputs are batched for speed, which does not change any prediction (eval mode)."""
    import torch

    from core.images import load_image_bytes
    if preprocess is None:
        from core.preprocess import preprocess
    preds = np.full(len(paths), -1, np.int64)
    tensors, where = [], []
    for k, path in enumerate(paths):
        prep = preprocess(load_image_bytes(path.read_bytes()), mean, std)
        if not prep.blank:
            tensors.append(prep.tensor)
            where.append(k)
    if tensors:
        with torch.no_grad():
            preds[where] = model(torch.cat(tensors)).argmax(1).numpy()
    return preds
