"""The Train page's code panel in a real browser (headless Chromium): open it, read the script,
download it, in English and in Chinese. Screenshots go to test-artifacts/screenshots/."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from core.codegen import training_script
from core.models import DEFAULT_PRESET
from core.train import config_from_preset

pytestmark = pytest.mark.browser

WAIT = {"timeout": 120_000}
SETTLED = """() => !document.querySelector('[data-testid="stStatusWidget"]')
  && !document.querySelector('[data-stale="true"]')"""


@pytest.mark.parametrize("lang, title, ready, download", [
    ("en", "⬇ PyTorch code for this run", "MNIST is loaded", "Download cnn_lab_fast.py"),
    ("zh", "⬇ 本次训练的 PyTorch 代码", "MNIST 已载入", "下载 cnn_lab_fast.py"),
])
def test_the_code_panel_shows_and_downloads_the_script(page, app_url, screenshot_dir, lang, title, ready,
                                                       download):
    page.goto(f"{app_url}/train" + ("?lang=zh" if lang == "zh" else ""))
    expect(page.get_by_text(ready)).to_be_visible(**WAIT)
    panel = page.locator(".st-key-train-code")
    panel.get_by_text(title).click()
    code = panel.locator('[data-testid="stCode"]')
    expect(code).to_contain_text("class Net(nn.Module):", **WAIT)
    expect(code).to_contain_text("FRACTION = 0.1", **WAIT)  # the form's 10% of a first visit
    page.wait_for_function(SETTLED, **WAIT)
    panel.scroll_into_view_if_needed()
    panel.screenshot(path=str(screenshot_dir / f"train-code-panel-{lang}.png"), animations="disabled")
    with page.expect_download(**WAIT) as info:
        panel.get_by_role("button", name=download).click()
    saved = info.value
    assert saved.suggested_filename == "cnn_lab_fast.py"
    text = open(saved.path(), encoding="utf-8").read()
    # The form's first-visit settings: the default preset's recipe on 10% of MNIST.
    assert text == training_script(config_from_preset(DEFAULT_PRESET, fraction=0.1))
