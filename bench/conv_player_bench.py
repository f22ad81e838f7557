"""How fast the Convolution page's player really steps, in a real browser, at each chosen speed.

The "Step by step" tab plays a convolution one output cell at a time at a chosen number of steps
per second. This script starts `streamlit run streamlit_app.py` on a free local port (or uses
--url), opens the Convolution page in headless Chromium, makes the input 12×12 (a 3×3 kernel: 100
steps), picks a speed, presses Play and watches the "Step N of 100" title from inside the page
(polled every 10 ms) for a fixed time. It prints, per speed:

  * steps/s: how far the step counter moved per second of wall time, from the first automatic
    step on (the pace a learner sees the animation keep);
  * frames/s: how many different steps were drawn per second (a tick that is late jumps over a
    step to stay on time, so this can be below steps/s);
  * largest jump: the most steps one redraw moved.

    python bench/conv_player_bench.py                        # speeds 1, 4 and 8; 10 s each
    python bench/conv_player_bench.py --speeds 4 --seconds 20
    python bench/conv_player_bench.py --json

The browser runs on the same machine as the server; on the project's shared 2-core machines both
compete for CPU with whatever else runs, so run it on a quiet machine and read the figures as a
lower bound. Only 127.0.0.1 is contacted. Performance is measured here, never in a timed test.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.server import CHROMIUM, CHROMIUM_ARGS, streamlit_server  # noqa: E402

TIMEOUT_MS = 120_000
SIDE = 12  # input rows and columns: with the 3×3 kernel, 10 × 10 = 100 output cells (steps)
N_STEPS = (SIDE - 2) ** 2

# Runs in the page: every 10 ms, note the step shown in the "Step N of M" title when it changed.
WATCH_JS = """() => {
  window.__steps = [];
  const read = () => {
    for (const s of document.querySelectorAll('[data-testid="stMarkdownContainer"] strong')) {
      const m = /^Step (\\d+) of (\\d+)$/.exec(s.textContent);
      if (m) return +m[1];
    }
    return null;
  };
  let last = read();
  window.__steps.push([performance.now(), last]);
  window.__watch = setInterval(() => {
    const n = read();
    if (n !== null && n !== last) { last = n; window.__steps.push([performance.now(), n]); }
  }, 10);
}"""


def settle(page) -> None:
    page.wait_for_function(
        "() => document.querySelector('[data-testid=\"stApp\"]')"
        "?.getAttribute('data-test-script-state') === 'notRunning'"
        " && !document.querySelector('[data-stale=\"true\"]')", timeout=TIMEOUT_MS)


def open_page(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("text=CNN Lab", timeout=TIMEOUT_MS)
    page.goto(f"{url}/convolution")
    page.get_by_text("Step 1 of 9").wait_for(timeout=TIMEOUT_MS)
    settle(page)
    for label in ("Input rows", "Input columns"):
        box = page.get_by_label(label, exact=True)
        box.fill(str(SIDE))
        box.press("Enter")
        settle(page)
    page.get_by_text(f"Step 1 of {N_STEPS}").wait_for(timeout=TIMEOUT_MS)
    settle(page)


def measure(page, speed: str, seconds: float) -> dict:
    """Play at `speed` from step 1 for `seconds` (or to the end); the figures described above."""
    page.get_by_role("button", name="First").or_(page.get_by_role("button", name="Play")).first.wait_for()
    if page.get_by_role("button", name="First").is_enabled():
        page.get_by_role("button", name="First").click()
        page.get_by_text(f"Step 1 of {N_STEPS}").wait_for(timeout=TIMEOUT_MS)
        settle(page)
    page.locator(".st-key-conv-cs-speed").get_by_role("radio", name=speed, exact=True).click()
    settle(page)
    page.evaluate(WATCH_JS)
    page.get_by_role("button", name="Play").click()
    deadline = time.monotonic() + seconds + 30  # room for the first step to arrive
    end_of_window = None
    while time.monotonic() < deadline:
        steps = page.evaluate("() => window.__steps")
        moved = [s for s in steps[1:] if s[1] is not None and s[1] > 1]
        if moved and end_of_window is None:
            end_of_window = time.monotonic() + seconds
        if steps[-1][1] == N_STEPS or (end_of_window and time.monotonic() >= end_of_window):
            break
        time.sleep(0.1)
    steps = page.evaluate("() => { clearInterval(window.__watch); return window.__steps; }")
    with contextlib.suppress(Exception):
        page.get_by_role("button", name="Pause").click(timeout=5_000)
    settle(page)
    shown = [(t / 1000, n) for t, n in steps if n is not None]
    automatic = [(t, n) for t, n in shown if n > 1]
    if len(automatic) < 2:
        return {"speed": float(speed), "steps_per_s": None, "frames_per_s": None, "max_jump": None,
                "frames": len(automatic)}
    (t0, n0), (t1, n1) = automatic[0], automatic[-1]
    jumps = [b[1] - a[1] for a, b in zip(automatic, automatic[1:])]
    return {
        "speed": float(speed), "seconds": round(t1 - t0, 2),
        "steps_per_s": round((n1 - n0) / (t1 - t0), 2),
        "frames_per_s": round((len(automatic) - 1) / (t1 - t0), 2),
        "max_jump": max(jumps), "frames": len(automatic), "steps": n1 - n0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speeds", nargs="+", default=["1", "4", "8"], help="speeds to play (default 1 4 8)")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds watched per speed (default 10)")
    parser.add_argument("--url", help="an already running CNN Lab (default: start one)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    with contextlib.ExitStack() as stack:
        url = args.url
        if url is None:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            url = stack.enter_context(streamlit_server(tmp))
        pw = stack.enter_context(sync_playwright())
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        stack.callback(browser.close)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        open_page(page, url)
        results = [measure(page, speed, args.seconds) for speed in args.speeds]

    report = {"bench": "conv_player", "cpus": os.cpu_count(), "steps": N_STEPS, "results": results}
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"Convolution player in Chromium, {N_STEPS}-step example, {args.seconds:.0f} s per speed")
    print(f"{'chosen':>8}{'steps/s':>10}{'frames/s':>10}{'max jump':>10}{'watched':>10}")
    for r in results:
        if r["steps_per_s"] is None:
            print(f"{r['speed']:>8g}{'—':>10}{'—':>10}{'—':>10}{'':>10}  (fewer than two automatic steps)")
        else:
            print(f"{r['speed']:>8g}{r['steps_per_s']:>10.2f}{r['frames_per_s']:>10.2f}{r['max_jump']:>10d}"
                  f"{r['seconds']:>9.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
