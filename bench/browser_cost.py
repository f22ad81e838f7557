"""What CNN Lab's pages cost the visitor's browser: main-thread work measured with Chrome's own
counters (CDP `Performance.getMetrics` TaskDuration, and the sampling profiler by script file).

Two scenes, each on a fresh server (pinned to core 0; Chromium and this script to core 1):

  * `watch`: a run trains (3 epochs on all of MNIST, started from the Train page); one Chromium
    keeps its watch link open. Figure: seconds of main-thread work per second, and which script
    files took it. This is what a projector, or a learner's laptop, spends on following a run.
  * `draw`: one Chromium on Predict draws a stroke, waits for the prediction, presses Clear, a
    few times. Figures: main-thread seconds per draw and per Clear, and mouse-up → the frame that
    painted "Prediction: …" (bench/paint_timing.py).

    CNN_LAB_DATA_DIR=../shared/data python bench/browser_cost.py            # both, ≈ 2 min
    CNN_LAB_DATA_DIR=../shared/data python bench/browser_cost.py --scene watch --window 20
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.browser_steps import start_run, stroke_until_release  # noqa: E402
from bench.class_load import PAINT  # noqa: E402
from bench.server import CHROMIUM, CHROMIUM_ARGS, bundled_checkpoints, serve, shared_data_dir  # noqa: E402

TIMEOUT_MS = 120_000
VIEWPORT = {"width": 1400, "height": 1600}


async def _metrics(cdp) -> dict[str, float]:
    return {m["name"]: m["value"] for m in (await cdp.send("Performance.getMetrics"))["metrics"]}


def _by_file(profile: dict, seconds: float, top: int = 8) -> list[tuple[str, float]]:
    """Milliseconds per second of sampled main-thread time, by script file ("(program)": the
    browser's own native work: layout, paint, DOM)."""
    nodes = {n["id"]: n["callFrame"] for n in profile["nodes"]}
    total: collections.Counter = collections.Counter()
    for sample, dt in zip(profile["samples"], profile["timeDeltas"]):
        frame = nodes[sample]
        name = frame["url"].rsplit("/", 1)[-1] or frame["functionName"] or "(native)"
        if name != "(idle)":
            total[name] += dt
    return [(name, round(us / 1000 / seconds, 1)) for name, us in total.most_common(top)]


async def watch_scene(url: str, window: float, epochs: int) -> dict:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        trainer = await (await browser.new_context(viewport=VIEWPORT)).new_page()
        watch_url = await start_run(trainer, url, epochs, all_data=True, timeout_ms=TIMEOUT_MS)
        await trainer.goto("about:blank")   # only the watch page draws from here on
        page = await (await browser.new_context(viewport=VIEWPORT)).new_page()
        await page.goto(watch_url, timeout=TIMEOUT_MS)
        await page.get_by_text(re.compile(r"^Epoch \d")).first.wait_for(timeout=TIMEOUT_MS)
        await asyncio.sleep(3)   # past the page's first draw
        cdp = await page.context.new_cdp_session(page)
        await cdp.send("Performance.enable")
        await cdp.send("Profiler.enable")
        await cdp.send("Profiler.setSamplingInterval", {"interval": 500})
        before = await _metrics(cdp)
        await cdp.send("Profiler.start")
        t0 = time.perf_counter()
        await asyncio.sleep(window)
        profile = (await cdp.send("Profiler.stop"))["profile"]
        seconds = time.perf_counter() - t0
        after = await _metrics(cdp)
        bar = page.locator("[data-testid='stProgress']")
        # The window should lie inside the run; say so when the run ended in it (its end redraws
        # the whole page: another scene), rather than fail reading a progress line that is gone.
        progress = (await bar.first.inner_text(timeout=5_000) if await bar.count()
                    else "the run ended inside the window")
        await browser.close()
    per_s = {k: round((after[k] - before[k]) / seconds, 3)
             for k in ("TaskDuration", "ScriptDuration", "LayoutDuration", "RecalcStyleDuration")}
    return {"scene": "watch", "window_s": round(seconds, 1), "main_thread_s_per_s": per_s["TaskDuration"],
            "per_s": per_s, "by_file_ms_per_s": _by_file(profile, seconds), "still_training": progress}


async def draw_scene(url: str, cycles: int) -> dict:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport=VIEWPORT)
        await PAINT.install(context)
        page = await context.new_page()
        await page.goto(f"{url}/predict", timeout=TIMEOUT_MS)
        canvas = page.locator("canvas.cnn-draw-canvas").first
        await canvas.wait_for(timeout=TIMEOUT_MS)
        await page.get_by_text("Nothing drawn yet").wait_for(timeout=TIMEOUT_MS)
        cdp = await context.new_cdp_session(page)
        await cdp.send("Performance.enable")
        await cdp.send("Profiler.enable")
        await cdp.send("Profiler.setSamplingInterval", {"interval": 500})
        draw_s, clear_s, paint_s, profiles = [], [], [], []
        for cycle in range(cycles):
            await PAINT.rearm(page, "prediction")
            await stroke_until_release(page, canvas)
            m0 = await _metrics(cdp)
            if cycle:   # which scripts a drawn digit costs (the first also compiles: left out)
                await cdp.send("Profiler.start")
            await page.mouse.up()
            await page.get_by_role("heading", name=re.compile(r"^Prediction: ")).wait_for(timeout=TIMEOUT_MS)
            paint_s.append(await PAINT.painted(page, "prediction", since="pointerup", timeout=TIMEOUT_MS / 1000))
            await asyncio.sleep(1.5)   # every chart of the explorer drawn
            if cycle:
                profiles.append((await cdp.send("Profiler.stop"))["profile"])
            m1 = await _metrics(cdp)
            await page.locator(".st-key-predict-clear button").click()
            await page.get_by_text("Nothing drawn yet").wait_for(timeout=TIMEOUT_MS)
            await asyncio.sleep(1.0)
            m2 = await _metrics(cdp)
            draw_s.append(m1["TaskDuration"] - m0["TaskDuration"])
            clear_s.append(m2["TaskDuration"] - m1["TaskDuration"])
        await browser.close()
    later = slice(1, None)   # the first draw also compiles the chart library: reported apart
    return {"scene": "draw", "cycles": cycles,
            "first_draw_main_thread_s": round(draw_s[0], 3),
            "draw_main_thread_s": _stats(draw_s[later]), "clear_main_thread_s": _stats(clear_s[later]),
            "prediction_painted_s": _stats(paint_s),
            "draw_by_file_ms": _by_file_total(profiles)}


def _by_file_total(profiles: list[dict]) -> list[tuple[str, float]]:
    """Milliseconds of main-thread work per drawn digit, by script file (mean over `profiles`)."""
    total: collections.Counter = collections.Counter()
    for profile in profiles:
        total.update(dict(_by_file(profile, 1.0, top=30)))
    return [(name, round(ms / max(1, len(profiles)), 1)) for name, ms in total.most_common(10)]


def _stats(values: list[float]) -> dict:
    return {"n": len(values), "median": round(statistics.median(values), 3), "max": round(max(values), 3)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--scene", choices=("watch", "draw", "both"), default="both")
    p.add_argument("--window", type=float, default=15.0, help="seconds the watch page is measured")
    p.add_argument("--epochs", type=int, default=3,
                   help="epochs of the watched run (all of MNIST; ≈ 12 s each on a quiet core)")
    p.add_argument("--cycles", type=int, default=6, help="draw + Clear cycles")
    args = p.parse_args(argv)
    data_dir = shared_data_dir()
    if data_dir is None:
        print("MNIST not found: set CNN_LAB_DATA_DIR (see ../shared/data/README.md)", file=sys.stderr)
        return 2
    pinned = hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1
    rows = []
    for scene in (("watch", "draw") if args.scene == "both" else (args.scene,)):
        with tempfile.TemporaryDirectory() as tmp:
            env = {"CNN_LAB_DATA_DIR": str(data_dir),
                   "CNN_LAB_CHECKPOINT_DIR": str(bundled_checkpoints(Path(tmp) / "checkpoints"))}
            with serve("streamlit_app.py", Path(tmp) / "server.log", env=env,
                       cpus="0" if pinned else None) as (url, _proc):
                if pinned:
                    os.sched_setaffinity(0, {1})   # this script and the Chromium it starts
                work = (watch_scene(url, args.window, args.epochs) if scene == "watch"
                        else draw_scene(url, args.cycles))
                rows.append(asyncio.run(work))
        print(json.dumps(rows[-1]), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
