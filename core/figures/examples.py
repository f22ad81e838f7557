"""A class's examples as one picture (the "Your classes" page): a montage of numbered 28×28 tiles.

One image per class instead of one st.image per example: a class of 500 examples is one PNG of a
few tens of kB, drawn in one go. Tiles are shown as the model receives them (bright ink on black)
and numbered from 1 so a learner can name the one to delete.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

TILE = 28          # the model's input
SCALE = 2          # picture pixels per image pixel: 56 px tiles keep the strokes readable
GAP = 4            # space between tiles
BACKGROUND = 255   # the page's white around the black tiles
NUMBER_COLOR = 150


def montage(images: list[np.ndarray], columns: int = 12, numbered: bool = True) -> np.ndarray:
    """uint8 grey picture of `images` (each 28×28) in rows of `columns`, enlarged SCALE times
    (nearest neighbour: pixels stay pixels), each with its number (1, 2, …) in its corner."""
    if not images:
        raise ValueError("montage needs at least one image")
    side = TILE * SCALE
    columns = max(1, min(columns, len(images)))
    rows = math.ceil(len(images) / columns)
    out = np.full((rows * (side + GAP) - GAP, columns * (side + GAP) - GAP), BACKGROUND, np.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        tile = cv2.resize(np.asarray(image, np.uint8), (side, side), interpolation=cv2.INTER_NEAREST)
        if numbered:
            cv2.putText(tile, str(i + 1), (2, 11), cv2.FONT_HERSHEY_PLAIN, 0.75, NUMBER_COLOR, 1, cv2.LINE_AA)
        y, x = r * (side + GAP), c * (side + GAP)
        out[y:y + side, x:x + side] = tile
    return out


def enlarged(image: np.ndarray, side: int = 140) -> np.ndarray:
    """One 28×28 image enlarged to `side` pixels without smoothing (the "what the model
    receives" preview)."""
    return cv2.resize(np.asarray(image, np.uint8), (side, side), interpolation=cv2.INTER_NEAREST)
