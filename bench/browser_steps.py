"""What the benches' Chromium visitors do on CNN Lab's pages, written once (Playwright, async):
draw a stroke on Predict's canvas, and start a run on Train and read its watch link.

The stroke stops short of the mouse-up: every caller times from it (and reads its clocks just
before), so the caller releases the button itself."""
from __future__ import annotations

import re

STROKE = [(140, 45 + 10 * i) for i in range(20)]   # a vertical "1", in canvas pixels


async def stroke_until_release(page, canvas) -> None:
    """Press on Predict's drawing canvas and draw STROKE; the button is still down."""
    box = await canvas.bounding_box()   # looked up each time: a cleared canvas is briefly drawn twice
    await page.mouse.move(box["x"] + STROKE[0][0], box["y"] + STROKE[0][1])
    await page.mouse.down()
    for x, y in STROKE[1:]:
        await page.mouse.move(box["x"] + x, box["y"] + y, steps=2)


async def start_run(page, url: str, epochs: int, *, all_data: bool = False, timeout_ms: float = 120_000) -> str:
    """Open Train, set the epochs (and, with all_data, "Data used" to 100%: a run of a minute or
    so instead of seconds), press Start; returns the run's watch link."""
    await page.goto(f"{url}/train", timeout=timeout_ms)
    start = page.locator(".st-key-train-start button")
    await start.wait_for(timeout=timeout_ms)
    if all_data:
        data_used = page.get_by_role("slider", name="Data used")
        await data_used.focus()
        await data_used.press("End")
        await page.get_by_text(re.compile(r"55,000 training images")).first.wait_for(timeout=timeout_ms)
    field = page.get_by_label("Epochs", exact=True)
    await field.fill(str(epochs))
    await field.press("Enter")
    await page.get_by_text(f"× {epochs} epoch").first.wait_for(timeout=timeout_ms)
    await start.click()
    link = page.locator(".st-key-train-watch-link code")
    await link.wait_for(timeout=timeout_ms)
    return (await link.inner_text()).strip()
