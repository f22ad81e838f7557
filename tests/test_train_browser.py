"""Train page in a real browser (headless Chromium), real training on MNIST from the data dir.

One quick run (5% of the training set, 1 epoch, the light "2-conv 16/32 → FC 128" preset of the
original material, so the test stays quick on two busy cores): the loss chart gains
points while it trains and the run finishes showing its test accuracy. A second run is stopped
early. The first model is saved and then found in the Predict page's model list. Screenshots
go to test-artifacts/screenshots/.
"""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

PRESET = "2-conv 16/32 → FC 128"
CHART_POINTS = """() => {
  const plots = document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot');
  if (!plots.length || !plots[0].data) return -1;
  return plots[0].data[0].x.length;   // first chart: training loss, one point per step event
}"""


def wait_until_idle(page, timeout=90_000):
    page.wait_for_selector('[data-testid="stMainBlockContainer"]')
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout)
    page.wait_for_timeout(400)


def full_screenshot(page, path: Path) -> None:
    """The whole page: Streamlit scrolls inside its main container, so grow the viewport."""
    height = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": 1400, "height": min(max(height + 40, 1000), 8000)})
    page.wait_for_timeout(1200)
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": 1400, "height": 1000})


def open_train_page(page, app_url):
    page.goto(f"{app_url}/")
    wait_until_idle(page)
    page.locator('[data-testid="stSidebarNav"]').get_by_text("Train", exact=True).click()
    wait_until_idle(page)
    page.get_by_text("MNIST is loaded").wait_for(timeout=60_000)


def choose_quick_settings(page):
    """The light preset, 1 epoch, 5% of the data."""
    page.get_by_label("Start from a preset", exact=True).click()
    page.get_by_role("option", name=PRESET).click()
    wait_until_idle(page)
    epochs = page.get_by_label("Epochs", exact=True)
    epochs.fill("1")
    epochs.press("Enter")
    wait_until_idle(page)
    slider = page.locator('[data-testid="stSlider"]').filter(has_text="Data used").get_by_role("slider")
    slider.focus()
    page.keyboard.press("ArrowLeft")  # 10% -> 5%
    wait_until_idle(page)
    page.get_by_text("3,000 training images × 1 epoch").wait_for()
    assert page.get_by_text("1568").count(), "the summary writes the flatten size out"


def press_start(page):
    page.get_by_role("button", name="Start training").click()
    page.get_by_role("tab", name="② Train", selected=True).wait_for(timeout=30_000)


def test_quick_run_stop_save_and_predict(app_url, data_dir, page, screenshot_dir):
    t0 = time.time()
    open_train_page(page, app_url)
    choose_quick_settings(page)
    full_screenshot(page, screenshot_dir / "train-setup-en.png")

    # 1. A quick run: the chart gains points, the run finishes with a test accuracy.
    press_start(page)
    seen = []
    finished = page.get_by_text("Finished:")
    deadline = time.time() + 300  # about 20 s on two idle cores; generous for a busy CI machine
    while time.time() < deadline and not finished.count():
        seen.append(page.evaluate(CHART_POINTS))
        if len(seen) == 4:
            full_screenshot(page, screenshot_dir / "train-live-en.png")
        page.wait_for_timeout(500)
    assert finished.count(), f"the run did not finish; chart points seen: {seen}"
    final = page.evaluate(CHART_POINTS)
    assert final >= 10, f"one point per step or so: {final}"
    assert any(0 <= n < final for n in seen), f"the live chart gains points while training: {seen}"
    message = finished.first.inner_text()
    accuracy = float(re.search(r"([\d.]+)% test accuracy", message).group(1))
    assert 50 < accuracy <= 100, message
    full_screenshot(page, screenshot_dir / "train-finished-en.png")

    # 2. Another run, stopped early: training ends within a second or two of Stop.
    page.get_by_role("tab", name="① Set up").click()
    wait_until_idle(page)
    press_start(page)
    page.wait_for_function(f"() => ({CHART_POINTS})() >= 2", timeout=90_000)
    page.get_by_role("button", name="Stop").click()
    stopped_at = time.time()
    page.get_by_text(re.compile(r"Stopped at step|Stopped early")).first.wait_for(timeout=5_000)
    assert time.time() - stopped_at < 5, "the page acknowledges Stop at once"
    page.get_by_text("Stopped early").wait_for(timeout=90_000)  # after measuring the kept model
    full_screenshot(page, screenshot_dir / "train-stopped-en.png")

    # 3. Results of the first run: keep it under a name, then find it in the Predict page.
    page.get_by_role("tab", name="③ Results").click()
    wait_until_idle(page)
    page.get_by_text("Confusion matrix").wait_for()
    run_box = page.get_by_label("Run", exact=True)
    run_box.click()
    page.get_by_role("option", name=re.compile(r"^Run 1 · ")).click()
    wait_until_idle(page)
    name_box = page.get_by_label("Name", exact=True)
    name_box.fill("browser-quick-run")
    name_box.press("Enter")
    wait_until_idle(page)
    page.get_by_role("button", name="Save").click()
    wait_until_idle(page)
    saved = page.get_by_text("Saved browser-quick-run.safetensors")
    saved.wait_for(timeout=20_000)
    folder = re.search(r"in (/\S+)$", page.get_by_text("Saved as").first.inner_text().strip())
    assert folder and (Path(folder.group(1)) / "browser-quick-run.safetensors").exists()
    assert page.get_by_text("Misclassified test images").count()
    full_screenshot(page, screenshot_dir / "train-results-en.png")

    page.locator('[data-testid="stSidebarNav"]').get_by_text("Predict", exact=True).click()
    wait_until_idle(page)
    page.get_by_label("Model", exact=True).click()
    option = page.get_by_role("option", name=re.compile("browser-quick-run"))
    option.first.wait_for(timeout=10_000)
    assert page.get_by_role("option", name=re.compile(r"Run 1 ·")).count(), \
        "this session's unsaved runs are offered too"
    full_screenshot(page, screenshot_dir / "train-predict-list-en.png")
    page.keyboard.press("Escape")

    # 4. The same page in Simplified Chinese.
    page.get_by_text("简体中文").click()
    wait_until_idle(page)
    page.locator('[data-testid="stSidebarNav"]').get_by_text("训练", exact=True).click()
    wait_until_idle(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    full_screenshot(page, screenshot_dir / "train-setup-zh.png")
    page.get_by_role("tab", name="③ 结果").click()
    wait_until_idle(page)
    page.get_by_text("混淆矩阵").wait_for()
    full_screenshot(page, screenshot_dir / "train-results-zh.png")
    page.get_by_role("tab", name="④ 比较").click()
    wait_until_idle(page)
    page.get_by_text("要比较的训练").wait_for()
    assert page.locator('[data-testid="stException"]').count() == 0
    full_screenshot(page, screenshot_dir / "train-compare-zh.png")
    print(f"train browser test: {time.time() - t0:.0f} s")
