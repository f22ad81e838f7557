"""The Predict page's drawing canvas: its PNG (strokes on a transparent or white background)
as the greyscale image core.preprocess expects."""
from __future__ import annotations

import cv2
import numpy as np


def decode_canvas_png(png: bytes) -> np.ndarray:
    """The canvas's PNG as a uint8 greyscale image, transparency laid on white (the strokes are
    black). Greyscale uint8 is what preprocess handles fastest: ~1 ms instead of ~7 ms for RGBA."""
    img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ValueError("the canvas image could not be decoded")
    if img.ndim == 2:
        return img
    if img.shape[2] == 4:
        alpha = img[..., 3]
        grey = cv2.cvtColor(img, cv2.COLOR_BGRA2GRAY)
        if alpha.min() < 255:
            a = alpha.astype(np.float32) / 255.0
            grey = (grey.astype(np.float32) * a + 255.0 * (1.0 - a) + 0.5).astype(np.uint8)
        return grey
    return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
