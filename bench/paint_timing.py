"""When did the screen show it: in-page timing of the first frame that paints an element.

Playwright's `locator.wait_for()` polls from inside the page, so while the page's main thread
renders charts (a Predict draw builds five Plotly charts in ≈ 0.5–0.9 s of long tasks on one
slow core) its answer arrives when the charts are done, not when the heading was painted: on an
idle machine a drawn digit's "Prediction: …" heading was painted 0.36–0.67 s after the mouse-up
while `wait_for` returned after 0.8–1.7 s (bench/paint_timing.py's own probe, issue 22).

This module measures what a person sees instead. An init script (run at the start of every
document) watches the DOM with a MutationObserver for elements matching named rules (a CSS
selector + a regular expression over the element's text); the first time a rule matches it asks
for the next animation frame and records `performance.now()` there — the frame that paints the
element. It also records the last `pointerup`, so "mouse-up → painted" is measured on the page's
own clock, independent of how late Playwright or this process learns about it.

    timing = PaintTiming({"title": ("h1", r"^Predict$"), "prediction": ("h3", r"^Prediction: ")})
    await timing.install(context)                    # before the first page of the context
    await page.goto(url)                             # load: ms since navigation start
    load_s = await timing.painted(page, "title", since="navigation")
    await timing.rearm(page, "prediction")           # before each draw
    ...draw...
    draw_s = await timing.painted(page, "prediction", since="pointerup")

Every wait is bounded (`timeout`); a rule that never matches raises TimeoutError.
"""
from __future__ import annotations

import asyncio
import json
import time

_SCRIPT = """
(() => {
  const rules = %s;
  const W = window.__paintTiming = {found: {}, painted: {}, pointerup: null};
  document.addEventListener('pointerup', () => { W.pointerup = performance.now(); }, true);
  const check = () => {
    for (const [name, [selector, source]] of Object.entries(rules)) {
      if (name in W.found) continue;
      const re = new RegExp(source);
      for (const el of document.querySelectorAll(selector)) {
        if (!re.test(el.textContent.trim())) continue;
        W.found[name] = performance.now();
        requestAnimationFrame(() => { W.painted[name] = performance.now(); });
        break;
      }
    }
  };
  W.rearm = (name) => { delete W.found[name]; delete W.painted[name]; check(); };
  new MutationObserver(check).observe(document, {subtree: true, childList: true, characterData: true});
})();
"""


class PaintTiming:
    """Named rules {name: (css selector, regex over the element's trimmed text)}."""

    def __init__(self, rules: dict[str, tuple[str, str]]):
        self.rules = dict(rules)

    async def install(self, context) -> None:
        await context.add_init_script(script=_SCRIPT % json.dumps(self.rules))

    async def rearm(self, page, name: str) -> None:
        """Forget `name`'s last match: the next element that matches is timed afresh (an element
        that matches right now counts at once — rearm after the old one is gone)."""
        await page.evaluate("(n) => window.__paintTiming.rearm(n)", name)

    async def painted(self, page, name: str, *, since: str, timeout: float = 60.0) -> float:
        """Seconds from `since` ("navigation": the document's time origin; "pointerup": the last
        mouse-up on the page) to the frame that first painted a match of rule `name`."""
        deadline = time.monotonic() + timeout
        while True:
            state = await page.evaluate(
                "(n) => { const W = window.__paintTiming;"
                "  return W ? {p: W.painted[n] ?? null, up: W.pointerup} : null; }", name)
            if state and state["p"] is not None:
                start = 0.0 if since == "navigation" else state["up"]
                if start is None:
                    raise ValueError("no pointerup recorded on this page")
                return (state["p"] - start) / 1000.0
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing matching {self.rules[name]} painted within {timeout:.0f} s")
            await asyncio.sleep(0.05)
