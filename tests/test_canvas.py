"""core.canvas: the drawing canvas's PNG as a grey image (moved here from the Predict page)."""
import cv2
import numpy as np
import pytest

from core.canvas import decode_canvas_png


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
