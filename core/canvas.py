"""The drawing canvas (Predict, Your classes): the value its browser side sends, and its PNG
(strokes on a transparent or white background) as the greyscale image core.preprocess expects.

The canvas (app/draw_canvas.py, assets/draw_canvas.js) sends `{"strokes": n, "png": data URL}`
under its "drawing" state when a stroke ends. That value comes from a visitor's browser, so it is
checked here before anything is decoded: a PNG data URL, at most MAX_PNG_BYTES, at most
MAX_SIDE pixels a side (read from the PNG header, so a tiny file that declares a huge picture is
refused before its pixels are allocated).
"""
from __future__ import annotations

import base64
import binascii
import struct

import cv2
import numpy as np

DATA_URL_PREFIX = "data:image/png;base64,"
MAX_SIDE = 1024                 # the canvases are 280 px; a high-density screen may double that
MAX_PNG_BYTES = 4 * 1024 * 1024  # a 1024² RGBA picture stored uncompressed is ≈ 4.2 MB
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def canvas_value(png: bytes | None, strokes: int = 1) -> dict:
    """The component value a canvas holding `png` reports (for tests and the benches' clients)."""
    url = DATA_URL_PREFIX + base64.b64encode(png).decode() if png else None
    return {"drawing": {"strokes": strokes if png else 0, "png": url}}


def drawing_png(drawing) -> bytes | None:
    """The PNG a canvas's "drawing" state carries; None when nothing is drawn (no strokes, or
    all of them undone). ValueError when the value is not a canvas picture."""
    if drawing is None:
        return None
    if not isinstance(drawing, dict):
        raise ValueError("the canvas sent something that is not a drawing")
    url = drawing.get("png")
    if not drawing.get("strokes") or not url:
        return None
    if not isinstance(url, str) or not url.startswith(DATA_URL_PREFIX):
        raise ValueError("the canvas picture is not a PNG")
    if len(url) - len(DATA_URL_PREFIX) > MAX_PNG_BYTES * 4 // 3 + 4:
        raise ValueError("the canvas picture is too large")
    try:
        png = base64.b64decode(url[len(DATA_URL_PREFIX):], validate=True)
    except (binascii.Error, ValueError) as e:
        raise ValueError("the canvas picture is not valid base64") from e
    png_size(png)
    return png


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's header; ValueError when it is not a PNG or is larger than
    MAX_SIDE a side."""
    if len(png) < 24 or not png.startswith(_PNG_SIGNATURE) or png[12:16] != b"IHDR":
        raise ValueError("the canvas picture is not a PNG")
    width, height = struct.unpack(">II", png[16:24])
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise ValueError(f"the canvas picture is {width}×{height} pixels, more than {MAX_SIDE} a side")
    return width, height


def decode_canvas_png(png: bytes) -> np.ndarray:
    """The canvas's PNG as a uint8 greyscale image, transparency laid on white (the strokes are
    black). Greyscale uint8 is what preprocess handles fastest: ~1 ms instead of ~7 ms for RGBA."""
    png_size(png)   # before any pixel is allocated
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
