"""Shared-link behaviour in a real browser (headless Chromium): the language survives a reload,
/home opens Home without Streamlit's "Page not found" dialog, and the private link brings a
visitor's workspace into a fresh browser (another device). Every wait is an expect() or a
wait_for with a deadline; nothing sleeps.
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.helpers import expect_idle

pytestmark = pytest.mark.browser

WAIT = {"timeout": 60_000}  # a busy two-core machine: generous, but bounded
LINK = re.compile(r"\?ws=([A-Za-z0-9_-]{32,128})")


def settled(page) -> None:
    """The page has drawn its title and its script run is over (Streamlit marks the app element).
    A click while a cold server's first run is going can be lost (Streamlit 1.67, also before
    these changes), so tests click only once a run has ended."""
    expect(page.locator("h1").first).to_be_visible(**WAIT)
    expect(page.locator('[data-testid="stApp"]')).to_have_attribute(
        "data-test-script-state", "notRunning", **WAIT)


def nav(page):
    return page.locator('[data-testid="stSidebarNav"]')


def private_link(page) -> str:
    """The link shown in the sidebar's "Your private link" popover (English UI)."""
    page.get_by_role("button", name=re.compile("Your private link")).click()
    code = page.locator('[data-testid="stPopoverBody"] [data-testid="stCode"]')
    expect(code).to_contain_text("?ws=", **WAIT)
    link = "".join(code.inner_text().split())
    page.keyboard.press("Escape")
    return link


def test_the_language_survives_a_reload_and_a_page_switch(app_url, page, screenshot_dir):
    page.goto(f"{app_url}/")
    settled(page)
    page.get_by_text("简体中文").click()
    expect(page).to_have_url(re.compile(r"[?&]lang=zh"), **WAIT)
    expect(nav(page)).to_contain_text("训练", **WAIT)

    page.reload()
    expect(nav(page)).to_contain_text("训练", **WAIT)
    settled(page)
    expect(page.get_by_role("heading", name=re.compile("CNN 如何"))).to_be_visible(**WAIT)

    settled(page)
    nav(page).get_by_text("训练", exact=True).click()
    expect(page).to_have_url(re.compile(r"/train\?(.*&)?lang=zh"), **WAIT)
    page.reload()
    expect(page.locator("h1").first).to_have_text("训练", **WAIT)
    page.screenshot(path=str(screenshot_dir / "security-lang-reload-zh.png"))

    # A shared link opens in 简体中文 in a browser that never chose a language.
    other = page.context.browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        fresh = other.new_page()
        fresh.goto(f"{app_url}/predict?lang=zh")
        expect(fresh.locator("h1").first).to_have_text("预测", **WAIT)
        expect(fresh.get_by_role("radio", name="简体中文")).to_be_checked(**WAIT)
    finally:
        other.close()


def test_home_opens_the_home_page_without_page_not_found(app_url, page, screenshot_dir):
    # Twice: a server's very first request runs in Streamlit's pages-folder mode, which never
    # showed the dialog; the second load is the one that used to.
    for _ in range(2):
        page.goto(f"{app_url}/home")
        expect(page.locator("h1").first).to_have_text("🧠 CNN Lab", **WAIT)
        expect(nav(page)).to_contain_text("Convolution", **WAIT)
        settled(page)
        expect(page.get_by_text("Page not found")).to_have_count(0)
    page.screenshot(path=str(screenshot_dir / "security-home-path-en.png"))


def test_the_private_link_restores_the_workspace_in_a_fresh_browser(browser, tmp_path, screenshot_dir):
    """Visitor A's private link opened in a fresh browser (another device) is A's workspace: the
    same secret, and A's saved model in the Predict page's list; a browser without the link has
    neither. A's model is saved with core.workspace, the call the Train page's Save makes (the
    Train page still saves to the shared folder in main; once it saves into the workspace, the
    integrator can drive the save through the page here)."""
    from core.checkpoint import make_metadata
    from core.models import PRESETS, build_model
    from core.workspace import Workspace
    from bench.server import streamlit_server

    with streamlit_server(tmp_path) as url:
        contexts = []

        def fresh_page():
            ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
            contexts.append(ctx)
            p = ctx.new_page()
            p.set_default_timeout(30_000)
            return p

        def predict_models(p) -> str:
            nav(p).get_by_text("Predict", exact=True).click()
            expect(p.locator("h1").first).to_have_text("Predict", **WAIT)
            settled(p)
            expect_idle(p)
            p.get_by_label("Model", exact=True).click()
            listbox = p.get_by_role("listbox")
            expect(listbox).to_contain_text("mnist-default", **WAIT)  # the list is drawn
            text = listbox.inner_text()
            p.keyboard.press("Escape")
            return text

        try:
            a = fresh_page()
            a.goto(f"{url}/")
            settled(a)
            link = private_link(a)
            secret = LINK.search(link).group(1)
            assert link.startswith(url), link
            spec = PRESETS["fast"].spec()
            Workspace.open(secret, root=tmp_path / "checkpoints").save(
                "private-link-model", build_model(spec), make_metadata(spec, "mnist", name="private-link-model"))
            assert "private-link-model" in predict_models(a)

            # The same visitor on another device: a fresh browser context with the private link.
            b = fresh_page()
            b.goto(link)
            expect(nav(b)).to_contain_text("Predict", **WAIT)
            settled(b)
            expect(b).not_to_have_url(re.compile(r"ws="), **WAIT)  # the secret leaves the address bar
            # a link to another workspace asks first (app.link_prompt); the visitor opens it
            b.locator(".st-key-link-prompt-open button").click()
            expect(b.locator(".st-key-link-prompt")).to_have_count(0, **WAIT)
            settled(b)
            assert LINK.search(private_link(b)).group(1) == secret, "the same workspace, not a new one"
            expect(b.get_by_text("That private link is not valid")).to_have_count(0)
            assert "private-link-model" in predict_models(b)
            b.screenshot(path=str(screenshot_dir / "security-private-link-restored-en.png"))

            # Someone else (no link, or a cut-short one): a new workspace without A's model.
            c = fresh_page()
            c.goto(f"{url}/?ws={secret[:10]}")
            expect(c.get_by_text("That private link is not valid")).to_be_visible(**WAIT)
            settled(c)
            c.screenshot(path=str(screenshot_dir / "security-private-link-invalid-en.png"))
            assert LINK.search(private_link(c)).group(1) != secret
            assert "private-link-model" not in predict_models(c)
        finally:
            for ctx in contexts:
                ctx.close()
