"""Preprocessing synthetic digits: inverted, off-centre, tiny, huge, coloured, transparent, blank."""
import cv2
import numpy as np
import pytest

from core.preprocess import center_by_mass, preprocess


def stroke_image(size=280, dark_on_light=True, box=(60, 120, 220, 160), thickness=16):
    bg, ink = (255, 0) if dark_on_light else (0, 255)
    img = np.full((size, size), bg, np.uint8)
    top, left, bottom, right = box
    cv2.line(img, ((left + right) // 2, top), ((left + right) // 2, bottom), ink, thickness)
    return img


def centre_of_mass(img):
    ys, xs = np.indices(img.shape)
    return (ys * img).sum() / img.sum(), (xs * img).sum() / img.sum()


def check_mnist_like(p):
    assert not p.blank
    v = p.model_view
    assert v.shape == (28, 28)
    assert v.max() > 0.8 and v[0].max() < 0.05 and v[:, 0].max() < 0.05  # bright ink, dark border
    cy, cx = centre_of_mass(v)
    assert abs(cy - 13.5) < 0.6 and abs(cx - 13.5) < 0.6
    rows, cols = np.flatnonzero(p.steps["scaled"].max(1) > 0), np.flatnonzero(p.steps["scaled"].max(0) > 0)
    assert max(p.steps["scaled"].shape) == 20
    assert p.tensor.shape == (1, 1, 28, 28)
    return rows, cols


def test_dark_on_light_is_inverted():
    p = preprocess(stroke_image(dark_on_light=True))
    assert p.inverted
    check_mnist_like(p)


def test_light_on_dark_is_not_inverted():
    p = preprocess(stroke_image(dark_on_light=False))
    assert not p.inverted
    check_mnist_like(p)


def test_off_centre_digit_is_centred():
    p = preprocess(stroke_image(box=(5, 5, 90, 30)))
    check_mnist_like(p)


def test_tiny_digit_is_scaled_up():
    img = np.zeros((200, 200), np.uint8)
    cv2.circle(img, (100, 100), 4, 255, 2)
    p = preprocess(img)
    check_mnist_like(p)
    assert p.steps["scaled"].shape == (20, 20)


def test_huge_image():
    img = np.zeros((3000, 2000), np.uint8)
    cv2.circle(img, (1000, 1500), 600, 255, 120)
    check_mnist_like(preprocess(img))


def test_rgb_and_rgba_inputs():
    grey = stroke_image(dark_on_light=True)
    rgb = np.stack([grey] * 3, -1)
    check_mnist_like(preprocess(rgb))
    # a drawing canvas: white strokes on a transparent background
    rgba = np.zeros((280, 280, 4), np.uint8)
    cv2.line(rgba, (140, 40), (140, 240), (255, 255, 255, 255), 18)
    p = preprocess(rgba)
    check_mnist_like(p)
    # black strokes on transparent
    rgba2 = np.zeros((280, 280, 4), np.uint8)
    cv2.line(rgba2, (140, 40), (140, 240), (0, 0, 0, 255), 18)
    check_mnist_like(preprocess(rgba2))


def test_photo_like_paper_with_uneven_light():
    h, w = 400, 300
    paper = np.linspace(170, 235, w)[None, :].repeat(h, 0) + np.random.default_rng(0).normal(0, 4, (h, w))
    cv2.circle(paper, (150, 200), 90, 40, 14)
    p = preprocess(np.clip(paper, 0, 255).astype(np.uint8))
    assert p.inverted
    check_mnist_like(p)


@pytest.mark.parametrize("img", [
    np.zeros((280, 280), np.uint8), np.full((280, 280), 255, np.uint8),
    np.zeros((280, 280, 4), np.uint8), np.full((50, 50, 3), 128, np.uint8),
    np.random.default_rng(0).integers(120, 136, (100, 100)).astype(np.uint8),
    np.zeros((1, 1), np.uint8),
])
def test_blank_is_reported_never_guessed(img):
    p = preprocess(img)
    assert p.blank and p.tensor is None


def test_center_by_mass_moves_mass_to_centre():
    digit = np.zeros((20, 10), np.float32)
    digit[:5, :] = 1.0  # all mass at the top
    out = center_by_mass(digit)
    cy, cx = centre_of_mass(out)
    assert abs(cy - 13.5) < 0.3 and abs(cx - 13.5) < 0.3


def test_normalization_uses_given_constants():
    p = preprocess(stroke_image(), mean=0.5, std=0.25)
    assert p.tensor.min().item() == pytest.approx(-2.0, abs=1e-5)


# --- Backgrounds decided from the image (issue 14): what ca4a53a's fixed disc got wrong, and what
# it got right and must keep.

def paper_photo(h, w, light, shadow=None, seed=0):
    """A grey photo of paper: `light` (h×w, 0..255 paper brightness), texture and sensor noise."""
    rng = np.random.default_rng(seed)
    paper = light + cv2.GaussianBlur(rng.normal(0, 3, (h, w)), (0, 0), 2) + rng.normal(0, 3, (h, w))
    return paper


def ink_at(p, mask):
    """The ink image's values where `mask` (in input coordinates) is set."""
    return p.steps["ink"][mask > 0]


@pytest.mark.parametrize("dark_on_light", [False, True])
def test_digit_touching_the_frame_keeps_its_strokes(dark_on_light):
    # a tight crop: a thick 0 whose ring touches all four edges (the border looks "uneven")
    mask = np.zeros((64, 44), np.uint8)
    cv2.ellipse(mask, (22, 32), (17, 27), 0, 0, 360, 255, 10)
    img = 255 - mask if dark_on_light else mask
    p = preprocess(img)
    assert p.inverted == dark_on_light
    check_mnist_like(p)
    core = cv2.erode(mask, np.ones((5, 5), np.uint8))  # the stroke without its edges
    assert ink_at(p, core).min() > 0.9   # not hollowed out
    assert p.steps["ink"][mask == 0].max() < 0.05


def test_strokes_wider_than_a_sixth_of_the_image_under_a_gradient_are_not_hollowed():
    # a marker 50 px wide on a 200 px photo lit from one side: a disc of 1/6 of the image (33 px)
    # would keep part of each stroke as "background" and subtract it
    h = w = 200
    light = np.linspace(150, 230, w)[None, :].repeat(h, 0)
    mask = np.zeros((h, w), np.uint8)
    cv2.line(mask, (100, 20), (100, 180), 255, 50)
    cv2.line(mask, (40, 60), (160, 60), 255, 50)
    img = np.clip(paper_photo(h, w, light) * np.where(mask > 0, 0.25, 1.0), 0, 255).astype(np.uint8)
    p = preprocess(img)
    assert p.inverted
    check_mnist_like(p)
    core = cv2.erode(mask, np.ones((9, 9), np.uint8))
    assert np.percentile(ink_at(p, core), 5) > 0.7
    assert p.steps["ink"][cv2.dilate(mask, np.ones((9, 9), np.uint8)) == 0].max() < 0.05


def test_a_strong_lighting_gradient_and_vignetting_are_not_ink():
    # the dark end of the paper is darker than a global threshold between paper and ink allows
    h, w = 300, 400
    yy, xx = np.mgrid[0:h, 0:w] / np.array([h, w])[:, None, None]
    light = 120 + 110 * xx - 60 * ((xx - 0.7) ** 2 + (yy - 0.5) ** 2)
    mask = np.zeros((h, w), np.uint8)
    cv2.circle(mask, (200, 150), 60, 255, 10)
    img = np.clip(paper_photo(h, w, light) * np.where(mask > 0, 0.3, 1.0), 0, 255).astype(np.uint8)
    p = preprocess(img)
    assert p.inverted
    check_mnist_like(p)
    assert p.bbox == pytest.approx((85, 135, 215, 265), abs=4)  # the circle, not the dark paper


def test_a_soft_shadow_across_the_paper_is_not_ink():
    h = w = 240
    xx = np.mgrid[0:h, 0:w][1].astype(float)
    light = 210 - 60 / (1 + np.exp(-(xx - 150) / 6))   # the right side in shadow, soft edge
    mask = np.zeros((h, w), np.uint8)
    cv2.line(mask, (110, 50), (170, 190), 255, 14)      # a 1 that crosses the shadow's edge
    img = np.clip(paper_photo(h, w, light) * np.where(mask > 0, 0.25, 1.0), 0, 255).astype(np.uint8)
    p = preprocess(img)
    check_mnist_like(p)
    assert p.bbox == pytest.approx((46, 106, 195, 175), abs=4)


def test_noise_specks_on_paper_do_not_stretch_the_digit():
    h, w = 240, 240
    img = paper_photo(h, w, np.full((h, w), 200.0))
    cv2.line(img, (120, 60), (120, 180), 40, 10)
    for y, x in [(10, 10), (220, 30), (20, 225), (230, 230)]:
        cv2.circle(img, (x, y), 1, 40, -1)
    p = preprocess(np.clip(img, 0, 255).astype(np.uint8))
    check_mnist_like(p)
    assert p.bbox == pytest.approx((55, 115, 185, 125), abs=3)


def test_dim_photo_of_white_paper_is_read_as_dark_ink():
    # paper darker than mid-grey, ink darker still
    h, w = 200, 200
    img = paper_photo(h, w, np.linspace(70, 110, w)[None, :].repeat(h, 0))
    cv2.line(img, (100, 40), (100, 160), 15, 12)
    p = preprocess(np.clip(img, 0, 255).astype(np.uint8))
    assert p.inverted
    check_mnist_like(p)
