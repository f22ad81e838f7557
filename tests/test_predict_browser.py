"""Predict page in headless Chromium: draw with the mouse, clear, upload, click into the explorer.

Uses the shared server from conftest (a temporary copy of checkpoints/, MNIST from the data dir).
The digits drawn here are only recognised by a trained model, so these tests need the bundled
checkpoints/mnist-default.safetensors. Screenshots go to the folder conftest prints.
"""
from __future__ import annotations

import json
import math
import re

import cv2
import numpy as np
import pytest
from playwright.sync_api import expect

from core.checkpoint import DEFAULT_CHECKPOINT

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not DEFAULT_CHECKPOINT.exists(),
                       reason=f"needs the bundled trained model {DEFAULT_CHECKPOINT.name}"),
]
TIMEOUT = 60_000  # generous: CI machines here are 2 shared cores


def open_predict(page, app_url, lang="en"):
    """Open the app at its root (the shell sets up the sidebar and language), then the page."""
    page.set_viewport_size({"width": 1400, "height": 2200})
    page.goto(app_url)
    chinese = page.get_by_role("radiogroup", name="Language / 语言").get_by_text("简体中文")
    chinese.wait_for(timeout=2 * TIMEOUT)
    if lang == "zh":
        chinese.click()
        page.locator("[data-testid=stSidebarNav] a", has_text="预测").wait_for()
    page.locator("[data-testid=stSidebarNav] a", has_text="预测" if lang == "zh" else "Predict").click()
    page.locator("canvas.cnn-draw-canvas").wait_for(timeout=2 * TIMEOUT)


def draw(page, points):
    """One stroke through `points` (canvas pixels, 0..280) with the mouse, on the canvas of the
    page's latest run (a rerun may replace it)."""
    settled(page)
    box = page.locator("canvas.cnn-draw-canvas").bounding_box()
    x0, y0 = box["x"], box["y"]
    page.mouse.move(x0 + points[0][0], y0 + points[0][1])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(x0 + x, y0 + y, steps=3)
    page.mouse.up()


def vertical_stroke():
    return [(140, 45 + 10 * i) for i in range(20)]


def closed_loop():
    return [(140 + 62 * math.sin(2 * math.pi * i / 48), 140 - 95 * math.cos(2 * math.pi * i / 48))
            for i in range(49)]


def heading(page, pattern: str):
    return page.get_by_role("heading", name=re.compile(pattern))


def clear(page):
    page.locator(".st-key-predict-clear button").click()


def no_exception(page):
    expect(page.locator("[data-testid=stException]")).to_have_count(0)


def settled(page):
    """Wait until every chart is drawn and every image loaded (before a screenshot)."""
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=stPlotlyChart]')]"
        ".every(c => c.querySelector('.main-svg')) && [...document.images].every(i => i.complete)"
        " && !document.querySelector('[data-testid=stSkeleton]')"
        " && !document.querySelector('[data-testid=stStatusWidget]')"
        " && !document.querySelector('[data-stale=true]')", timeout=TIMEOUT)


def shot(page, screenshot_dir, name):
    settled(page)
    page.screenshot(path=str(screenshot_dir / name))


def test_draw_clear_and_upload(page, app_url, screenshot_dir, data_dir):
    open_predict(page, app_url)
    nothing = page.get_by_text("Nothing drawn yet")
    nothing.wait_for(timeout=TIMEOUT)

    draw(page, vertical_stroke())
    heading(page, r"^Prediction: 1 \(\d+\.\d%\)").wait_for(timeout=TIMEOUT)
    no_exception(page)
    shot(page, screenshot_dir, "predict_en_drawn_1.png")

    clear(page)
    nothing.wait_for(timeout=TIMEOUT)
    draw(page, closed_loop())
    heading(page, r"^Prediction: 0 \(\d+\.\d%\)").wait_for(timeout=TIMEOUT)
    shot(page, screenshot_dir, "predict_en_drawn_0.png")

    clear(page)
    nothing.wait_for(timeout=TIMEOUT)
    expect(heading(page, r"^Prediction:")).to_have_count(0, timeout=TIMEOUT)
    expect(page.locator("canvas.cnn-draw-canvas")).to_have_count(1, timeout=TIMEOUT)  # a fresh, empty canvas

    # Upload: an MNIST test digit as a photo would look: 10× larger, dark ink on light paper.
    from core.data import load_dataset

    data = load_dataset("mnist", data_dir, progress=False)
    index = 0
    label = str(int(data.test_labels[index]))
    big = cv2.resize(data.test_images[index].numpy(), (280, 280), interpolation=cv2.INTER_CUBIC)
    paper = np.full((400, 360), 240, np.uint8)
    paper[60:340, 40:320] = 240 - (big.astype(np.float32) * 0.85).astype(np.uint8)
    path = screenshot_dir / "predict_upload_digit.png"
    cv2.imwrite(str(path), paper)
    page.get_by_role("radio", name="Upload an image").click()
    page.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(str(path))
    heading(page, rf"^Prediction: {label} \(\d+\.\d%\)").wait_for(timeout=TIMEOUT)
    page.get_by_text("inverted from dark-on-light").wait_for()
    no_exception(page)
    shot(page, screenshot_dir, "predict_en_upload.png")


def test_undo_redo_and_a_new_stroke_width_keep_the_drawing(page, app_url):
    """The canvas's own Undo/Redo (and Ctrl+Z) change the picture the model reads; moving the
    stroke width slider reruns the page but keeps what is drawn."""
    open_predict(page, app_url)
    nothing = page.get_by_text("Nothing drawn yet")
    nothing.wait_for(timeout=TIMEOUT)
    undo = page.get_by_role("button", name=re.compile(r"^Undo the last stroke"))
    redo = page.get_by_role("button", name=re.compile(r"^Redo"))
    expect(undo).to_be_disabled()

    draw(page, vertical_stroke())
    heading(page, r"^Prediction: 1 \(").wait_for(timeout=TIMEOUT)
    draw(page, closed_loop())                     # a ring over the bar: no longer a clean 1
    expect(heading(page, r"^Prediction: 1 \(")).to_have_count(0, timeout=TIMEOUT)
    undo.click()                                  # the ring goes: a 1 again
    heading(page, r"^Prediction: 1 \(").wait_for(timeout=TIMEOUT)
    page.locator("canvas.cnn-draw-canvas").focus()
    page.keyboard.press("Control+z")              # the bar goes too: nothing to read
    nothing.wait_for(timeout=TIMEOUT)
    expect(heading(page, r"^Prediction:")).to_have_count(0, timeout=TIMEOUT)
    redo.click()
    heading(page, r"^Prediction: 1 \(").wait_for(timeout=TIMEOUT)

    slider = page.get_by_role("slider", name="Stroke width")
    slider.focus()
    page.keyboard.press("ArrowRight")             # 20 -> 21 px: a rerun with new canvas data
    expect(page.locator(".st-key-predict-stroke")).to_contain_text("21", timeout=TIMEOUT)
    settled(page)
    heading(page, r"^Prediction: 1 \(").wait_for(timeout=TIMEOUT)
    expect(nothing).to_have_count(0)
    expect(undo).to_be_enabled()
    no_exception(page)


def test_an_image_over_the_limit_is_refused_by_the_browser(page, app_url):
    """The uploader carries the server's image limit (20 MB by default): the browser refuses a
    bigger file itself, so the server neither receives nor decodes it (issue 12: a 143 MB file
    was read whole before being refused)."""
    open_predict(page, app_url)
    page.get_by_role("radio", name="Upload an image").click()
    waiting = page.get_by_text("Upload an image of a single digit")
    waiting.wait_for(timeout=TIMEOUT)
    page.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(
        files=[{"name": "huge.png", "mimeType": "image/png", "buffer": b"\x89PNG" + bytes(21 * 2**20)}])
    expect(page.locator("[data-testid=stFileChip][aria-invalid=true]")).to_have_count(1, timeout=TIMEOUT)
    expect(page.get_by_text("File must be 20.0MB or smaller.")).to_be_visible(timeout=TIMEOUT)
    expect(waiting).to_be_visible(timeout=TIMEOUT)  # the server never got the file
    expect(heading(page, r"^Prediction:")).to_have_count(0, timeout=TIMEOUT)
    no_exception(page)


def test_explorer_clicks(page, app_url, screenshot_dir, data_dir):
    """Clicking a map in the channel grid enlarges it; clicking a position traces its field."""
    open_predict(page, app_url)
    page.get_by_role("radio", name="Test-set image").click()
    heading(page, r"^Prediction: 7 ").wait_for(timeout=TIMEOUT)  # test image 0 is a 7
    channel = page.get_by_role("spinbutton", name="Channel")
    expect(channel).to_have_value("0", timeout=TIMEOUT)
    grid = page.locator(".st-key-predict-grid .nsewdrag").first
    grid.wait_for()
    settled(page)
    box = grid.bounding_box()
    # The grid has up to 8 maps per row: the third map of the first row is channel 2.
    page.mouse.click(box["x"] + box["width"] * 2.5 / 8, box["y"] + 6)
    page.wait_for_function("() => [...document.querySelectorAll('input[aria-label=Channel]')]"
                           ".some(e => e.value === '2')", timeout=TIMEOUT)
    expect(page.get_by_text(re.compile(r"^Channel 2: min"))).to_have_count(1, timeout=TIMEOUT)
    shot(page, screenshot_dir, "predict_en_feature_maps.png")

    page.get_by_role("radio", name="Receptive field").click()
    rf_map = page.locator(".st-key-predict-rf_map .nsewdrag").first
    rf_map.wait_for(timeout=TIMEOUT)
    row = page.get_by_role("spinbutton", name="Row")
    col = page.get_by_role("spinbutton", name="Column")
    n = int(row.get_attribute("max")) + 1  # map height (square maps)
    settled(page)
    box = rf_map.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.5 / n, box["y"] + box["height"] * 0.5 / n)  # (0, 0)
    page.wait_for_function("() => document.querySelector('input[aria-label=Row]').value === '0' &&"
                           " document.querySelector('input[aria-label=Column]').value === '0'",
                           timeout=TIMEOUT)
    expect(row).to_have_value("0")
    expect(col).to_have_value("0")
    page.get_by_text(re.compile(r"at row 0, column 0 depends on input rows 0–")).wait_for(timeout=TIMEOUT)
    shot(page, screenshot_dir, "predict_en_receptive_field.png")

    page.get_by_role("radio", name="Saliency").click()
    page.get_by_text("Saliency for “7” over the input").wait_for(timeout=TIMEOUT)
    no_exception(page)
    shot(page, screenshot_dir, "predict_en_saliency.png")


def test_a_random_test_sample_becomes_the_input(page, app_url, screenshot_dir):
    """The test-set input's random draw (seeded: the first draw is draw_indices(n, 12, 0)): a click
    on a tile makes that image the input; Reshuffle draws the next seed's images."""
    from core.samples import draw_indices

    open_predict(page, app_url)
    page.get_by_role("radio", name="Test-set image").click()
    heading(page, r"^Prediction: 7 ").wait_for(timeout=TIMEOUT)  # test image 0 is a 7
    grid = page.locator(".st-key-predict-samples .nsewdrag").first
    grid.wait_for(timeout=TIMEOUT)
    settled(page)
    # null while Reshuffle's rerun swaps the chart (a throwing predicate would end the wait)
    hover = "() => { const p = document.querySelector('.st-key-predict-samples .js-plotly-plot');" \
            " return p && p.data && p.data[1] ? p.data[1].hovertext" \
            ".map(h => Number(h.split('#')[1].split('<')[0])) : null; }"
    first = draw_indices(10_000, 12, 0).tolist()
    assert page.evaluate(hover) == first
    box = grid.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 2.5 / 6, box["y"] + box["height"] * 0.25)  # 3rd tile
    number = page.get_by_role("spinbutton", name=re.compile("Test image number"))
    expect(number).to_have_value(str(first[2]), timeout=TIMEOUT)
    page.get_by_text(f"Test image {first[2]}, labelled").wait_for(timeout=TIMEOUT)
    page.get_by_role("button", name="Reshuffle").click()
    second = json.dumps(draw_indices(10_000, 12, 1).tolist(), separators=(",", ":"))
    page.wait_for_function(f"() => JSON.stringify(({hover})()) === '{second}'", timeout=TIMEOUT)
    expect(number).to_have_value(str(first[2]))  # reshuffling keeps the input
    no_exception(page)
    shot(page, screenshot_dir, "predict_en_random_samples.png")


def test_chinese(page, app_url, screenshot_dir):
    open_predict(page, app_url, "zh")
    page.get_by_text("还没有画任何内容").wait_for(timeout=TIMEOUT)
    draw(page, vertical_stroke())
    heading(page, r"^预测：1（\d+\.\d%）").wait_for(timeout=TIMEOUT)
    no_exception(page)
    shot(page, screenshot_dir, "predict_zh_drawn_1.png")
    clear(page)
    page.get_by_text("还没有画任何内容").wait_for(timeout=TIMEOUT)
