"""The Train page's set-up tab in headless Chromium, in Chinese: a tutorial preset from the picker
fills the form with the tutorial's settings, says which tutorial it follows and its note, and the
summary answers "why 3,136 numbers?" with Chinese layer names (the tables are canvas grids:
their text is checked through AppTest in test_train_page). Nothing is trained here.

Uses the shared server from conftest. Every read waits for the state it checks (Playwright
`expect`), because choosing a preset reruns the page.
"""
from __future__ import annotations

import pytest
from playwright.sync_api import expect
from tests.helpers import open_options

pytestmark = pytest.mark.browser
WAIT = {"timeout": 120_000}  # two busy CI cores


def test_a_tutorial_preset_in_chinese(page, app_url, screenshot_dir):
    page.goto(f"{app_url}/")
    page.get_by_text("简体中文", exact=True).first.click()
    nav = page.locator("[data-testid=stSidebarNav] a", has_text="训练")
    expect(nav).to_be_visible(**WAIT)
    nav.click()
    expect(page.get_by_text("MNIST 已载入")).to_be_visible(**WAIT)
    open_options(page, "从预设开始", "2-conv 16/32 → FC 128 · 教程 000")
    page.get_by_role("option", name="4-conv 5×5 16/32/32/64 · 教程 002").click()
    # the form takes the tutorial's batch size and epochs; the summary explains the flatten size
    expect(page.get_by_text("6,000 张训练图像 × 2 轮 = 120 步")).to_be_visible(**WAIT)
    expect(page.get_by_text("卷积4 输出 64 个 7×7 的通道，所以 全连接1 接收 64 × 7 × 7 = 3,136 个数")).to_be_visible(**WAIT)
    expect(page.get_by_text("关于教程的说明")).to_be_visible(**WAIT)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", **WAIT)
    page.screenshot(path=str(screenshot_dir / "train-setup-tutorial-002-zh.png"), full_page=True)
