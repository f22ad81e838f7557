"""Your classes in headless Chromium: make three classes of mouse drawings (a vertical bar, a
horizontal bar, a circle, each drawn a few times with small jitter), train on them with the
recipe the page fills in, then draw a new symbol on Predict and read its class name in the
prediction heading. Once in English; in Chinese the page's labels and the class names are
checked up to the Train page. Screenshots go to the folder conftest prints."""
from __future__ import annotations

import math
import re

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect
from tests.helpers import open_options

pytestmark = pytest.mark.browser
TIMEOUT = 60_000          # generous: the machines here are 2 shared cores
TRAIN_TIMEOUT = 400_000   # 20 short epochs on a loaded machine
PER_CLASS = 6
TEXT = {
    "en": {"nav": "Your classes", "new": "New class", "create": "Create class", "count": "{n} examples",
           "to_train": "Train on your classes", "predict": "Predict", "heading": r"^Prediction: (\S+) \(",
           "split": "examples train the model", "option": "Your classes"},
    "zh": {"nav": "你的类别", "new": "新类别", "create": "创建类别", "count": "{n} 个示例",
           "to_train": "用你的类别训练", "predict": "预测", "heading": r"^预测：(\S+)（",
           "split": "个示例用于训练模型", "option": "你的类别"},
}
CLASSES = {"en": ("bar", "dash", "ring"), "zh": ("竖线", "横线", "圆圈")}


def settled(page):
    page.wait_for_function(
        "() => [...document.images].every(i => i.complete)"
        " && !document.querySelector('[data-testid=stStatusWidget]')"
        " && !document.querySelector('[data-stale=true]')", timeout=TIMEOUT)


def symbol(kind: int, j: int) -> list[tuple[float, float]]:
    """The mouse path of one symbol on the 280 px canvas, `j` shifting and tilting it a little."""
    if kind == 0:
        return [(140 + j - j * i / 10, 50 + 9 * i) for i in range(21)]
    if kind == 1:
        return [(50 + 9 * i, 140 + j - j * i / 10) for i in range(21)]
    return [(140 + j + (68 + j) * math.sin(2 * math.pi * i / 40), 140 - (88 - j) * math.cos(2 * math.pi * i / 40))
            for i in range(41)]


def draw(page, points):
    settled(page)
    box = page.locator("canvas.cnn-draw-canvas").bounding_box()
    page.mouse.move(box["x"] + points[0][0], box["y"] + points[0][1])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box["x"] + x, box["y"] + y, steps=2)
    page.mouse.up()


def open_app(page, app_url, lang):
    page.set_viewport_size({"width": 1400, "height": 2000})
    page.goto(f"{app_url}/?lang={lang}")  # a new session takes its language from the link
    page.get_by_role("radiogroup", name="Language / 语言").wait_for(timeout=2 * TIMEOUT)
    nav = page.locator("[data-testid=stSidebarNav] a", has_text=TEXT[lang]["nav"])
    nav.wait_for(timeout=TIMEOUT)
    nav.click()
    page.get_by_label(TEXT[lang]["new"]).wait_for(timeout=TIMEOUT)


def make_classes(page, lang, screenshot_dir):
    say = TEXT[lang]
    for kind, name in enumerate(CLASSES[lang]):
        page.get_by_label(say["new"]).fill(name)
        page.get_by_role("button", name=say["create"]).click()
        def card(n: int):
            text = re.compile(rf"^{re.escape(name)} · {re.escape(say['count'].format(n=n))}$")
            return page.locator("[data-testid=stMarkdownContainer]", has_text=text).first

        card(0).wait_for(timeout=TIMEOUT)  # the new class is there, and chosen for the next drawings
        for i in range(PER_CLASS):
            add = page.locator(".st-key-classes-add button:enabled").first  # the 28×28 preview is shown
            for attempt in range(3):  # a stroke drawn while the fresh canvas was still being swapped
                draw(page, symbol(kind, 3 * i - 8))  # in is lost, as for a person: draw it again
                try:
                    add.wait_for(timeout=TIMEOUT / 4)
                    break
                except PlaywrightTimeout:
                    if attempt == 2:
                        raise
            add.click()
            card(i + 1).wait_for(timeout=TIMEOUT)  # counted; the canvas is a fresh one
        expect(page.locator("[data-testid=stException]")).to_have_count(0)
    settled(page)
    page.screenshot(path=str(screenshot_dir / f"classes_{lang}_three.png"), full_page=True)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_three_drawn_classes_train_and_predict(page, app_url, screenshot_dir, lang):
    say = TEXT[lang]
    open_app(page, app_url, lang)
    make_classes(page, lang, screenshot_dir)
    page.get_by_role("button", name=say["to_train"]).click()
    # The Train page the button switched to speaks the session's language (st.switch_page used to
    # drop the language radio's value: Train rendered in English under a radio showing 简体中文).
    page.get_by_text(say["split"]).wait_for(timeout=TIMEOUT)
    page.get_by_text(", ".join(CLASSES[lang])).first.wait_for(timeout=TIMEOUT)
    settled(page)
    page.screenshot(path=str(screenshot_dir / f"classes_{lang}_train_setup.png"), full_page=True)
    if lang == "zh":   # the run and Predict are the English one's
        expect(page.get_by_text(TEXT["en"]["split"])).to_have_count(0)
        return
    page.locator(".st-key-train-start button").click()
    page.get_by_text("Finished").first.wait_for(timeout=TRAIN_TIMEOUT)
    page.locator("[data-testid=stSidebarNav] a", has_text=say["predict"]).click()
    model = page.get_by_role("combobox").first
    model.wait_for(timeout=TIMEOUT)
    open_options(page, model, re.compile(say["option"])).click()
    page.locator("canvas.cnn-draw-canvas").wait_for(timeout=TIMEOUT)
    draw(page, symbol(2, 5))  # a new circle
    heading = page.get_by_role("heading", name=re.compile(say["heading"]))
    heading.wait_for(timeout=TIMEOUT)
    expect(heading).to_have_text(re.compile(r"ring"), timeout=TIMEOUT)
    expect(page.locator("[data-testid=stException]")).to_have_count(0)
    settled(page)
    page.screenshot(path=str(screenshot_dir / "classes_en_predict.png"), full_page=True)
