"""Train page in a real browser (headless Chromium), real training on MNIST from the data dir.

Two runs of the light "2-conv 16/32 → FC 128" preset of the original material:

1. a long run (25% of the training set × 20 epochs: 4,700 steps and 20 test-set evaluations, many
   times the few seconds from its first chart points to the Stop click even on a fast machine;
   a chart point every 16 steps, so it shows progress within seconds on a loaded one) whose loss
   chart gains points while it trains, and which is then stopped: Stop ends it within a step;
2. a quick run (5% of the training set, 1 epoch) that finishes showing its test accuracy.

While the long run trains, its read-only watch link is opened in a second browser: curves, no
Stop. The quick run is saved into the visitor's private workspace (no server path on the page) and
then found in the Predict page's model list. Every read of the page
waits for the state it checks (Playwright `expect` / `wait_for_function` with generous timeouts),
because the page reruns after each click and polls a running job once a second. Screenshots go to
test-artifacts/screenshots/.
"""
from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.helpers import SETTLED, expect_idle, open_options

pytestmark = pytest.mark.browser

PRESET = "2-conv 16/32 → FC 128"
WAIT = {"timeout": 120_000}    # page states: generous for two busy CI cores
LONG_RUN_STEPS = 4_700         # 15,000 images / batch 64 → 235 steps × 20 epochs
QUICK_RUN_SECONDS = 300        # about 20 s on two idle cores
CHART_POINTS = """() => {
  const plots = document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot');
  if (!plots.length || !plots[0].data) return -1;
  const x = plots[0].data[0].x;       // first chart: training loss, one point per step event
  return x ? x.length : -1;           // (while the page reruns another chart may come first)
}"""


def full_screenshot(page, path: Path) -> None:
    """The whole page: Streamlit scrolls inside its main container, so grow the viewport."""
    height = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": 1400, "height": min(max(height + 40, 1000), 8000)})
    page.wait_for_function(SETTLED, **WAIT)
    page.screenshot(path=str(path), animations="disabled")
    page.set_viewport_size({"width": 1400, "height": 1000})


def nav(page, name: str):
    return page.locator('[data-testid="stSidebarNav"]').get_by_text(name, exact=True)


def open_tab(page, name: str):
    page.get_by_role("tab", name=name).click()
    expect(page.get_by_role("tab", name=name, selected=True)).to_be_visible(**WAIT)


def open_train_page(page, app_url):
    page.goto(f"{app_url}/")
    expect(nav(page, "Train")).to_be_visible(**WAIT)
    nav(page, "Train").click()
    expect(page.locator("h1").first).to_have_text("Train", **WAIT)
    expect(page.get_by_text("MNIST is loaded")).to_be_visible(**WAIT)


def expect_run_size(page, images: str, epochs: int):
    """The set-up tab's run-size line: proof that the server has applied the form's values."""
    expect(page.get_by_text(f"{images} training images × {epochs} epoch")).to_be_visible(**WAIT)


def set_epochs(page, n: int):
    epochs = page.get_by_label("Epochs", exact=True)
    epochs.fill(str(n))
    epochs.press("Enter")


def step_data_used(page, key: str, images: str, epochs: int):
    """Move the "Data used" slider one notch and wait until the server has the new value."""
    slider = page.locator('[data-testid="stSlider"]').filter(has_text="Data used").get_by_role("slider")
    slider.focus()
    page.keyboard.press(key)
    expect_run_size(page, images, epochs)


def choose_preset(page):
    open_options(page, "Start from a preset", PRESET).click()
    # the preset fills the form (5 epochs) and the summary writes the flatten size out
    expect(page.get_by_text("1568").first).to_be_visible(**WAIT)
    expect_run_size(page, "6,000", 5)


def press_start(page):
    expect_idle(page)
    page.get_by_role("button", name="Start training").click()
    expect(page.get_by_role("tab", name="② Train", selected=True)).to_be_visible(**WAIT)


def chart_points_at_least(page, n: int) -> int:
    page.wait_for_function(f"() => ({CHART_POINTS})() >= {n}", **WAIT)
    return page.evaluate(CHART_POINTS)


def click_busiest_mistake(page) -> tuple[int, int, int]:
    """Click the confusion matrix's off-diagonal cell with the most images; (true, predicted, count)."""
    expect_idle(page)
    counts = page.evaluate("() => document.querySelector('.st-key-train-confusion .js-plotly-plot')"
                           ".data[1].text.map(Number)")
    n = round(len(counts) ** 0.5)
    count, true_c, pred_c = max((counts[i * n + j], i, j) for i in range(n) for j in range(n) if i != j)
    assert count > 0, "a quick run makes mistakes"
    matrix = page.locator(".st-key-train-confusion .nsewdrag").first
    matrix.scroll_into_view_if_needed()
    box = matrix.bounding_box()
    page.mouse.click(box["x"] + box["width"] * (pred_c + 0.5) / n, box["y"] + box["height"] * (true_c + 0.5) / n)
    return true_c, pred_c, count


def test_quick_run_stop_save_and_predict(app_url, app_server_dir, data_dir, page, screenshot_dir):
    t0 = time.time()
    open_train_page(page, app_url)
    choose_preset(page)

    # 1. A long run: the chart gains points while it trains; Stop ends it early.
    set_epochs(page, 20)
    expect_run_size(page, "6,000", 20)
    step_data_used(page, "ArrowRight", "15,000", 20)   # 10% → 25%
    page.get_by_text(f"= {LONG_RUN_STEPS:,} steps").wait_for(**WAIT)
    press_start(page)
    stop = page.get_by_role("button", name="Stop")
    first = chart_points_at_least(page, 2)
    later = chart_points_at_least(page, first + 1)
    assert later > first >= 2, "the live chart gains points while training"
    full_screenshot(page, screenshot_dir / "train-live-en.png")
    # its watch link, opened by someone else, is read-only
    link = page.locator(".st-key-train-watch-link code")
    expect(link).to_contain_text("/train?watch=", **WAIT)
    url = link.inner_text().strip()
    assert url.startswith(app_url) and "run=" not in url, url
    other = page.context.browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        watcher = other.new_page()
        watcher.goto(url)
        expect(watcher.get_by_text("watching someone's run through its watch link")).to_be_visible(**WAIT)
        watcher.wait_for_function(f"() => ({CHART_POINTS})() >= 2", **WAIT)
        expect(watcher.get_by_role("button", name="Stop")).to_have_count(0)
        expect(watcher.get_by_role("button", name="Start training")).to_have_count(0)
        full_screenshot(watcher, screenshot_dir / "train-watching-en.png")
    finally:
        other.close()
    expect(stop).to_be_visible(**WAIT)  # still running
    stop.click()
    expect(page.get_by_text(re.compile(r"Stopped at step|Stopped early")).first).to_be_visible(**WAIT)
    stopped = page.get_by_text("Stopped early")  # after measuring the kept model
    expect(stopped).to_be_visible(**WAIT)
    steps = int(re.search(r"after ([\d,]+) steps", stopped.inner_text()).group(1).replace(",", ""))
    assert 0 < steps < LONG_RUN_STEPS, f"Stop ended the run before its end: {steps} steps"
    expect(stop).to_have_count(0)
    full_screenshot(page, screenshot_dir / "train-stopped-en.png")

    # 2. A quick run: 5% of the data, 1 epoch; it finishes with a test accuracy.
    open_tab(page, "① Set up")
    set_epochs(page, 1)
    expect_run_size(page, "15,000", 1)
    for images in ("6,000", "3,000"):  # 25% → 10% → 5%
        step_data_used(page, "ArrowLeft", images, 1)
    expect(page.get_by_text("1568").first).to_be_visible()
    full_screenshot(page, screenshot_dir / "train-setup-en.png")
    press_start(page)
    finished = page.get_by_text("Finished:")
    expect(finished).to_be_visible(timeout=QUICK_RUN_SECONDS * 1000)
    final = chart_points_at_least(page, 10)   # about one point per step
    assert final >= 10
    message = finished.first.inner_text()
    accuracy = float(re.search(r"([\d.]+)% test accuracy", message).group(1))
    assert 50 < accuracy <= 100, message
    full_screenshot(page, screenshot_dir / "train-finished-en.png")

    # 3. Results of the quick run: keep it under a name, then find it in the Predict page.
    open_tab(page, "③ Results")
    expect(page.get_by_text("Confusion matrix")).to_be_visible(**WAIT)
    open_options(page, "Run", re.compile(r"^Run 2 · ")).click()
    # the quick run's results are shown: 1 of 1 epochs done (the stopped run did not finish one of 20)
    expect(page.locator('[data-testid="stMetric"]').filter(has_text="Epochs done")
           ).to_contain_text("1 / 1", **WAIT)
    name_box = page.get_by_label("Name", exact=True)
    name_box.fill("browser-quick-run")
    name_box.press("Enter")
    save_as = page.get_by_text("Press Save to keep it in your private workspace as browser-quick-run")
    expect(save_as).to_be_visible(**WAIT)   # the server has the new name; nothing saved yet
    assert "/" not in save_as.first.inner_text(), "no server path on the page"
    expect(page.get_by_text("Your workspace: 0 of")).to_be_visible(**WAIT)
    expect_idle(page)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved browser-quick-run in your workspace")).to_be_visible(**WAIT)
    expect(page.get_by_text("✓ Saved in your private workspace as browser-quick-run")).to_be_visible(**WAIT)
    expect(page.get_by_text("Your workspace: 1 of")).to_be_visible(**WAIT)
    # Nobody may save under the bundled model's name: the file that ships with CNN Lab stays as it was.
    bundled = app_server_dir / "checkpoints" / "mnist-default.safetensors"
    shipped = hashlib.sha256(bundled.read_bytes()).hexdigest()
    name_box.fill("mnist-default")
    name_box.press("Enter")
    expect(page.get_by_text("'mnist-default' is the name of a model that ships with CNN Lab")).to_be_visible(**WAIT)
    expect(page.get_by_role("button", name="Save")).to_have_count(0)
    assert hashlib.sha256(bundled.read_bytes()).hexdigest() == shipped
    expect(page.get_by_text("Misclassified test images")).to_be_visible(**WAIT)
    expect(page.get_by_text("Random test images")).to_be_visible(**WAIT)
    full_screenshot(page, screenshot_dir / "train-results-en.png")

    # 3a. A click on a cell of the confusion matrix lists that cell's test images; 🔍 opens one
    # in the Predict page with this run's model.
    true_c, pred_c, count = click_busiest_mistake(page)
    listed = page.get_by_text(f"{count} test images of class {true_c} were predicted as {pred_c}")
    expect(listed).to_be_visible(**WAIT)
    cell_buttons = page.locator('[class*="st-key-train-cell-"]').get_by_role("button")  # visible ones
    expect(cell_buttons).to_have_count(min(count, 24), **WAIT)
    full_screenshot(page, screenshot_dir / "train-results-cell-en.png")
    keys = page.evaluate("() => [...document.querySelectorAll('[class*=\"st-key-train-cell-\"]')]"
                         ".filter(e => e.checkVisibility())"
                         ".map(e => [...e.classList].find(c => c.startsWith('st-key-train-cell-')))")
    index = re.search(r"-(\d+)$", keys[0]).group(1)   # the key ends with the test index
    first = cell_buttons.first
    expect_idle(page)
    first.click()
    expect(page.locator("h1").first).to_have_text("Predict", **WAIT)
    expect(page.get_by_role("spinbutton", name=re.compile("Test image number"))).to_have_value(index, **WAIT)
    expect(page.get_by_text(f"Correct: the true label is {true_c}")).to_have_count(0)
    expect(page.get_by_text(f"Wrong: the true label is {true_c}")).to_be_visible(**WAIT)

    nav(page, "Predict").click()
    expect(page.locator("h1").first).to_have_text("Predict", **WAIT)
    open_options(page, "Model", re.compile("browser-quick-run"))
    # this session's unsaved runs are offered too
    expect(page.get_by_role("option", name=re.compile(r"Run 1 ·")).first).to_be_visible(**WAIT)
    full_screenshot(page, screenshot_dir / "train-predict-list-en.png")
    page.keyboard.press("Escape")

    # 3b. A second visitor (another browser, no private link) reaches none of it: no run to watch
    # or stop, no saved model to list, load or overwrite.
    other = page.context.browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        b = other.new_page()
        open_train_page(b, app_url)
        open_tab(b, "② Train")
        expect(b.get_by_text("No run yet")).to_be_visible(**WAIT)
        expect(b.get_by_role("button", name="Stop")).to_have_count(0)
        nav(b, "Predict").click()
        expect(b.locator("h1").first).to_have_text("Predict", **WAIT)
        open_options(b, "Model", re.compile("mnist-default"))
        expect(b.get_by_role("option", name=re.compile("browser-quick-run"))).to_have_count(0)
        expect(b.get_by_role("option", name=re.compile(r"Run \d ·"))).to_have_count(0)
        b.keyboard.press("Escape")
    finally:
        other.close()

    # 4. The same page in Simplified Chinese.
    page.get_by_text("简体中文").click()
    expect(nav(page, "训练")).to_be_visible(**WAIT)
    nav(page, "训练").click()
    expect(page.locator("h1").first).to_have_text("训练", **WAIT)
    expect_idle(page)
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)
    full_screenshot(page, screenshot_dir / "train-setup-zh.png")
    open_tab(page, "③ 结果")
    expect(page.get_by_text("混淆矩阵")).to_be_visible(**WAIT)
    full_screenshot(page, screenshot_dir / "train-results-zh.png")
    open_tab(page, "④ 比较")
    expect(page.get_by_text("要比较的训练")).to_be_visible(**WAIT)
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)
    full_screenshot(page, screenshot_dir / "train-compare-zh.png")
    print(f"train browser test: {time.time() - t0:.0f} s")
