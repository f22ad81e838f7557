"""Real browser: every page in headless Chromium, both languages, no exception shown."""
import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

PAGES = [("home", "CNN Lab", "CNN Lab"), ("convolution", "Convolution", "卷积"),
         ("train", "Train", "训练"), ("predict", "Predict", "预测")]


def wait_until_idle(page):
    page.wait_for_selector('[data-testid="stApp"]')
    page.wait_for_selector('[data-testid="stMainBlockContainer"]')
    # Streamlit shows a "running" status widget while the script runs.
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000)
    page.wait_for_timeout(500)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_page_opens_without_errors(app_url, page, screenshot_dir, lang):
    page.goto(f"{app_url}/")
    wait_until_idle(page)
    if lang == "zh":
        page.get_by_text("简体中文").click()
        wait_until_idle(page)
    for slug, title_en, title_zh in PAGES:
        # Navigate with the sidebar so the session (and its language) is kept.
        nav_text = {"home": ("Home", "首页")}.get(slug, (title_en, title_zh))[lang == "zh"]
        page.locator('[data-testid="stSidebarNav"]').get_by_text(nav_text, exact=True).click()
        wait_until_idle(page)
        assert page.locator('[data-testid="stException"]').count() == 0, f"{slug}: exception shown"
        heading = page.locator("h1").first.inner_text()
        assert heading.strip(), f"{slug}: page has a title"
        page.screenshot(path=str(screenshot_dir / f"smoke-{slug}-{lang}.png"), full_page=True)


def test_a_deep_link_on_a_fresh_server_opens_the_page_inside_the_app(browser, tmp_path, screenshot_dir):
    """The first request after a server start goes straight to /predict (a shared link): the page
    must come with the app's navigation and language switch, not as a bare script from pages/."""
    from tests.conftest import streamlit_server

    with streamlit_server(tmp_path) as url:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(30_000)
        try:
            page.goto(f"{url}/predict")
            wait_until_idle(page)
            # The first run goes through the app shell by a rerun (pages.ui.ensure_app_shell); on a
            # busy machine the status widget may not be up yet when wait_until_idle looks, so the
            # checks below retry (expect) instead of reading the page once.
            # A cold server's first run imports torch, OpenCV and Plotly: allow a minute.
            wait = {"timeout": 60_000}
            expect(page.locator("h1").first).to_have_text("Predict", **wait)
            nav = page.locator('[data-testid="stSidebarNav"]')
            expect(nav).to_contain_text("Home", **wait)
            expect(nav).to_contain_text("Train", **wait)
            # the shared sidebar's language switch, drawn only by streamlit_app.py
            expect(page.get_by_text("简体中文")).to_have_count(1, **wait)
            assert page.url.rstrip("/").endswith("/predict")
            assert "ui" not in nav.inner_text().split(), f"the raw pages/ folder is listed: {nav.inner_text()}"
            page.locator("canvas.upper-canvas").wait_for(**wait)  # the drawing canvas works too
            page.screenshot(path=str(screenshot_dir / "deep-link-predict.png"))
        except Exception:
            page.screenshot(path=str(screenshot_dir / "deep-link-predict-FAILED.png"), full_page=True)
            raise
        finally:
            context.close()
