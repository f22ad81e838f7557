"""Streamlit's own file-uploader text in a real browser (headless Chromium): Chinese on the
Convolution and Predict pages with ?lang=zh, Streamlit's English without it. What a visitor sees
is read from the page: the button's and the size line's rendered text, including the translated
::after content that app.ui.localize_uploaders puts in place of the hidden English."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from tests.helpers import open_options

pytestmark = pytest.mark.browser

WAIT = {"timeout": 60_000}

# What a visitor sees in an uploader: its visible text plus any ::before/::after content, for the
# button label and the size/type line; also the English it hides (font-size 0 or display none).
SEEN_JS = """root => {
  const shown = el => {
    if (!el) return null;
    const style = getComputedStyle(el);
    const own = (style.display === 'none' || parseFloat(style.fontSize) === 0) ? '' : el.innerText.trim();
    const extra = ['::before', '::after'].map(p => getComputedStyle(el, p).content)
      .filter(c => c && c !== 'none' && c !== 'normal').map(c => JSON.parse(c)).join('');
    return (own + extra).trim();
  };
  const label = root.querySelector('[data-testid="stFileUploaderDropzone"] [data-testid="stBaseButton-secondary"] [data-testid="stMarkdownContainer"]');
  const line = root.querySelector('[data-testid="stFileUploaderDropzoneInstructions"] span');
  return {button: shown(label), line: shown(line)};  // innerText leaves out a hidden (display: none) <p>
}"""


def settled(page) -> None:
    expect(page.locator("h1").first).to_be_visible(**WAIT)
    expect(page.locator('[data-testid="stApp"]')).to_have_attribute("data-test-script-state", "notRunning", **WAIT)


def seen(page, key: str) -> dict:
    root = page.locator(f".st-key-{key}")
    expect(root.locator('[data-testid="stFileUploaderDropzoneInstructions"]')).to_be_visible(**WAIT)
    return root.evaluate(SEEN_JS)


def open_page(page, app_url: str, path: str, lang: str | None) -> None:
    query = f"?lang={lang}" if lang else ""
    page.goto(f"{app_url}/{query}")
    settled(page)
    page.goto(f"{app_url}/{path}{query}")
    settled(page)


@pytest.mark.parametrize("lang", ["zh", None])
def test_uploader_text_follows_the_language(page, app_url, screenshot_dir, lang):
    zh = lang == "zh"
    name = "zh" if zh else "en"
    # Convolution: the photo uploader
    open_page(page, app_url, "convolution", lang)
    page.get_by_role("tab", name="卷积核作用于照片" if zh else "Kernels on photos").click()
    conv = seen(page, "conv-img-upload")
    if zh:
        assert conv == {"button": "上传", "line": "单个文件最大 20 MB • PNG、JPG、WEBP、BMP"}
    else:
        assert conv == {"button": "Upload", "line": "20MB per file • PNG, JPG, WEBP, BMP"}
    page.locator(".st-key-conv-img-upload").screenshot(path=str(screenshot_dir / f"uploader_conv_{name}.png"))
    # dragging a file over it shows Streamlit's "Drag and drop a file here" overlay
    zone = page.locator(".st-key-conv-img-upload [data-testid=stFileUploaderDropzone]")
    files = page.evaluate_handle("() => { const dt = new DataTransfer();"
                                 " dt.items.add(new File(['x'], 'a.png', {type: 'image/png'})); return dt; }")
    zone.dispatch_event("dragenter", {"dataTransfer": files})
    overlay = zone.locator(":scope > div:not([data-testid]) > span")
    expect(overlay).to_have_count(1, **WAIT)
    drop_text = overlay.evaluate("""el => parseFloat(getComputedStyle(el).fontSize) === 0
        ? JSON.parse(getComputedStyle(el, '::after').content) : el.innerText.trim()""")
    assert drop_text == ("将文件拖放到这里" if zh else "Drag and drop a file here")
    page.locator(".st-key-conv-img-upload").screenshot(path=str(screenshot_dir / f"uploader_drag_{name}.png"))
    zone.dispatch_event("dragleave", {"dataTransfer": files})

    # Predict: the digit-image uploader, then the checkpoint uploader
    open_page(page, app_url, "predict", lang)
    page.get_by_role("radio", name="上传图像" if zh else "Upload an image").click()
    image = seen(page, "predict-image_file")
    if zh:
        assert image == {"button": "上传", "line": "单个文件最大 20 MB • PNG、JPG、WEBP、BMP"}
    else:
        assert image == {"button": "Upload", "line": "20MB per file • PNG, JPG, WEBP, BMP"}
    page.locator(".st-key-predict-image_file").screenshot(path=str(screenshot_dir / f"uploader_predict_{name}.png"))

    open_options(page, page.locator(".st-key-predict-model input"),
                 re.compile("上传检查点" if zh else "Upload a checkpoint")).click()
    model = seen(page, "predict-model_file")
    if zh:
        assert model == {"button": "上传", "line": "单个文件最大 32 MB • SAFETENSORS"}
    else:
        assert model == {"button": "Upload", "line": "32MB per file • SAFETENSORS"}
    page.locator(".st-key-predict-model_file").screenshot(path=str(screenshot_dir / f"uploader_model_{name}.png"))
    if zh:  # nothing English left in what the three uploaders show
        assert not any(re.search("[A-Za-z]{3,}", v) for v in (conv["button"], image["button"], model["button"]))
