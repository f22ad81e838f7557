"""The Convolution page in a real browser (headless Chromium): stepping, playing, stride, clicking an
output cell, uploading a photo, both languages. Screenshots go to test-artifacts/screenshots/."""
from __future__ import annotations

import re

import cv2
import numpy as np
import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

TIMEOUT = 60_000


def settle(page) -> None:
    """Wait until Streamlit has finished running the script (no 'Running…' status widget), nothing
    of the previous run is left (stale), and every chart is drawn."""
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " && !document.querySelector('[data-stale=\"true\"]')"
        " && [...document.querySelectorAll('[data-testid=\"stPlotlyChart\"]')]"
        ".every(c => c.querySelector('.main-svg'))", timeout=TIMEOUT)


def open_conv(page, app_url: str) -> None:
    # Visit the app's root first so the navigation is known, then the page itself.
    page.goto(app_url)
    page.wait_for_selector('[data-testid="stApp"]', timeout=TIMEOUT)
    page.wait_for_selector("text=CNN Lab", timeout=TIMEOUT)
    page.goto(f"{app_url}/convolution")
    page.wait_for_selector('[data-testid="stApp"]', timeout=TIMEOUT)
    page.wait_for_selector("text=Step 1 of 9", timeout=TIMEOUT)
    settle(page)


def shot(page, path) -> None:
    """Screenshot of the whole page: Streamlit scrolls inside its main area, so grow the viewport."""
    height = page.evaluate("() => (document.querySelector('[data-testid=\"stMain\"]') || document.body).scrollHeight")
    page.set_viewport_size({"width": 1400, "height": int(min(max(height + 40, 1000), 5000))})
    settle(page)
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": 1400, "height": 1000})


def wait_output(page, expected: str) -> None:
    """Wait until the output grid shows exactly these numbers (row by row, computed cells only)."""
    page.wait_for_function(
        "want => [...document.querySelectorAll('[class*=\"st-key-conv-cs-out_click\"] .textpoint text')]"
        ".map(t => t.textContent).join(' ') === want", arg=expected, timeout=TIMEOUT)


def test_step_forward_click_a_cell_play_and_stride_two(page, app_url, screenshot_dir):
    open_conv(page, app_url)
    wait_output(page, "10")
    page.get_by_text("1×1 + 2×2 + 0×1 + 0×0 + 1×1 + 2×0 + 1×2 + 2×1 + 1×0 = 10").wait_for()
    forward = page.get_by_role("button", name="Step forward")
    for n in (2, 3, 4):
        forward.click()
        page.get_by_text(f"Step {n} of 9").wait_for(timeout=TIMEOUT)
    # the fourth output cell (row 2, column 1) is 18, and the cells before it stay filled
    page.get_by_text("0×1 + 1×2 + 2×1 + 1×0 + 2×1 + 1×0 + 5×2 + 2×1 + 3×0 = 18").wait_for()
    page.locator('[class*="st-key-conv-sum"]', has_text="sum + bias = 18 + 0 = 18").wait_for(timeout=TIMEOUT)
    wait_output(page, "10 12 12 18")
    settle(page)
    shot(page, screenshot_dir / "conv_en_step4.png")

    # click the bottom-right cell of the 3 × 3 output grid: jump to the last step
    chart = page.locator('[class*="st-key-conv-cs-out_click"] .nsewdrag').first
    settle(page)
    chart.scroll_into_view_if_needed()
    box = chart.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 5 / 6, box["y"] + box["height"] * 5 / 6)
    page.get_by_text("Step 9 of 9").wait_for(timeout=TIMEOUT)
    page.locator('[class*="st-key-conv-sum"]', has_text="sum + bias = 3 + 0 = 3").wait_for(timeout=TIMEOUT)
    wait_output(page, "10 12 12 18 16 16 13 9 3")

    # play from the start: the fragment's timer moves the window on its own; pause stops it
    page.get_by_role("button", name="First").click()
    page.get_by_text("Step 1 of 9").wait_for(timeout=TIMEOUT)
    page.locator(".st-key-conv-cs-speed").get_by_role("radio", name="2", exact=True).click()
    settle(page)
    page.get_by_role("button", name="Play").click()
    page.get_by_text(re.compile(r"Step [3-9] of 9")).wait_for(timeout=TIMEOUT)
    page.get_by_role("button", name="Pause").click()
    page.get_by_role("button", name="Play").wait_for(timeout=TIMEOUT)
    settle(page)
    shown = page.get_by_text(re.compile(r"Step \d of 9")).inner_text()
    # Paused: nothing moves any more. The one deliberate wait in these tests: it observes that
    # nothing happens for longer than the player's tick, and a slow machine cannot make it fail.
    page.wait_for_timeout(1200)
    expect(page.get_by_text(re.compile(r"Step \d of 9"))).to_have_text(shown)
    expect(page.get_by_role("button", name="Play")).to_have_count(1)

    # stride 2: the output shrinks to 2 × 2 and the stepper starts again
    page.locator(".st-key-conv-stride").get_by_role("radio", name="2", exact=True).click()
    page.get_by_text("Output size: 2 × 2").wait_for(timeout=TIMEOUT)
    page.get_by_text("Step 1 of 4").wait_for(timeout=TIMEOUT)
    page.get_by_text("Output (2 × 2)").wait_for(timeout=TIMEOUT)
    settle(page)
    shot(page, screenshot_dir / "conv_en_stride2.png")


def test_upload_a_photo_and_see_it_filtered(page, app_url, screenshot_dir, tmp_path):
    open_conv(page, app_url)
    page.get_by_role("tab", name="Kernels on photos").click()
    page.get_by_text("Sample photo: astronaut Eileen Collins").wait_for(timeout=TIMEOUT)
    page.get_by_text("512 × 512 pixels, filtered in").wait_for(timeout=TIMEOUT)
    settle(page)
    shot(page, screenshot_dir / "conv_en_photo_sample.png")

    img = np.zeros((48, 64, 3), np.uint8)
    img[:, 32:] = (250, 180, 40)
    path = tmp_path / "edge.png"
    cv2.imwrite(str(path), img)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(path))
    page.get_by_text("Your photo edge.png, 64 × 48 pixels.").wait_for(timeout=TIMEOUT)
    page.get_by_text("64 × 48 pixels, filtered in").wait_for(timeout=TIMEOUT)
    settle(page)
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=\"stImage\"] img')]"
        ".filter(i => i.complete && i.naturalWidth === 64).length >= 2", timeout=TIMEOUT)
    shot(page, screenshot_dir / "conv_en_photo_upload.png")

    # a file that is not an image: one sentence, the page keeps working
    bad = tmp_path / "notes.png"
    bad.write_text("not an image\n" * 50)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(bad))
    page.get_by_text("This file is not a PNG, JPEG, WebP or BMP image.").wait_for(timeout=TIMEOUT)
    page.get_by_text("filtered in").first.wait_for(timeout=TIMEOUT)


def test_chinese_page(page, app_url, screenshot_dir):
    open_conv(page, app_url)
    page.get_by_text("简体中文").click()
    page.get_by_text("输出尺寸：3 × 3").wait_for(timeout=TIMEOUT)
    page.get_by_role("button", name="下一步").click()
    page.get_by_text("第 2 步，共 9 步").wait_for(timeout=TIMEOUT)
    settle(page)
    shot(page, screenshot_dir / "conv_zh_step2.png")
    page.get_by_role("tab", name="池化").click()
    page.get_by_text("max(1, 1, 5, 6) =").wait_for(timeout=TIMEOUT)
    settle(page)
    shot(page, screenshot_dir / "conv_zh_pool.png")
    page.get_by_role("tab", name="卷积核作用于照片").click()
    page.get_by_text("示例照片：宇航员艾琳·柯林斯").wait_for(timeout=TIMEOUT)
    settle(page)
    shot(page, screenshot_dir / "conv_zh_photo.png")


def expect_jump_boxes(page, row: int, col: int) -> None:
    """The Row and Column pickers above the output grid show this cell (1-based)."""
    # The pickers' keys end with the cell generation (a new widget per cell), hence the prefix
    # match; while a rerun replaces them the old ones can still be in the page for a moment, so
    # wait until exactly one of each is there and shows this cell.
    page.wait_for_function(
        """([row, col]) => {
            const value = which => [...document.querySelectorAll(
                `[class*="st-key-conv-cs-jump_${which}-"] input`)].map(i => i.value);
            const rows = value("row"), cols = value("col");
            return rows.length === 1 && cols.length === 1 && rows[0] === row && cols[0] === col;
        }""", arg=[str(row), str(col)], timeout=TIMEOUT)


def test_row_and_column_boxes_follow_steps_clicks_and_play(page, app_url, screenshot_dir):
    open_conv(page, app_url)
    expect_jump_boxes(page, 1, 1)
    forward = page.get_by_role("button", name="Step forward")
    for n in (2, 3, 4, 5):
        forward.click()
        page.get_by_text(f"Step {n} of 9").wait_for(timeout=TIMEOUT)
    expect_jump_boxes(page, 2, 2)
    page.get_by_role("button", name="Back", exact=True).click()
    page.get_by_text("Step 4 of 9").wait_for(timeout=TIMEOUT)
    expect_jump_boxes(page, 2, 1)
    settle(page)
    shot(page, screenshot_dir / "conv_en_jump_boxes_follow.png")
    # a click on the output grid's bottom-right cell
    chart = page.locator('[class*="st-key-conv-cs-out_click"] .nsewdrag').first
    chart.scroll_into_view_if_needed()
    box = chart.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 5 / 6, box["y"] + box["height"] * 5 / 6)
    page.get_by_text("Step 9 of 9").wait_for(timeout=TIMEOUT)
    expect_jump_boxes(page, 3, 3)
    # play at 8 steps per second from the start: it runs to the end and the boxes come along
    page.get_by_role("button", name="First").click()
    page.get_by_text("Step 1 of 9").wait_for(timeout=TIMEOUT)
    expect_jump_boxes(page, 1, 1)
    page.locator(".st-key-conv-cs-speed").get_by_role("radio", name="8", exact=True).click()
    settle(page)
    page.get_by_role("button", name="Play").click()
    page.get_by_text("Step 9 of 9").wait_for(timeout=TIMEOUT)
    page.get_by_role("button", name="Play").wait_for(timeout=TIMEOUT)  # stopped at the end by itself
    expect_jump_boxes(page, 3, 3)


def test_photo_channel_by_channel_in_both_languages(page, app_url, screenshot_dir):
    open_conv(page, app_url)
    page.get_by_role("tab", name="Kernels on photos").click()
    panel = page.locator(".st-key-conv-img-channels")
    panel.get_by_text("Red (R) input · values 0 to 255").wait_for(timeout=TIMEOUT)
    for text in ("Green (G) input", "Blue (B) input", "Red (R) filtered · values -971 to 975",
                 "Green (G) filtered", "Blue (B) filtered", "Colour photo", "Recombined"):
        expect(panel.get_by_text(text)).to_be_visible(timeout=TIMEOUT)
    # three inputs, three filtered channels, the colour photo and the recombined result, all drawn
    page.wait_for_function(
        "() => [...document.querySelectorAll('.st-key-conv-img-channels [data-testid=\"stImage\"] img')]"
        ".filter(i => i.complete && i.naturalWidth > 0).length === 8", timeout=TIMEOUT)
    settle(page)
    shot(page, screenshot_dir / "conv_en_photo_channels.png")
    # greyscale: one plane, no channel panel
    page.get_by_role("radio", name="Greyscale").click()
    expect(panel).to_have_count(0, timeout=TIMEOUT)

    page.get_by_text("简体中文").click()
    page.get_by_role("radio", name="每个颜色通道").click()  # the greyscale choice was kept
    zh_panel = page.locator(".st-key-conv-img-channels")
    zh_panel.get_by_text("红色 (R) 输入 · 数值 0 到 255").wait_for(timeout=TIMEOUT)
    expect(zh_panel.get_by_text("重新合成")).to_be_visible(timeout=TIMEOUT)
    settle(page)
    shot(page, screenshot_dir / "conv_zh_photo_channels.png")
