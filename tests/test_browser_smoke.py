"""Real browser: every page in headless Chromium, both languages, no exception shown."""
import re

import pytest
from playwright.sync_api import expect

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
    # The first run goes through the app shell and reruns once (app.shell.first_run_of_session), so every
    # check below waits for its state (expect) instead of reading the page once.
    expect(page.locator("h1").first).to_have_text("Predict", **WAIT)
    nav = page.locator('[data-testid="stSidebarNav"]')
    expect(nav).to_contain_text("Home", **WAIT)
    expect(nav).to_contain_text("Train", **WAIT)
    # the shared sidebar's language switch, drawn only by streamlit_app.py
    expect(page.get_by_text("简体中文")).to_have_count(1, **WAIT)
    assert page.url.rstrip("/").endswith("/predict")
    expect(nav.get_by_text("ui", exact=True)).to_have_count(0)  # the raw pages/ folder is not listed
    expect(page.locator("canvas.upper-canvas")).to_be_visible(**WAIT)  # the drawing canvas works too
    # the legacy pages/-folder mode of a fresh server found the address (app/legacy_links.py)
    expect(page.get_by_text("Page not found")).to_have_count(0)
    page.screenshot(path=str(screenshot_dir / "deep-link-predict.png"))
