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
