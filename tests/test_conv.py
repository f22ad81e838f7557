"""core/conv.py and core/images.py: the step engine against PyTorch, kernels on images, bad files."""
from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import conv
from core.conv import (
    EXAMPLE_INPUT, EXAMPLE_KERNEL, EXAMPLE_OUTPUT, KERNEL_PRESETS, MatrixError, OutputSize,
    conv2d, conv_code, conv_steps, filter_image, format_matrix, output_size, parse_matrix,
    pool_code, pool_steps, to_display,
)
from core.i18n import I18N_DIR
from core.images import MAX_BYTES, ImageError, load_image_bytes, load_image_file

ROOT = I18N_DIR.parent.parent
PHOTO = ROOT / "assets" / "astronaut.png"

HYP = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def torch_conv(x, w, b, stride, padding, dilation, flip=False):
    x = torch.as_tensor(np.asarray(x, dtype=np.float64))
    w = torch.as_tensor(np.asarray(w, dtype=np.float64))
    if flip:
        w = torch.flip(w, dims=[2, 3])
    b = None if b is None else torch.as_tensor(np.asarray(b, dtype=np.float64))
    return F.conv2d(x[None], w, b, stride=stride, padding=padding, dilation=dilation)[0].numpy()


# --------------------------------------------------------------------------- the original example

def test_original_example_numbers():
    r = conv_steps(EXAMPLE_INPUT, EXAMPLE_KERNEL)
    assert r.output[0].tolist() == EXAMPLE_OUTPUT
    assert r.out_shape == (3, 3) and len(r.steps) == 9
    first = r.steps[0]
    assert (first.row, first.col, first.rows, first.cols) == (0, 0, (0, 1, 2), (0, 1, 2))
    assert first.products[0].tolist() == [[1, 4, 0], [0, 1, 0], [2, 2, 0]]
    assert first.partial_sums.tolist() == [10] and first.total == 10 and first.bias == 0
    assert first.channel_formula(0) == "1×1 + 2×2 + 0×1 + 0×0 + 1×1 + 2×0 + 1×2 + 2×1 + 1×0 = 10"
    # the fourth step (after three "step forward") is row 2, column 1 → 18
    fourth = r.steps[3]
    assert (fourth.row, fourth.col, fourth.total) == (1, 0, 18)


def test_original_example_stride_and_padding():
    assert conv_steps(EXAMPLE_INPUT, EXAMPLE_KERNEL, stride=2).output[0].tolist() == [[10, 12], [13, 3]]
    padded = conv_steps(EXAMPLE_INPUT, EXAMPLE_KERNEL, padding=1)
    assert padded.out_shape == (5, 5)
    assert padded.padded.shape == (1, 7, 7)
    assert padded.output[0, 1:4, 1:4].tolist() == EXAMPLE_OUTPUT  # the inside is unchanged
    np.testing.assert_array_equal(padded.output, torch_conv([EXAMPLE_INPUT], [[EXAMPLE_KERNEL]], None, 1, 1, 1))


def test_rgb_example_matches_torch():
    r = conv_steps(conv.EXAMPLE_RGB_INPUT, conv.EXAMPLE_RGB_KERNEL, conv.EXAMPLE_RGB_BIAS,
                   **conv.EXAMPLE_RGB_SETTINGS)
    assert r.input.shape == (3, 5, 5) and r.kernel.shape == (1, 3, 3, 3)
    assert r.out_shape == (3, 3)
    want = torch_conv(conv.EXAMPLE_RGB_INPUT, [conv.EXAMPLE_RGB_KERNEL], [conv.EXAMPLE_RGB_BIAS], 2, 1, 1)
    np.testing.assert_array_equal(r.output, want)
    s = r.steps[4]
    assert s.total == pytest.approx(s.partial_sums.sum() + 1)
    assert len(s.partial_sums) == 3


def test_pool_example():
    mx = pool_steps(conv.EXAMPLE_POOL_INPUT, 2, mode="max")
    assert mx.output[0].tolist() == [[6, 8], [3, 4]]
    assert mx.steps[0].formula("max") == "max(1, 1, 5, 6) = 6"
    assert mx.steps[0].argmax == (1, 1)
    av = pool_steps(conv.EXAMPLE_POOL_INPUT, 2, mode="avg")
    assert av.output[0].tolist() == [[3.25, 5.25], [2, 2]]
    assert av.steps[0].formula("avg") == "(1 + 1 + 5 + 6) / 4 = 3.25"


# --------------------------------------------------------------------------- hypothesis vs PyTorch

@st.composite
def conv_cases(draw, integers: bool):
    c = draw(st.integers(1, 3))
    o = draw(st.integers(1, 2))
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    stride, padding, dilation = draw(st.integers(1, 3)), draw(st.integers(0, 3)), draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if integers:
        x = rng.integers(-9, 10, (c, h, w)).astype(float)
        k = rng.integers(-5, 6, (o, c, kh, kw)).astype(float)
        b = rng.integers(-5, 6, o).astype(float)
    else:
        x = rng.normal(size=(c, h, w))
        k = rng.normal(size=(o, c, kh, kw))
        b = rng.normal(size=o)
    flip = draw(st.booleans())
    return x, k, b, stride, padding, dilation, flip


@HYP
@given(conv_cases(integers=True))
def test_step_engine_equals_conv2d_exactly_on_integers(case):
    x, k, b, stride, padding, dilation, flip = case
    r = conv_steps(x, k, b, stride, padding, dilation, flip)
    ho = output_size(x.shape[1], k.shape[2], stride, padding, dilation)
    wo = output_size(x.shape[2], k.shape[3], stride, padding, dilation)
    assert r.output.shape == (k.shape[0], ho, wo)
    if ho == 0 or wo == 0:
        assert r.empty
        with pytest.raises(RuntimeError):  # PyTorch refuses what the page explains instead
            torch_conv(x, k, b, stride, padding, dilation, flip)
        return
    np.testing.assert_array_equal(r.output, torch_conv(x, k, b, stride, padding, dilation, flip))
    np.testing.assert_array_equal(conv2d(x, k, b, stride, padding, dilation, flip), r.output)
    # every step is self-consistent: products, partial sums, total
    for s in r.steps:
        np.testing.assert_array_equal(s.products, s.window * s.kernel)
        np.testing.assert_array_equal(s.partial_sums, s.products.sum(axis=(1, 2)))
        assert s.total == s.partial_sums.sum() + s.bias == r.output[s.out_channel, s.row, s.col]
        assert r.step_at(s.row, s.col, s.out_channel) == s.index
        assert s.rows == tuple(s.row * stride + dilation * a for a in range(k.shape[2]))


@HYP
@given(conv_cases(integers=False))
def test_step_engine_matches_conv2d_on_floats(case):
    x, k, b, stride, padding, dilation, flip = case
    r = conv_steps(x, k, b, stride, padding, dilation, flip)
    if r.empty:
        return
    want = torch_conv(x.astype(np.float32), k.astype(np.float32), b.astype(np.float32),
                      stride, padding, dilation, flip)
    np.testing.assert_allclose(r.output, want, atol=1e-5, rtol=1e-5)


def test_true_convolution_flips_the_kernel():
    r = conv_steps(EXAMPLE_INPUT, EXAMPLE_KERNEL, flip=True)
    np.testing.assert_array_equal(r.kernel[0, 0], np.array(EXAMPLE_KERNEL)[::-1, ::-1])
    np.testing.assert_array_equal(r.weight[0, 0], EXAMPLE_KERNEL)
    assert r.output[0, 0, 0] == sum(np.array(EXAMPLE_INPUT)[:3, :3].ravel() * np.array(EXAMPLE_KERNEL)[::-1, ::-1].ravel())
    # a symmetric kernel gives the same either way
    sym = [[0, 1, 0], [1, -4, 1], [0, 1, 0]]
    np.testing.assert_array_equal(conv_steps(EXAMPLE_INPUT, sym, flip=True).output,
                                  conv_steps(EXAMPLE_INPUT, sym).output)


@st.composite
def pool_cases(draw):
    c = draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    k = draw(st.integers(1, 4))
    stride = draw(st.integers(1, 4))
    padding = draw(st.integers(0, k // 2))
    seed = draw(st.integers(0, 2**32 - 1))
    x = np.random.default_rng(seed).integers(-9, 10, (c, h, w)).astype(float)
    return x, k, stride, padding


@HYP
@given(pool_cases(), st.sampled_from(["max", "avg"]))
def test_pool_engine_equals_torch(case, mode):
    x, k, stride, padding = case
    r = pool_steps(x, k, stride, padding, mode)
    ho, wo = output_size(x.shape[1], k, stride, padding), output_size(x.shape[2], k, stride, padding)
    assert r.output.shape == (x.shape[0], ho, wo)
    if r.empty:
        return
    fn = F.max_pool2d if mode == "max" else F.avg_pool2d
    want = fn(torch.as_tensor(x)[None], k, stride, padding)[0].numpy()
    np.testing.assert_allclose(r.output, want, rtol=0, atol=1e-12)
    for s in r.steps:
        assert r.step_at(s.row, s.col, s.channel) == s.index
        if mode == "max":
            assert s.window[s.argmax] == s.result == s.window.max()


def test_pool_rejects_too_much_padding_like_torch():
    with pytest.raises(ValueError):
        pool_steps(conv.EXAMPLE_POOL_INPUT, 2, 2, padding=2)
    with pytest.raises(ValueError):
        pool_steps(conv.EXAMPLE_POOL_INPUT, 2, mode="median")


# --------------------------------------------------------------------------- output size

@given(st.integers(1, 12), st.integers(1, 7), st.integers(1, 3), st.integers(0, 3), st.integers(1, 3))
@settings(max_examples=200, deadline=None)
def test_output_size_formula(n, k, s, p, d):
    size = OutputSize(n, k, s, p, d)
    assert size.padded == n + 2 * p and size.span == d * (k - 1) + 1
    expected = (n + 2 * p - d * (k - 1) - 1) // s + 1
    assert size.size == max(expected, 0)
    if size.size:
        # the last window ends inside the padded input; one more stride would not fit
        last_end = (size.size - 1) * s + size.span
        assert last_end <= size.padded < last_end + s
        assert size.unused == size.padded - last_end


def test_empty_output_is_explained_not_crashed():
    r = conv_steps([[1, 2], [3, 4]], np.ones((3, 3)))
    assert r.empty and r.out_shape == (0, 0)
    assert r.size_h.numerator == -1 and r.size_h.size == 0
    assert conv2d([[1, 2], [3, 4]], np.ones((3, 3))).shape == (1, 0, 0)
    assert conv_steps([[1, 2], [3, 4]], np.ones((3, 3)), padding=1).out_shape == (2, 2)


def test_shape_errors_are_clear():
    with pytest.raises(ValueError, match="channels"):
        conv_steps(np.zeros((2, 4, 4)), np.zeros((1, 3, 2, 2)))
    with pytest.raises(ValueError, match="stride"):
        conv_steps(EXAMPLE_INPUT, EXAMPLE_KERNEL, stride=0)


# --------------------------------------------------------------------------- parsing what people type

def test_parse_matrix_accepts_common_ways_of_writing_numbers():
    np.testing.assert_array_equal(parse_matrix("1 2 3\n4 5 6"), [[1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(parse_matrix("1, 2, 3\n4,5,6\n\n"), [[1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(parse_matrix("[[1, 2], [3, 4]]"), [[1, 2], [3, 4]])
    np.testing.assert_array_equal(parse_matrix("−1 +2\n.5 1e1"), [[-1, 2], [0.5, 10]])
    np.testing.assert_allclose(parse_matrix("1/9 1/9"), [[1 / 9, 1 / 9]])
    np.testing.assert_array_equal(parse_matrix("1，2\n3，4"), [[1, 2], [3, 4]])  # full-width comma


@pytest.mark.parametrize("text, code, details", [
    ("", "empty", {}),
    ("  \n ", "empty", {}),
    ("1 2\n3 abc", "not_number", {"row": 2, "col": 2, "token": "abc"}),
    ("1,,2", "empty_entry", {"row": 1, "col": 2}),
    ("1 2 3\n4 5", "ragged", {"row": 2, "count": 2, "expected": 3}),
    ("nan 1", "not_number", {"row": 1, "col": 1, "token": "nan"}),
    ("1e999", "not_number", {"row": 1, "col": 1, "token": "1e999"}),
    ("1/0", "not_number", {"row": 1, "col": 1, "token": "1/0"}),
])
def test_parse_matrix_errors(text, code, details):
    with pytest.raises(MatrixError) as e:
        parse_matrix(text)
    assert e.value.code == code
    assert e.value.details == details
    assert str(e.value)[-1] == "."


def test_parse_matrix_size_limit_and_round_trip():
    with pytest.raises(MatrixError) as e:
        parse_matrix("\n".join(["1 " * 8] * 3), max_rows=7, max_cols=7)
    assert e.value.code == "too_big" and e.value.details["cols"] == 8
    m = np.array([[1, -2.5, 1 / 3], [10, 0, 0]])
    np.testing.assert_allclose(parse_matrix(format_matrix(m)), m, atol=1e-4)
    assert format_matrix(m).splitlines()[0] == " 1  -2.5  0.3333"


def test_resize_and_random():
    m = conv.resize_matrix(np.ones((2, 3, 3)), 2, 4)
    assert m.shape == (2, 2, 4) and m[:, :, 3].sum() == 0 and m[:, :, :3].sum() == 12
    r = conv.random_ints(np.random.default_rng(0), (3, 5, 5), -2, 3)
    assert r.min() >= -2 and r.max() <= 3 and np.all(r == r.round())


def test_number_formatting():
    assert conv.fmt_num(3.0) == "3" and conv.fmt_num(-0.0001) == "0" and conv.fmt_num(1 / 3) == "0.333"
    assert conv.fmt_term(-2) == "(−2)" and conv.fmt_sum(-2) == "−2"
    assert conv.fmt_num(-np.inf) == "−∞"


# --------------------------------------------------------------------------- generated PyTorch code

def run_snippet(code: str) -> np.ndarray:
    """Run the snippet in a fresh interpreter and read back `out` (as the user would run it)."""
    probe = code + "\nimport json as _j\nprint('@@' + _j.dumps(out.tolist()))\n"
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "True" in proc.stdout  # the nn.Conv2d / pooling-layer check in the snippet itself
    return np.array(json.loads(proc.stdout.rsplit("@@", 1)[1]))


def test_generated_conv_code_reproduces_the_page_in_a_subprocess():
    r = conv_steps(conv.EXAMPLE_RGB_INPUT, conv.EXAMPLE_RGB_KERNEL, conv.EXAMPLE_RGB_BIAS,
                   stride=2, padding=1, dilation=1, flip=True)
    np.testing.assert_allclose(run_snippet(conv_code(r)), r.output, atol=1e-5)


@HYP
@given(conv_cases(integers=False))
def test_generated_conv_code_reproduces_the_engine(case):
    x, k, b, stride, padding, dilation, flip = case
    r = conv_steps(x, k, b, stride, padding, dilation, flip)
    if r.empty:
        return
    ns: dict = {}
    exec(conv_code(r, comments={"functional": "中文注释也可以"}), ns)  # noqa: S102
    np.testing.assert_allclose(ns["out"].numpy(), r.output, atol=1e-5, rtol=1e-5)
    assert torch.allclose(ns["out"], ns["out_layer"], atol=1e-5)


@pytest.mark.parametrize("mode", ["max", "avg"])
def test_generated_pool_code_reproduces_the_engine(mode):
    r = pool_steps(np.arange(30, dtype=float).reshape(1, 5, 6) % 7 - 3, 3, 2, 1, mode)
    np.testing.assert_allclose(run_snippet(pool_code(r)), r.output, atol=1e-6)


# --------------------------------------------------------------------------- kernels on images

def test_presets_are_the_textbook_kernels():
    assert set(KERNEL_PRESETS) == {"identity", "box_blur", "gaussian", "sharpen", "laplacian",
                                   "sobel_x", "sobel_y", "prewitt_x", "prewitt_y", "emboss", "outline"}
    np.testing.assert_allclose(KERNEL_PRESETS["box_blur"].kernel, np.full((3, 3), 1 / 9))
    assert KERNEL_PRESETS["gaussian"].kernel.shape == (5, 5)
    for name in ("identity", "box_blur", "gaussian", "sharpen", "emboss"):
        assert KERNEL_PRESETS[name].kernel.sum() == pytest.approx(1)  # keep brightness
    for name in ("laplacian", "sobel_x", "sobel_y", "prewitt_x", "prewitt_y", "outline"):
        assert KERNEL_PRESETS[name].kernel.sum() == 0  # edge detectors: flat areas → 0
    assert conv.kernel_fraction_text(KERNEL_PRESETS["box_blur"].kernel)[0] == "1/9"
    assert conv.kernel_fraction_text(KERNEL_PRESETS["gaussian"].kernel)[0] == "1/256"
    assert conv.kernel_fraction_text(KERNEL_PRESETS["sobel_x"].kernel)[0] == ""


def test_keys_the_page_builds_at_run_time_exist_in_both_languages():
    """The page composes some keys (error codes, options, presets); the catalog test cannot see them."""
    wanted = (
        [f"code_{k}" for k in conv.CODE_COMMENTS_EN]
        + [f"matrix_err_{c}" for c in MatrixError._MESSAGES]
        + [f"img_err_{c}" for c in ("empty", "too_many_bytes", "not_image", "corrupt", "too_many_pixels", "busy")]
        + [f"display_{m}" for m in conv.DISPLAY_MODES]
        + [f"pool_{m}" for m in conv.POOL_MODES]
        + ["img_mode_color", "img_mode_gray", "kernel_custom", "kernel_custom_desc"]
        + [f"tab_{n}" for n in ("steps", "pool", "images", "ideas")]
        + [f"idea_{n}{sfx}" for n in ("feature", "receptive", "shared", "padding", "stride", "pooling", "channels")
           for sfx in ("", "_title")]
    )
    import core.images as images
    assert set(images._MESSAGES) == {"empty", "too_many_bytes", "not_image", "corrupt", "too_many_pixels", "busy"}
    for lang in ("en", "zh"):
        names = json.loads((I18N_DIR / lang / "conv.json").read_text(encoding="utf-8"))
        missing = [k for k in wanted if k not in names]
        assert not missing, f"{lang}: {missing}"


def test_every_preset_has_a_name_in_both_languages():
    for lang in ("en", "zh"):
        names = json.loads((I18N_DIR / lang / "conv.json").read_text(encoding="utf-8"))
        for preset in KERNEL_PRESETS:
            assert f"kernel_{preset}" in names and f"kernel_{preset}_desc" in names


@pytest.fixture(scope="module")
def photo():
    return load_image_file(PHOTO)


def test_sample_photo_ships_and_loads(photo):
    assert photo.shape == (512, 512, 3) and photo.dtype == np.uint8
    assert PHOTO.stat().st_size < 1_000_000
    assert "astronaut.png" in (ROOT / "assets" / "README.md").read_text(encoding="utf-8")


def test_filter_image_equals_the_step_engine_per_channel(photo):
    crop = photo[100:111, 200:209]
    k = KERNEL_PRESETS["sobel_x"].kernel
    out = filter_image(crop, k, stride=2, padding=1)
    for c in range(3):
        want = conv_steps(crop[:, :, c].astype(float), k, stride=2, padding=1).output[0]
        np.testing.assert_allclose(out[:, :, c], want, atol=1e-3)
    gray = filter_image(crop, k, stride=1, padding=0, gray=True)
    want = conv_steps(conv.to_gray(crop).astype(float), k).output[0]
    assert gray.shape == (9, 7)
    np.testing.assert_allclose(gray, want, atol=1e-3)


def test_filter_image_behaves_like_the_kernels_say(photo):
    ident = filter_image(photo, KERNEL_PRESETS["identity"].kernel, padding=1)
    np.testing.assert_array_equal(to_display(ident, "clip"), photo)
    blur = filter_image(photo, KERNEL_PRESETS["box_blur"].kernel, padding=1)
    np.testing.assert_allclose(blur[1:-1, 1:-1], cv2.blur(photo.astype(np.float32), (3, 3))[1:-1, 1:-1], atol=1e-3)
    assert blur.std() < photo.std()  # blurring smooths
    flat = np.full((20, 20, 3), 120, np.uint8)
    edges = filter_image(flat, KERNEL_PRESETS["laplacian"].kernel)  # no padding: no border effect
    assert np.abs(edges).max() == 0  # a flat image has no edges
    assert filter_image(photo, np.ones((3, 3)), stride=2).shape == (255, 255, 3)
    assert filter_image(photo, np.ones((5, 5)), padding=2, gray=True).shape == (512, 512)
    assert filter_image(photo[:2, :2], np.ones((3, 3))).shape == (0, 0, 3)


def test_filter_channels_by_hand_on_a_tiny_photo():
    """A 3×3 photo whose channels differ, a 2×2 kernel, no padding: every number worked out by hand."""
    img = np.zeros((3, 3, 3), np.uint8)
    img[..., 0] = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]        # R
    img[..., 1] = [[10, 0, 10], [0, 10, 0], [10, 0, 10]]   # G
    img[..., 2] = 200                                      # B: flat
    k = np.array([[1, 0], [0, -1]])                        # top-left minus bottom-right
    res = conv.filter_channels(img, k, stride=1, padding=0, mode="abs")
    # R: 1−5, 2−6 / 4−8, 5−9 ; G: 10−10, 0−0 / 0−0, 10−10 ; B: 200−200 everywhere
    assert res.raw.tolist() == [[[-4, -4], [-4, -4]], [[0, 0], [0, 0]], [[0, 0], [0, 0]]]
    assert res.inputs[0].tolist() == [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    assert res.input_range(0) == (1, 9) and res.input_range(1) == (0, 10) and res.input_range(2) == (200, 200)
    assert res.raw_range(0) == (-4.0, -4.0) and res.raw_range(2) == (0.0, 0.0)
    assert res.shown[0].tolist() == [[4, 4], [4, 4]]   # abs
    assert res.recombined.shape == (2, 2, 3) and res.recombined[0, 0].tolist() == [4, 0, 0]
    # stretch maps all three channels with ONE scale: −4 → 0 (black) and 0 → 255
    st_ = conv.filter_channels(img, k, mode="stretch")
    assert st_.shown[0].tolist() == [[0, 0], [0, 0]] and st_.shown[1].tolist() == [[255, 255], [255, 255]]


def test_filter_channels_equals_filter_image_and_conv2d_per_channel(photo):
    crop = photo[200:231, 150:177]
    for name, stride, padding in (("sobel_x", 1, 1), ("gaussian", 2, 2), ("sharpen", 3, 0)):
        k = KERNEL_PRESETS[name].kernel
        res = conv.filter_channels(crop, k, stride, padding, mode="clip")
        together = filter_image(crop, k, stride, padding)
        np.testing.assert_allclose(conv.recombine_channels(res.raw), together, atol=1e-3)
        np.testing.assert_array_equal(res.recombined, to_display(together, "clip"))
        for c in range(3):  # each channel is its own one-channel convolution
            x = torch.as_tensor(crop[:, :, c].astype(np.float64))[None, None]
            want = F.conv2d(x, torch.as_tensor(np.asarray(k, np.float64))[None, None], stride=stride,
                            padding=padding)[0, 0].numpy()
            np.testing.assert_allclose(res.raw[c], want, atol=1e-3)
    # flip (true convolution) and a kernel too big for the photo
    k = KERNEL_PRESETS["sobel_y"].kernel
    np.testing.assert_allclose(conv.filter_channels(crop, k, flip=True).raw,
                               conv.split_channels(filter_image(crop, k, flip=True)), atol=1e-3)
    empty = conv.filter_channels(crop[:2, :2], np.ones((3, 3)))
    assert empty.raw.shape == (3, 0, 0) and empty.recombined.shape == (0, 0, 3)


def test_split_recombine_and_tint():
    img = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    planes = conv.split_channels(img)
    assert planes.shape == (3, 2, 3) and planes[1].tolist() == img[..., 1].tolist()
    np.testing.assert_array_equal(conv.recombine_channels(planes), img)
    green = conv.tint_channel(planes[1], 1)
    assert green.shape == (2, 3, 3) and green[0, 1].tolist() == [0, img[0, 1, 1], 0]
    with pytest.raises(ValueError):
        conv.split_channels(img[..., 0])


def test_display_modes():
    r = np.array([[-300.0, -20.0], [100.0, 400.0]])
    assert to_display(r, "clip").tolist() == [[0, 0], [100, 255]]
    assert to_display(r, "abs").tolist() == [[255, 20], [100, 255]]
    assert to_display(r, "stretch").tolist() == [[0, 102], [146, 255]]
    assert to_display(np.array([[50.0, 200.0]]), "stretch").tolist() == [[0, 255]]  # the smallest is black
    assert conv.auto_display_mode(KERNEL_PRESETS["sobel_y"].kernel) == "abs"
    assert conv.auto_display_mode(KERNEL_PRESETS["sharpen"].kernel) == "clip"
    k, ok = conv.normalize_kernel(np.ones((3, 3)))
    assert ok and k.sum() == pytest.approx(1)
    assert conv.normalize_kernel(KERNEL_PRESETS["sobel_x"].kernel)[1] is False


# --------------------------------------------------------------------------- loading images

def encode(img: np.ndarray, ext: str, params=()) -> bytes:
    ok, buf = cv2.imencode(ext, cv2.cvtColor(img, cv2.COLOR_RGB2BGR), list(params))
    assert ok
    return buf.tobytes()


@pytest.mark.parametrize("ext", [".png", ".jpg", ".webp", ".bmp"])
def test_loads_every_supported_format(photo, ext):
    small = photo[::4, ::4]
    img = load_image_bytes(encode(small, ext))
    assert img.shape == small.shape and img.dtype == np.uint8
    if ext in (".png", ".bmp"):
        np.testing.assert_array_equal(img, small)
    else:
        assert np.abs(img.astype(int) - small).mean() < 12


def test_grey_alpha_and_16_bit_images_become_rgb():
    grey = np.arange(64, dtype=np.uint8).reshape(8, 8)
    _, buf = cv2.imencode(".png", grey)
    assert load_image_bytes(buf.tobytes()).shape == (8, 8, 3)
    bgra = np.zeros((4, 4, 4), np.uint8)
    bgra[..., 2] = 200  # red, fully transparent on the left half
    bgra[:, 2:, 3] = 255
    _, buf = cv2.imencode(".png", bgra)
    img = load_image_bytes(buf.tobytes())
    assert img[0, 0].tolist() == [255, 255, 255] and img[0, 3].tolist() == [200, 0, 0]
    _, buf = cv2.imencode(".png", np.full((3, 3, 3), 65535, np.uint16))
    assert load_image_bytes(buf.tobytes()).max() == 255


@pytest.mark.parametrize("data, code", [
    (b"", "empty"),
    (b"hello, this is a text file\n" * 10, "not_image"),
    (b"%PDF-1.7\n" + b"0" * 100, "not_image"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "corrupt"),
    (b"\xff\xd8\xff\xe0" + b"\x00" * 40, "corrupt"),
])
def test_bad_files_raise_one_clear_sentence(data, code):
    with pytest.raises(ImageError) as e:
        load_image_bytes(data)
    assert e.value.code == code
    msg = str(e.value)
    assert msg.endswith(".") and msg.count(".") <= 2 and "\n" not in msg
    assert isinstance(e.value, ValueError)


@pytest.mark.parametrize("ext", [".png", ".jpg", ".webp", ".bmp"])
def test_truncated_images_are_corrupt(photo, ext):
    data = encode(photo[::2, ::2], ext)
    with pytest.raises(ImageError) as e:
        load_image_bytes(data[: len(data) * 2 // 3])
    assert e.value.code == "corrupt"
    assert e.value.details["format"] in str(e.value)


def test_too_many_bytes_is_refused_before_decoding():
    with pytest.raises(ImageError) as e:
        load_image_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * MAX_BYTES)
    assert e.value.code == "too_many_bytes"
    assert "20 MB" in str(e.value)


@pytest.mark.parametrize("ext", [".png", ".jpg", ".bmp"])
def test_too_many_pixels_is_refused(ext):
    img = np.zeros((8, 4100, 3), np.uint8)
    with pytest.raises(ImageError) as e:
        load_image_bytes(encode(img, ext))
    assert e.value.code == "too_many_pixels"
    assert e.value.details["width"] == 4100 and "4096×4096" in str(e.value)
    assert load_image_bytes(encode(np.zeros((8, 4096, 3), np.uint8), ext)).shape == (8, 4096, 3)


def test_too_many_pixels_webp_header_is_read():
    # WebP's own limit is 16383 px; a lossless 4100-wide strip exercises the VP8L header
    data = encode(np.zeros((2, 4100, 3), np.uint8), ".webp", [cv2.IMWRITE_WEBP_QUALITY, 101])
    with pytest.raises(ImageError) as e:
        load_image_bytes(data)
    assert e.value.code == "too_many_pixels"
    lossy = encode(np.zeros((2, 4100, 3), np.uint8), ".webp", [cv2.IMWRITE_WEBP_QUALITY, 80])
    with pytest.raises(ImageError):
        load_image_bytes(lossy)


def test_fit_within_and_png_round_trip(photo):
    from core.images import encode_png, fit_within
    assert fit_within(photo, 1024) is photo
    assert fit_within(photo, 100).shape == (100, 100, 3)
    np.testing.assert_array_equal(load_image_bytes(encode_png(photo)), photo)
