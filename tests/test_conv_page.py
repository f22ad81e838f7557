"""The Convolution page under Streamlit's AppTest: numbers shown, editing, settings, bad entries,
pooling, photos, both languages. Each test drives the page the way a user would (widgets only)."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core import conv as cv
from tests.helpers import page_app

ROOT = Path(__file__).resolve().parent.parent
TABS_EN = {"steps": "Step by step", "pool": "Pooling", "images": "Kernels on photos", "ideas": "Key ideas"}


def open_page(lang: str = "en", tab: str | None = None) -> AppTest:
    at = page_app("pages.convolution")
    at.session_state["lang"] = lang
    if tab is not None:
        at.session_state["conv.tab"] = tab
    at.run()
    assert not at.exception, at.exception
    return at


def run(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, at.exception
    return at


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [s.value for s in at.subheader] + [c.value for c in at.caption]
    return "\n".join(parts)


def total_line(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith(("**Output[", "**输出[")))


def step_title(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith(("**Step ", "**第 ")))


# --------------------------------------------------------------------------- default example

def test_opens_on_the_original_example():
    at = open_page()
    assert at.title[0].value == "Convolution"
    assert [t.label for t in at.tabs] == list(TABS_EN.values())
    body = texts(at)
    assert "Output size: 3 × 3" in body
    assert "1×1 + 2×2 + 0×1 + 0×0 + 1×1 + 2×0 + 1×2 + 2×1 + 1×0 = 10" in body  # how 10 is made
    assert total_line(at) == "**Output[1, 1]** = sum + bias = 10 + 0 = **10**"
    assert step_title(at).startswith("**Step 1 of 9**")
    assert at.text_area(key="conv.x_text.0").value.splitlines()[0].split() == ["1", "2", "0", "3", "1"]
    assert at.text_area(key="conv.w_text.0").value.split() == ["1", "2", "1", "0", "1", "0", "2", "1", "0"]
    # the formula is written out with the current numbers
    latex = [x.value for x in at.latex]
    assert any(r"\frac{5 + 2\cdot0 - 1\cdot(3-1) - 1}{1}" in x and r"\mathbf{3}" in x for x in latex)
    # the runnable code panel holds the same tensors and settings
    code = at.code[0].value
    assert "F.conv2d(x, weight, bias, stride=1, padding=0, dilation=1)" in code
    ns: dict = {}
    exec(code, ns)  # noqa: S102
    assert ns["out"].tolist() == [cv.EXAMPLE_OUTPUT]


def test_step_forward_three_times_shows_18_then_jump_and_back():
    at = open_page()
    for _ in range(3):
        at.button(key="conv.cs.b_fwd").click()
        run(at)
    assert step_title(at).startswith("**Step 4 of 9**: output cell row 2, column 1")
    assert total_line(at).endswith("= **18**")
    at.button(key="conv.cs.b_back").click()
    run(at)
    assert total_line(at).endswith("= **12**")
    # jump by row and column
    jump_box(at, "row").set_value(3)
    jump_box(at, "col").set_value(2)
    run(at)
    assert step_title(at).startswith("**Step 3 of 9**")  # choosing alone does not move
    at.button(key="conv.cs.b_jump").click()
    run(at)
    assert step_title(at).startswith("**Step 8 of 9**") and total_line(at).endswith("= **9**")
    jump_box(at, "col").set_value(3)
    at.button(key="conv.cs.b_jump").click()
    run(at)
    assert step_title(at).startswith("**Step 9 of 9**")
    assert total_line(at).endswith("= **3**")
    assert at.button(key="conv.cs.b_fwd").disabled and at.button(key="conv.cs.b_last").disabled
    at.button(key="conv.cs.b_first").click()
    run(at)
    assert total_line(at).endswith("= **10**")
    assert at.button(key="conv.cs.b_back").disabled


def jump_box(at: AppTest, which: str, prefix: str = "conv.cs"):
    """The Row ("row") or Column ("col") picker: its key carries the cell generation, so it is a
    new widget each time the cell moves; exactly one is on the page."""
    boxes = [s for s in at.selectbox if (s.key or "").startswith(f"{prefix}.jump_{which}.")]
    assert len(boxes) == 1, [s.key for s in boxes]
    return boxes[0]


def jump_boxes(at: AppTest, prefix: str = "conv.cs") -> tuple[int, int]:
    return jump_box(at, "row", prefix).value, jump_box(at, "col", prefix).value


def test_row_and_column_boxes_follow_the_current_step():
    at = open_page()
    assert jump_boxes(at) == (1, 1)
    for _ in range(4):
        at.button(key="conv.cs.b_fwd").click()
        run(at)
    assert step_title(at).startswith("**Step 5 of 9**: output cell row 2, column 2")
    assert jump_boxes(at) == (2, 2)
    at.button(key="conv.cs.b_back").click()
    run(at)
    assert jump_boxes(at) == (2, 1)
    at.button(key="conv.cs.b_last").click()
    run(at)
    assert jump_boxes(at) == (3, 3)
    # a row picked by hand stays until Go (or a step) moves the window
    jump_box(at, "row").set_value(1)
    run(at)
    assert jump_boxes(at) == (1, 3) and step_title(at).startswith("**Step 9 of 9**")
    at.button(key="conv.cs.b_first").click()
    run(at)
    assert jump_boxes(at) == (1, 1)
    # playing: each automatic step moves the boxes too (the fragment's tick, run by hand here)
    at.session_state["conv.cs.speed"] = "8"
    at.button(key="conv.cs.b_play").click()
    run(at)
    at.session_state["conv.cs.start"] = (0.0, 0)  # long ago: the clock calls for the last step
    run(at)
    assert step_title(at).startswith("**Step 9 of 9**") and jump_boxes(at) == (3, 3)
    # the pooling stepper has its own boxes
    at = open_page(tab=TABS_EN["pool"])
    at.button(key="conv.ps.b_fwd").click()
    run(at)
    assert jump_boxes(at, "conv.ps") == (1, 2)


def test_play_starts_and_pause_stops():
    at = open_page()
    at.button(key="conv.cs.b_play").click()
    run(at)
    assert at.session_state["conv.cs.playing"] is True
    assert at.button(key="conv.cs.b_pause").label == "Pause"
    assert not [b for b in at.button if b.key == "conv.cs.b_play"]
    at.button(key="conv.cs.b_pause").click()
    run(at)
    assert at.session_state["conv.cs.playing"] is False
    assert at.button(key="conv.cs.b_play").label == "Play"
    # a manual step while playing stops the animation
    at.button(key="conv.cs.b_play").click()
    run(at)
    at.button(key="conv.cs.b_fwd").click()
    run(at)
    assert at.session_state["conv.cs.playing"] is False


# --------------------------------------------------------------------------- settings

def test_stride_two_and_padding_one():
    at = open_page()
    at.segmented_control(key="conv.stride").set_value(2)
    run(at)
    assert "Output size: 2 × 2" in texts(at)
    at.button(key="conv.cs.b_last").click()
    run(at)
    assert total_line(at).endswith("= **3**")  # [[10, 12], [13, 3]]
    at.segmented_control(key="conv.stride").set_value(1)
    at.segmented_control(key="conv.padding").set_value(1)
    run(at)
    body = texts(at)
    assert "Output size: 5 × 5" in body and "Padding 1 keeps the size" in body
    assert step_title(at).startswith("**Step 1 of 25**")
    assert "padding=1" in at.code[0].value


def test_dilation_bias_and_true_convolution():
    at = open_page()
    at.segmented_control(key="conv.dilation").set_value(2)
    run(at)
    assert "Output size: 1 × 1" in texts(at)
    want = cv.conv_steps(cv.EXAMPLE_INPUT, cv.EXAMPLE_KERNEL, dilation=2).output[0, 0, 0]
    assert total_line(at).endswith(f"= **{cv.fmt_num(want)}**")
    at.segmented_control(key="conv.dilation").set_value(1)
    at.number_input(key="conv.bias").set_value(-2.5)
    at.toggle(key="conv.flip").set_value(True)
    run(at)
    flipped = cv.conv_steps(cv.EXAMPLE_INPUT, cv.EXAMPLE_KERNEL, -2.5, flip=True)
    assert total_line(at).endswith(f"+ (−2.5) = **{cv.fmt_sum(flipped.output[0, 0, 0])}**")
    assert "torch.flip(weight, dims=[2, 3])" in at.code[0].value
    ns: dict = {}
    exec(at.code[0].value, ns)  # noqa: S102
    np.testing.assert_allclose(ns["out"].numpy(), flipped.output, atol=1e-5)


def test_no_output_is_explained():
    at = open_page()
    at.number_input(key="conv.kh").set_value(7)
    run(at)
    assert "Output size: 0 × 3" in texts(at)
    warning = at.warning[0].value
    assert "No output" in warning and "7 cells" in warning and "only 5 cells" in warning
    assert not [b for b in at.button if b.key == "conv.cs.b_fwd"]  # no stepper for nothing
    at.segmented_control(key="conv.padding").set_value(1)
    run(at)
    assert "Output size: 1 × 5" in texts(at) and not at.warning


def test_three_channel_example_random_and_reset():
    at = open_page()
    at.button(key="conv.b_rgb").click()
    run(at)
    r = cv.conv_steps(cv.EXAMPLE_RGB_INPUT, cv.EXAMPLE_RGB_KERNEL, cv.EXAMPLE_RGB_BIAS, **cv.EXAMPLE_RGB_SETTINGS)
    body = texts(at)
    assert "Output size: 3 × 3" in body
    assert all(f"**Channel {c}:**" in body for c in (1, 2, 3))
    assert total_line(at).endswith(f"+ 1 = **{cv.fmt_sum(r.output[0, 0, 0])}**")
    assert len([ta for ta in at.text_area if ta.key.startswith("conv.x_text.")]) == 3
    ns: dict = {}
    exec(at.code[0].value, ns)  # noqa: S102
    np.testing.assert_allclose(ns["out"].numpy(), r.output)
    # fewer channels keeps the first ones
    at.segmented_control(key="conv.C").set_value(1)
    run(at)
    assert len([ta for ta in at.text_area if ta.key.startswith("conv.x_text.")]) == 1
    at.button(key="conv.b_random").click()
    run(at)
    x = cv.parse_matrix(at.text_area(key="conv.x_text.0").value)
    assert x.shape == (5, 5) and x.min() >= 0 and x.max() <= 5
    at.button(key="conv.b_reset").click()
    run(at)
    assert total_line(at) == "**Output[1, 1]** = sum + bias = 10 + 0 = **10**"
    assert at.segmented_control(key="conv.stride").value == 1


# --------------------------------------------------------------------------- editing numbers

def test_editing_cells_changes_the_result():
    at = open_page()
    at.text_area(key="conv.x_text.0").input("1 1 1 1 1\n1 1 1 1 1\n1 1 1 1 1\n1 1 1 1 1\n1 1 1 1 1")
    run(at)
    assert total_line(at).endswith("= **8**")  # the kernel's weights add up to 8
    at.text_area(key="conv.w_text.0").input("0 0 0\n0 2 0\n0 0 0")
    run(at)
    assert total_line(at).endswith("= **2**")
    assert not at.error


def test_typing_a_bigger_grid_resizes_and_size_inputs_resize():
    at = open_page()
    at.text_area(key="conv.x_text.0").input("[[1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1]," + " [0, 0, 0, 0, 0, 0]," * 3 + " [1/2, 1, 1, 1, 1, 1]]")
    run(at)
    assert at.number_input(key="conv.H").value == 6 and at.number_input(key="conv.W").value == 6
    assert "Output size: 4 × 4" in texts(at)
    at.number_input(key="conv.W").set_value(3)
    run(at)
    assert "Output size: 4 × 1" in texts(at)
    assert at.text_area(key="conv.x_text.0").value.splitlines()[0].split() == ["1", "2", "3"]
    at.number_input(key="conv.kw").set_value(1)
    run(at)
    assert "Output size: 4 × 3" in texts(at)


@pytest.mark.parametrize("text, message", [
    ("1 2 0 3 1\n0 1 x 3 1", "Row 2, entry 3: “x” is not a number."),
    ("", "This box is empty"),
    ("1,,2", "Row 1, entry 2 is empty"),
    ("1 2 3\n4 5", "Row 2 has 2 numbers but row 1 has 3"),
    ("\n".join(["1 " * 13] * 2), "at most 12×12"),
])
def test_invalid_entries_show_an_inline_message_and_keep_the_page(text, message):
    at = open_page()
    at.text_area(key="conv.x_text.0").input(text)
    run(at)
    assert len(at.error) == 1
    assert message in at.error[0].value and "last valid numbers" in at.error[0].value
    assert total_line(at).endswith("= **10**")  # still the last valid input
    assert "Output size: 3 × 3" in texts(at)
    # the user fixes the entry: the message goes away
    at.text_area(key="conv.x_text.0").input("1 2\n3 4")
    at.number_input(key="conv.kh").set_value(2)
    run(at)
    at.text_area(key="conv.w_text.0").input("1 1\n1 1")
    run(at)
    assert not at.error and total_line(at).endswith("= **10**")


def test_invalid_kernel_entry_inline_in_chinese():
    at = open_page("zh")
    at.text_area(key="conv.w_text.0").input("1 2 1\n0 abc 0\n2 1 0")
    run(at)
    assert at.error[0].value.startswith("第 2 行第 2 个：“abc”不是数字。")
    assert total_line(at) == "**输出[1, 1]** = 求和 + 偏置 = 10 + 0 = **10**"


# --------------------------------------------------------------------------- Chinese

def test_chinese_page():
    at = open_page("zh")
    assert at.title[0].value == "卷积"
    assert [t.label for t in at.tabs] == ["逐步演示", "池化", "卷积核作用于照片", "核心概念"]
    body = texts(at)
    assert "输出尺寸：3 × 3" in body and "乘积之和" in body
    assert step_title(at).startswith("**第 1 步，共 9 步**")
    assert at.button(key="conv.cs.b_fwd").label == "下一步"
    assert "# 函数形式" in at.code[0].value
    at.segmented_control(key="conv.stride").set_value(2)
    run(at)
    assert "输出尺寸：2 × 2" in texts(at)


def test_dilation_reads_kong_dong_in_chinese():
    """Dilated convolution is 空洞卷积 in Chinese: the control, its help, the formula's legend and
    the notes say 空洞, never 膨胀 (a learner's report)."""
    at = open_page("zh")
    control = at.segmented_control(key="conv.dilation")
    assert control.label == "空洞" and "空洞为 2 时" in control.help
    assert "D：空洞（dilation）" in texts(at)
    at.segmented_control(key="conv.dilation").set_value(3)
    run(at)
    assert any("空洞" in w.value for w in at.warning)  # 5×5 input, dilation 3: no output, explained
    at = open_page("zh", tab="核心概念")
    assert "空洞为 D 时" in texts(at)
    catalog = (ROOT / "assets" / "i18n" / "zh" / "conv.json").read_text(encoding="utf-8")
    assert "膨胀" not in catalog and "扩张" not in catalog


def test_language_switch_keeps_the_tab():
    at = open_page("en", tab=TABS_EN["pool"])
    at.session_state["lang"] = "zh"
    run(at)
    assert at.session_state["conv.tab"] == "池化"
    assert "最大池化" in texts(at) or "max(" in texts(at)


# --------------------------------------------------------------------------- pooling

def test_pooling_max_and_average():
    at = open_page(tab=TABS_EN["pool"])
    assert total_line(at) == "**Output[1, 1]** = max(1, 1, 5, 6) = **6**"
    assert "Output size: 2 × 2" in texts(at)
    at.button(key="conv.ps.b_fwd").click()
    run(at)
    assert total_line(at).endswith("= **8**")
    at.segmented_control(key="conv.pool.mode").set_value("avg")
    run(at)
    assert total_line(at) == "**Output[1, 1]** = (1 + 1 + 5 + 6) / 4 = **3.25**"
    assert "F.avg_pool2d(x, kernel_size=2, stride=2, padding=0)" in at.code[0].value
    at.segmented_control(key="conv.pool.k").set_value(3)
    at.segmented_control(key="conv.pool.stride").set_value(1)
    run(at)
    at.segmented_control(key="conv.pool.padding").set_value(1)
    run(at)
    assert "Output size: 4 × 4" in texts(at)
    assert "count the padded zeros" in texts(at) or "counts the padded zeros" in texts(at)
    ns: dict = {}
    exec(at.code[0].value, ns)  # noqa: S102
    want = cv.pool_steps(cv.EXAMPLE_POOL_INPUT, 3, 1, 1, "avg").output
    np.testing.assert_allclose(ns["out"].numpy(), want, atol=1e-6)
    # a window size whose allowed padding is smaller clamps the padding
    at.segmented_control(key="conv.pool.k").set_value(1)
    run(at)
    assert at.segmented_control(key="conv.pool.padding").value == 0


def test_pooling_invalid_entry():
    at = open_page(tab=TABS_EN["pool"])
    at.text_area(key="conv.pool.x_text.0").input("1 2\n3 ?")
    run(at)
    assert "“?” is not a number" in at.error[0].value
    assert total_line(at).endswith("= **6**")


# --------------------------------------------------------------------------- photos

def png_bytes(img: np.ndarray, ext: str = ".png") -> bytes:
    ok, buf = cv2.imencode(ext, cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    assert ok
    return buf.tobytes()


def test_photo_tab_sample_upload_and_bad_files():
    at = open_page(tab=TABS_EN["images"])
    body = texts(at)
    assert "Sample photo: astronaut Eileen Collins" in body and "512 × 512 pixels, filtered in" in body
    assert len(at.get("image")) >= 10  # original, result and the 8-kernel comparison grid
    uploader = at.file_uploader(key="conv.img.upload")
    img = np.zeros((48, 64, 3), np.uint8)
    img[:, 32:] = 255  # one vertical edge
    uploader.set_value(("edge.png", png_bytes(img), "image/png"))
    run(at)
    body = texts(at)
    assert "Your photo edge.png, 64 × 48 pixels." in body
    assert "64 × 48 pixels, filtered in" in body  # Sobel X, padding 1: same size
    assert not at.error
    # grey mode, stride 2, no padding
    at.segmented_control(key="conv.img.gray").set_value("gray")
    at.segmented_control(key="conv.img.stride").set_value(2)
    at.segmented_control(key="conv.img.padding").set_value(0)
    run(at)
    assert "31 × 23 pixels, filtered in" in texts(at)
    # a text file renamed .png: one sentence, the previous photo stays
    at.file_uploader(key="conv.img.upload").set_value(("notes.png", b"just some text\n" * 20, "image/png"))
    run(at)
    assert at.error[0].value.startswith("This file is not a PNG, JPEG, WebP or BMP image.")
    assert "Sample photo" in texts(at)
    # a cut-off JPEG
    data = png_bytes(cv2.resize(img, (256, 256)), ".jpg")
    at.file_uploader(key="conv.img.upload").set_value(("cut.jpg", data[: len(data) // 2], "image/jpeg"))
    run(at)
    assert "This JPEG file is damaged or incomplete" in at.error[0].value
    # too many pixels
    at.file_uploader(key="conv.img.upload").set_value(("wide.png", png_bytes(np.zeros((2, 4200, 3), np.uint8)),
                                                        "image/png"))
    run(at)
    assert "4200×2 pixels" in at.error[0].value and "4096×4096" in at.error[0].value


def channel_captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption if "· values" in c.value or "· 数值" in c.value]


def test_photo_per_channel_shows_r_g_b_inputs_outputs_and_the_recombined_image():
    at = open_page(tab=TABS_EN["images"])
    assert at.segmented_control(key="conv.img.gray").value == "color"
    body = texts(at)
    assert "Channel by channel" in body
    assert channel_captions(at) == [
        "**Red (R)** input · values 0 to 255", "**Green (G)** input · values 0 to 255",
        "**Blue (B)** input · values 0 to 255", "**Red (R)** filtered · values -971 to 975",
        "**Green (G)** filtered · values -941 to 960", "**Blue (B)** filtered · values -980 to 991",
    ]
    assert "**Recombined** = the three filtered channels stacked" in body
    assert "shown with “Absolute value”" in body
    # the images: R, G, B in their own colours, and the recombined one equals the result
    img = np.zeros((48, 64, 3), np.uint8)
    img[:, 32:] = (250, 180, 40)  # an orange right half: one vertical edge, a different size per channel
    at.file_uploader(key="conv.img.upload").set_value(("edge.png", png_bytes(img), "image/png"))
    run(at)
    assert channel_captions(at) == [
        "**Red (R)** input · values 0 to 250", "**Green (G)** input · values 0 to 180",
        "**Blue (B)** input · values 0 to 40", "**Red (R)** filtered · values -1000 to 1000",
        "**Green (G)** filtered · values -720 to 720", "**Blue (B)** filtered · values -160 to 160",
    ]
    # Sobel X, padding 1: the edge columns hold 4 × the channel's value (the top and bottom row 3 ×)
    want = cv.filter_channels(img, cv.KERNEL_PRESETS["sobel_x"].kernel, 1, 1, "abs")
    assert want.raw[0, 10, 31] == 1000 and want.raw[2, 10, 32] == 160
    colour_images = len(at.get("image"))
    # greyscale mode: no channel panel (8 pictures fewer: 3 inputs, 3 outputs, colour, recombined)
    at.segmented_control(key="conv.img.gray").set_value("gray")
    run(at)
    assert "Channel by channel" not in texts(at) and not channel_captions(at)
    assert len(at.get("image")) == colour_images - 8


def test_photo_per_channel_in_chinese():
    at = open_page("zh", tab="卷积核作用于照片")
    body = texts(at)
    assert "逐个通道" in body
    captions = channel_captions(at)
    assert captions[0] == "**红色 (R)** 输入 · 数值 0 到 255" and captions[3] == "**红色 (R)** 卷积后 · 数值 -971 到 975"
    assert "**重新合成** = 三个卷积后的通道叠在一起" in body


def test_photo_custom_kernel_and_errors_in_chinese():
    at = open_page("zh", tab="卷积核作用于照片")
    assert at.selectbox(key="conv.img.preset").options[-1] == "自定义…"
    at.session_state["conv.img.preset"] = "custom"  # AppTest cannot map translated labels back
    run(at)
    at.text_area(key="conv.img.custom").input("1 1 1\n1 1 1\n1 1 1")
    at.checkbox(key="conv.img.normalize").check()
    run(at)
    body = texts(at)
    assert "已除以权重之和。" in body and "512 × 512 像素" in body
    at.text_area(key="conv.img.custom").input("1 1\n1 x")
    run(at)
    assert "“x”不是数字" in at.error[0].value
    assert "请先修正上面的卷积核" in "\n".join(i.value for i in at.info)
    at.file_uploader(key="conv.img.upload").set_value(("a.bmp", b"BM" + b"\x00" * 10, "image/bmp"))
    run(at)
    assert any("这个文件不是 PNG" in e.value or "已损坏" in e.value for e in at.error)


def test_key_ideas_tab_in_both_languages():
    at = open_page(tab=TABS_EN["ideas"])
    body = texts(at)
    for phrase in ("feature detector", "Receptive field", "Shared weights", "padding keeps the size",
                   "stride shrinks it"):
        assert phrase in body
    at = open_page("zh", tab="核心概念")
    assert "感受野" in texts(at) and "权重共享" in texts(at)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_photo_over_the_servers_limit_is_refused_with_one_sentence(lang, monkeypatch):
    """The uploader carries this server's limit (CNN_LAB_MAX_IMAGE_MB) so the browser refuses a
    bigger file before sending it; a file that gets through anyway is refused from its size alone."""
    monkeypatch.setenv("CNN_LAB_MAX_IMAGE_MB", "1")
    at = open_page(lang, tab=TABS_EN["images"] if lang == "en" else "卷积核作用于照片")
    uploader = at.file_uploader(key="conv.img.upload")
    assert uploader.proto.max_upload_size_mb == 1
    assert ("At most 1 MB" if lang == "en" else "最大 1 MB") in uploader.help
    uploader.set_value(("big.png", b"\x89PNG" + b"\x00" * (3 * 2**19), "image/png"))
    run(at)
    expected = {"en": "The file is 1.5 MB; images may be at most 1 MB. The page keeps showing the previous photo.",
                "zh": "文件大小为 1.5 MB；图片最大只能是 1 MB。"}
    assert len(at.error) == 1 and at.error[0].value.startswith(expected[lang])
    assert ("Sample photo" if lang == "en" else "示例照片") in texts(at)
