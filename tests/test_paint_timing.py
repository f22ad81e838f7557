"""bench/paint_timing.py in a real Chromium: an element that appears some time after the page
loads, or after a mouse-up, is timed from then, on the page's own clock — also while a long task
keeps the page's main thread busy right after the element was painted (the case Playwright's own
wait_for gets wrong)."""
from __future__ import annotations

import asyncio
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.paint_timing import PaintTiming  # noqa: E402
from bench.server import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

pytestmark = pytest.mark.browser

# A heading 300 ms after load; on a click, a second heading 200 ms later, and right after it is
# painted a 1.5 s busy loop (what five Plotly charts do to a Predict page on a slow core).
PAGE = """<!doctype html><html><body>
<div id="pad" style="width:300px;height:300px;background:#ddd"></div>
<script>
setTimeout(() => { const h = document.createElement('h1'); h.textContent = 'Predict';
                   document.body.appendChild(h); }, 300);
document.getElementById('pad').addEventListener('pointerup', () => setTimeout(() => {
  const h = document.createElement('h3'); h.textContent = 'Prediction: 7 (99.1%)';
  document.body.appendChild(h);
  requestAnimationFrame(() => setTimeout(() => { const t = performance.now(); while (performance.now() - t < 1500) {} }, 0));
}, 200));
</script></body></html>"""


async def _measure(tmp_path: Path) -> dict:
    from playwright.async_api import async_playwright

    html = tmp_path / "page.html"
    html.write_text(PAGE)
    timing = PaintTiming({"title": ("h1", r"^Predict$"), "prediction": ("h3", r"^Prediction: "),
                          "never": ("h2", r"^Never$")})
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            ctx = await browser.new_context()
            await timing.install(ctx)
            page = await ctx.new_page()
            await page.goto(html.as_uri())
            load = await timing.painted(page, "title", since="navigation", timeout=30)
            await timing.rearm(page, "prediction")
            await page.mouse.click(150, 150)
            await page.get_by_role("heading", name="Prediction: 7").wait_for(timeout=30_000)
            draw = await timing.painted(page, "prediction", since="pointerup", timeout=30)
            busy_done = await page.evaluate("performance.now()")
            up = await page.evaluate("window.__paintTiming.pointerup")
            with pytest.raises(TimeoutError):
                await timing.painted(page, "never", since="navigation", timeout=0.2)
        finally:
            await browser.close()
    return {"load": load, "draw": draw, "busy_after_up": (busy_done - up) / 1000}


def test_paint_is_timed_from_load_and_from_mouse_up_not_from_when_the_page_is_free(tmp_path):
    # its own thread: the other browser tests' sync Playwright keeps an event loop in this one
    with ThreadPoolExecutor(1) as pool:
        got = pool.submit(lambda: asyncio.run(_measure(tmp_path))).result(timeout=180)
    assert got["load"] >= 0.3                     # not before the element existed
    assert got["draw"] >= 0.2
    # the heading was painted before the 1.5 s busy loop, which only ended after it
    assert got["busy_after_up"] >= got["draw"] + 1.5
