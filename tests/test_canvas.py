"""core.canvas: the drawing canvas's value (checked: it comes from a browser) and its PNG as a
grey image."""
import base64
import struct

import cv2
import numpy as np
import pytest

from core.canvas import (DATA_URL_PREFIX, MAX_PNG_BYTES, canvas_value, decode_canvas_png, drawing_png,
                         png_size)


def png_bytes(image: np.ndarray) -> bytes:
    ok_, buf = cv2.imencode(".png", image)
    assert ok_
    return buf.tobytes()


def drawn(strokes) -> np.ndarray:
    img = np.full((280, 280, 4), 255, np.uint8)
    for a, b in strokes:
        cv2.line(img, a, b, (0, 0, 0, 255), 20, cv2.LINE_AA)
    return img


def test_canvas_png_decodes_to_grey_on_white():
    opaque = drawn([((140, 40), (140, 240))])
    grey = decode_canvas_png(png_bytes(cv2.cvtColor(opaque, cv2.COLOR_RGBA2BGRA)))
    assert grey.shape == (280, 280) and grey.dtype == np.uint8
    assert grey[140, 140] == 0 and grey[10, 10] == 255
    transparent = opaque.copy()
    transparent[..., 3] = np.where(opaque[..., 0] < 128, 255, 0)   # strokes only, no background
    transparent[transparent[..., 3] == 0, :3] = 0                   # as browsers store it
    assert np.array_equal(decode_canvas_png(png_bytes(cv2.cvtColor(transparent, cv2.COLOR_RGBA2BGRA))) > 128,
                          grey > 128)
    assert decode_canvas_png(png_bytes(grey)).shape == (280, 280)
    colour = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
    assert np.array_equal(decode_canvas_png(png_bytes(colour)), grey)


def test_a_truncated_canvas_message_is_a_value_error():
    png = png_bytes(drawn([((140, 40), (140, 240))]))
    with pytest.raises(ValueError):
        decode_canvas_png(png[:20])


# --------------------------------------------------------------------------- the canvas's value
def test_a_canvas_value_round_trips_to_its_png():
    png = png_bytes(drawn([((140, 40), (140, 240))]))
    assert drawing_png(canvas_value(png, strokes=2)["drawing"]) == png
    # nothing drawn, or every stroke undone: no picture, never a guess
    assert drawing_png(None) is None
    assert drawing_png(canvas_value(None)["drawing"]) is None
    assert drawing_png({"strokes": 0, "png": canvas_value(png)["drawing"]["png"]}) is None


@pytest.mark.parametrize("drawing", [
    "data:image/png;base64,AAAA",                                   # not a dict
    {"strokes": 1, "png": 42},                                      # not text
    {"strokes": 1, "png": "data:image/jpeg;base64,/9j/4AAQ"},       # not a PNG data URL
    {"strokes": 1, "png": DATA_URL_PREFIX + "!!not base64!!"},
    {"strokes": 1, "png": DATA_URL_PREFIX + base64.b64encode(b"GIF89a" + bytes(40)).decode()},
])
def test_a_malformed_canvas_value_is_a_value_error(drawing):
    with pytest.raises(ValueError):
        drawing_png(drawing)


def test_an_oversized_canvas_value_is_refused_before_decoding():
    # far more text than any canvas picture: refused on its length, before base64 decoding
    with pytest.raises(ValueError, match="too large"):
        drawing_png({"strokes": 1, "png": DATA_URL_PREFIX + "A" * (MAX_PNG_BYTES * 2)})


def test_a_png_that_declares_a_huge_picture_is_refused_from_its_header():
    # a valid 1×1 PNG whose header is rewritten to claim 100,000 × 100,000 pixels (40 GB of RGBA)
    png = bytearray(png_bytes(np.zeros((1, 1), np.uint8)))
    png[16:24] = struct.pack(">II", 100_000, 100_000)
    with pytest.raises(ValueError, match="more than"):
        drawing_png(canvas_value(bytes(png))["drawing"])
    with pytest.raises(ValueError, match="more than"):
        decode_canvas_png(bytes(png))
    assert png_size(png_bytes(np.zeros((280, 280), np.uint8))) == (280, 280)
