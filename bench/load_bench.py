"""Load on one CNN Lab server: K visitors drawing on the Predict page while others watch a run.

Follows the way Streamlit load-tests its own server (its repository's
e2e_playwright/load_testing): real browser visitors, driven by Playwright from worker processes,
against one `streamlit run` server, while the server's resident memory and CPU are sampled.

For each K (default 1, 5, 10, 20):
  * one visitor opens the Train page and starts a long training run (fast preset, 20 epochs of
    10% of MNIST, so it trains for the whole measurement), then copies
    the run's read-only watch link; `--watchers` more visitors keep that link open, so the
    server streams curves to them the whole time (skipped with --no-training);
  * K visitors, spread over worker processes (one Chromium per process, several pages each,
    driven concurrently with Playwright's async API), repeatedly draw a digit on the Predict
    page: clear, wait for the empty state, draw one stroke, and time from the mouse-up to the
    frame that painted "Prediction: 1 (…)", timed on the page's own clock (bench/paint_timing.py).
    That is what a learner waits for. What Playwright's wait_for saw is reported beside it
    (playwright_p50_s / playwright_p95_s): later, by however long the page's charts kept the
    page's main thread busy after the heading was painted.
  * a sampler polls the server process (and its children) for RSS and CPU every 0.5 s.

The browsers run on the same machine as the server, so on a 2-core machine they compete with it
for CPU: the figures are pessimistic for a real class, whose browsers run on their own laptops.
Only 127.0.0.1 is contacted.

    python bench/load_bench.py                         # K = 1, 5, 10, 20; 8 strokes per visitor
    python bench/load_bench.py --visitors 1 5 --strokes 4 --watchers 2
"""
from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.browser_steps import start_run, stroke_until_release  # noqa: E402
from bench.paint_timing import PaintTiming  # noqa: E402
from bench.server import CHROMIUM, CHROMIUM_ARGS, shared_data_dir, streamlit_server  # noqa: E402

TIMEOUT_MS = 120_000        # a stroke that takes longer than this counts as a failure
TARGET_P95_S = 1.5          # issue 22: --visitors 1 --watchers 5 on the local backend
TRAINING_EPOCHS = 20        # the watched run trains during the whole measurement
VISITORS_PER_WORKER = 5     # pages per Chromium process (Streamlit's load tests use a few per worker)
PREDICTION = re.compile(r"^Prediction: 1 \(")
# "on screen": the frame that painted the prediction's heading, on the page's clock (paint_timing.py)
PAINT = PaintTiming({"prediction": ("h3", PREDICTION.pattern)})


# --------------------------------------------------------------------------- visitors (workers)
async def _open_predict(page, url: str) -> None:
    await page.goto(f"{url}/predict", timeout=TIMEOUT_MS)
    await page.locator("canvas.cnn-draw-canvas").first.wait_for(timeout=TIMEOUT_MS)
    await page.get_by_text("Nothing drawn yet").wait_for(timeout=TIMEOUT_MS)


async def _stroke_latency(page) -> tuple[float, float]:
    """Draw one vertical stroke; seconds from mouse-up to the frame that painted the prediction,
    and to when Playwright's wait_for saw it (later by however long the page's charts kept the
    page's main thread busy)."""
    await PAINT.rearm(page, "prediction")
    await stroke_until_release(page, page.locator("canvas.cnn-draw-canvas").first)
    await page.mouse.up()
    t0 = time.perf_counter()
    await page.get_by_role("heading", name=PREDICTION).wait_for(timeout=TIMEOUT_MS)
    seen = time.perf_counter() - t0
    return await PAINT.painted(page, "prediction", since="pointerup", timeout=TIMEOUT_MS / 1000), seen


async def _visitor(browser, url: str, strokes: int, think: float, out: list, errors: list) -> None:
    context = await browser.new_context(viewport={"width": 1400, "height": 1600})
    await PAINT.install(context)
    page = await context.new_page()
    try:
        await _open_predict(page, url)
        for _ in range(strokes):
            out.append(await _stroke_latency(page))
            await page.locator(".st-key-predict-clear button").click()
            await page.get_by_text("Nothing drawn yet").wait_for(timeout=TIMEOUT_MS)
            await asyncio.sleep(think)
    except Exception as e:  # noqa: BLE001 — a failed visitor is reported, the others go on
        errors.append(f"{type(e).__name__}: {str(e).splitlines()[0][:200]}")
    finally:
        await context.close()


async def _worker_main(url: str, visitors: int, strokes: int, think: float, start_at: float):
    from playwright.async_api import async_playwright

    latencies: list[float] = []
    errors: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        await asyncio.sleep(max(0.0, start_at - time.time()))  # every worker starts together
        await asyncio.gather(*[_visitor(browser, url, strokes, think, latencies, errors)
                               for _ in range(visitors)])
        await browser.close()
    return latencies, errors


def _worker(args) -> tuple[list[float], list[str]]:
    return asyncio.run(_worker_main(*args))


# --------------------------------------------------------------------------- training + watchers
async def _start_run_and_watch(url: str, watchers: int, ready: threading.Event,
                               done: threading.Event, info: dict) -> None:
    """One visitor starts a long run on the Train page; `watchers` others open its watch link
    and keep it open until `done` is set."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        trainer = await (await browser.new_context(viewport={"width": 1400, "height": 1600})).new_page()
        try:
            # A run that outlasts the measurement: the default 1-epoch run would end in seconds.
            watch_url = await start_run(trainer, url, TRAINING_EPOCHS, timeout_ms=TIMEOUT_MS)
            info["watch_link"] = True
            pages = []
            for _ in range(watchers):
                p = await (await browser.new_context()).new_page()
                await p.goto(watch_url, timeout=TIMEOUT_MS)
                pages.append(p)
        except Exception as e:  # noqa: BLE001 — the bench still measures drawing without it
            info["training_error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
        finally:
            ready.set()
        while not done.is_set():
            await asyncio.sleep(0.5)
        await browser.close()


# --------------------------------------------------------------------------- server sampling
class Sampler(threading.Thread):
    """RSS (MB, server + children) and CPU (% of one core) of the server, every `interval` s."""

    def __init__(self, pid: int, interval: float = 0.5):
        super().__init__(daemon=True)
        import psutil

        self.proc = psutil.Process(pid)
        self.interval = interval
        self.rss: list[float] = []
        self.cpu: list[float] = []
        self.load: list[float] = []   # the machine's 1-min load average: other work competing
        self._halt = threading.Event()

    def _procs(self):
        return [self.proc, *self.proc.children(recursive=True)]

    def run(self) -> None:
        import psutil

        for p in self._procs():
            p.cpu_percent(None)
        while not self._halt.wait(self.interval):
            try:
                procs = self._procs()
                self.rss.append(sum(p.memory_info().rss for p in procs) / 2**20)
                self.cpu.append(sum(p.cpu_percent(None) for p in procs))
                self.load.append(os.getloadavg()[0])
            except psutil.Error:
                continue

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


# --------------------------------------------------------------------------- one K
def measure(url: str, server_pid: int, k: int, args) -> dict:
    ready, done, info = threading.Event(), threading.Event(), {}
    trainer = None
    if not args.no_training:
        trainer = threading.Thread(target=lambda: asyncio.run(
            _start_run_and_watch(url, args.watchers, ready, done, info)), daemon=True)
        trainer.start()
        ready.wait(timeout=TIMEOUT_MS / 1000 * 2)
    sampler = Sampler(server_pid)
    sampler.start()
    workers = max(1, -(-k // VISITORS_PER_WORKER))
    shares = [k // workers + (i < k % workers) for i in range(workers)]
    start_at = time.time() + 3 + 2 * workers  # time for every Chromium to launch
    t0 = time.perf_counter()
    with mp.get_context("spawn").Pool(workers) as pool:
        results = pool.map(_worker, [(url, n, args.strokes, args.think, start_at) for n in shares])
    wall = time.perf_counter() - t0
    sampler.stop()
    done.set()
    if trainer is not None:
        trainer.join(timeout=30)
    latencies = [x for lat, _ in results for x, _ in lat]
    seen = [x for lat, _ in results for _, x in lat]
    errors = [e for _, err in results for e in err]
    row = {
        "visitors": k, "watchers": 0 if args.no_training else args.watchers,
        "training": not args.no_training and "training_error" not in info,
        "strokes": len(latencies), "errors": errors,
        "p50_s": round(statistics.median(latencies), 3) if latencies else None,
        "p95_s": round(percentile(latencies, 95), 3) if latencies else None,
        "max_s": round(max(latencies), 3) if latencies else None,
        "latencies_s": [round(x, 3) for x in latencies],   # in stroke order, per visitor
        "playwright_p50_s": round(statistics.median(seen), 3) if seen else None,
        "playwright_p95_s": round(percentile(seen, 95), 3) if seen else None,
        "server_peak_rss_mb": round(max(sampler.rss), 1) if sampler.rss else None,
        "server_mean_cpu_pct": round(statistics.mean(sampler.cpu), 1) if sampler.cpu else None,
        "server_peak_cpu_pct": round(max(sampler.cpu), 1) if sampler.cpu else None,
        "wall_s": round(wall, 1),
        "machine_load_avg": {"mean": round(statistics.mean(sampler.load), 2),
                             "max": round(max(sampler.load), 2)} if sampler.load else None,
        "target_p95_s": TARGET_P95_S,
        "target_met": bool(latencies) and not errors and percentile(latencies, 95) <= TARGET_P95_S,
    }
    if "training_error" in info:
        row["training_error"] = info["training_error"]
    return row


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--visitors", type=int, nargs="+", default=[1, 5, 10, 20],
                   help="numbers of drawing visitors, one server per number")
    p.add_argument("--strokes", type=int, default=8, help="strokes per drawing visitor")
    p.add_argument("--think", type=float, default=1.0, help="seconds between a visitor's strokes")
    p.add_argument("--watchers", type=int, default=5, help="visitors watching the training run")
    p.add_argument("--no-training", action="store_true", help="no training run during the test")
    p.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / f"load_bench-{date.today()}.json")
    args = p.parse_args(argv)
    if shared_data_dir() is None and not args.no_training:
        p.error("training needs MNIST: set CNN_LAB_DATA_DIR (or use --no-training)")

    rows = []
    for k in args.visitors:
        # A fresh server per K, so one K's leftovers (sessions, finished runs) don't weigh on the next.
        with tempfile.TemporaryDirectory() as tmp, streamlit_server(Path(tmp)) as url:
            import psutil

            port = int(url.rsplit(":", 1)[1])
            pid = next(c.pid for c in psutil.net_connections("tcp")
                       if c.laddr and c.laddr.port == port and c.status == psutil.CONN_LISTEN)
            row = measure(url, pid, k, args)
        rows.append(row)
        print(json.dumps(row), flush=True)

    print(f"\n{'visitors':>8} {'watch':>5} {'strokes':>7} {'p50 s':>7} {'p95 s':>7} "
          f"{'pw p95':>7} {'peak RSS MB':>11} {'mean CPU %':>10} {'errors':>6} {'load avg':>8} {'p95 ≤ 1.5 s':>11}")
    for r in rows:
        print(f"{r['visitors']:>8} {r['watchers'] if r['training'] else 0:>5} {r['strokes']:>7} "
              f"{r['p50_s'] if r['p50_s'] is not None else '-':>7} "
              f"{r['p95_s'] if r['p95_s'] is not None else '-':>7} "
              f"{r['playwright_p95_s'] if r['playwright_p95_s'] is not None else '-':>7} "
              f"{r['server_peak_rss_mb']:>11} {r['server_mean_cpu_pct']:>10} {len(r['errors']):>6} "
              f"{(r['machine_load_avg'] or {}).get('mean', '-'):>8} {'yes' if r['target_met'] else 'no':>11}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"date": str(date.today()), "cpus": os.cpu_count(),
                                     "rows": rows}, indent=1))
    print(f"\nresults: {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
