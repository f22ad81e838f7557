"""Real browser: every page in headless Chromium, both languages, no exception shown."""
import collections
import re

import pytest
from playwright.sync_api import expect

from bench.protocol_client import Session
from tests.helpers import run_async

pytestmark = pytest.mark.browser

WAIT = {"timeout": 90_000}  # generous: a first visit imports torch, OpenCV and Plotly on 2 shared cores
PAGES = [("home", "CNN Lab", "CNN Lab"),  # (slug, the end of its h1 in English, in Chinese)
         ("convolution", "Convolution", "卷积"),
         ("train", "Train", "训练"), ("predict", "Predict", "预测")]


def expect_idle(page):
    """Streamlit shows a "running" status widget while the script runs, and marks the elements of
    the previous run stale until the new run has redrawn them."""
    expect(page.locator('[data-testid="stMainBlockContainer"]')).to_be_visible(**WAIT)
    expect(page.locator('[data-testid="stStatusWidget"]')).to_have_count(0, **WAIT)
    expect(page.locator('[data-stale="true"]')).to_have_count(0, **WAIT)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_page_opens_without_errors(app_url, page, screenshot_dir, lang):
    page.goto(f"{app_url}/")
    expect(page.get_by_text("简体中文")).to_have_count(1, **WAIT)  # the shared sidebar is drawn
    expect_idle(page)
    nav = page.locator('[data-testid="stSidebarNav"]')
    if lang == "zh":
        page.get_by_text("简体中文").click()
        expect(nav.get_by_text("首页", exact=True)).to_be_visible(**WAIT)
        expect_idle(page)
    for slug, title_en, title_zh in PAGES:
        # Navigate with the sidebar so the session (and its language) is kept.
        nav_text = {"home": ("Home", "首页")}.get(slug, (title_en, title_zh))[lang == "zh"]
        nav.get_by_text(nav_text, exact=True).click()
        # Wait for this page's own title, not whatever the previous page still shows.
        title = title_zh if lang == "zh" else title_en
        expect(page.locator("h1").first).to_have_text(re.compile(rf"{re.escape(title)}\s*$"), **WAIT)
        expect_idle(page)
        expect(page.locator('[data-testid="stException"]')).to_have_count(0)
        page.screenshot(path=str(screenshot_dir / f"smoke-{slug}-{lang}.png"), full_page=True)


def test_a_deep_link_on_a_fresh_server_opens_the_page_inside_the_app(page, fresh_app_url, screenshot_dir):
    """The first request after a server start goes straight to /predict (a shared link): the page
    must come with the app's navigation and language switch, not as a bare script from pages/."""
    page.goto(f"{fresh_app_url}/predict")
    # The first run goes through the legacy pages/ mode and then the app shell, so every check
    # below waits for its state (expect) instead of reading the page once.
    expect(page.locator("h1").first).to_have_text("Predict", **WAIT)
    nav = page.locator('[data-testid="stSidebarNav"]')
    expect(nav).to_contain_text("Home", **WAIT)
    expect(nav).to_contain_text("Train", **WAIT)
    # the shared sidebar's language switch, drawn only by streamlit_app.py
    expect(page.get_by_text("简体中文")).to_have_count(1, **WAIT)
    assert page.url.rstrip("/").endswith("/predict")
    expect(nav.get_by_text("ui", exact=True)).to_have_count(0)  # the raw pages/ folder is not listed
    expect(page.locator("canvas.cnn-draw-canvas")).to_be_visible(**WAIT)  # the drawing canvas works too
    # the legacy pages/-folder mode of a fresh server found the address (app/legacy_links.py)
    expect(page.get_by_text("Page not found")).to_have_count(0)
    page.screenshot(path=str(screenshot_dir / "deep-link-predict.png"))


# ---------------------------------------------------------------- a fresh server's first visitor
# A fresh server's first session begins in Streamlit's legacy pages/-folder mode (app/shell.py):
# the shell's widgets must have the same ids in that mode as in every later run, or the first
# visitor's language choice is lost on a click or on the next page change.

class RecordingSession(Session):
    """A protocol visitor that remembers every id each keyed widget was drawn with."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.ids_by_key: dict[str, set[str]] = collections.defaultdict(set)

    def _apply_delta(self, msg, it):
        super()._apply_delta(msg, it)
        node = self.nodes.get(tuple(msg.metadata.delta_path))
        if node is not None and node.key:
            self.ids_by_key[node.key].add(node.id)


def test_the_shell_widgets_keep_their_ids_through_a_fresh_servers_first_run(fresh_app_url):
    """Deterministic: the first session's first run (legacy mode) draws the language radio with
    the same element id as a later session does (no browser, every wait bounded)."""
    async def scenario():
        async with RecordingSession(fresh_app_url) as first:
            opened = await first.open()
            assert opened.status == "FINISHED_SUCCESSFULLY" and not opened.exceptions
        async with RecordingSession(fresh_app_url) as later:
            opened = await later.open()
            assert opened.status == "FINISHED_SUCCESSFULLY" and not opened.exceptions
        return first.ids_by_key, later.ids_by_key

    first_ids, later_ids = run_async(scenario(), 300)
    assert first_ids["lang"] == later_ids["lang"] and len(later_ids["lang"]) == 1
    assert first_ids == later_ids  # every keyed widget the home page and sidebar draw


@pytest.mark.parametrize("when", ["at_once", "when_idle"])
def test_the_first_visitor_of_a_fresh_server_keeps_chinese_on_the_next_page(
        page, fresh_app_url, screenshot_dir, when):
    """The first visitor clicks 简体中文 once (at_once: as soon as it shows, while the first run may
    still be importing the pages; when_idle: after the first run) and the click is not lost; then
    the sidebar link 训练 opens the Train page still in Chinese."""
    page.goto(f"{fresh_app_url}/")
    if when == "when_idle":
        expect_idle(page)
    page.get_by_text("简体中文", exact=True).click()
    nav = page.locator('[data-testid="stSidebarNav"]')
    expect(nav.get_by_text("训练", exact=True)).to_be_visible(**WAIT)  # one click was enough
    expect_idle(page)
    nav.get_by_text("训练", exact=True).click()
    expect(page.locator("h1").first).to_have_text(re.compile(r"训练\s*$"), **WAIT)
    expect_idle(page)
    expect(page.get_by_role("radio", name="简体中文")).to_be_checked(**WAIT)
    expect(nav.get_by_text("首页", exact=True)).to_be_visible(**WAIT)
    expect(page).to_have_url(re.compile(r"/train\?lang=zh$"), **WAIT)
    page.screenshot(path=str(screenshot_dir / f"fresh-server-first-visitor-zh-{when}.png"))
