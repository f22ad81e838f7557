"""A scripted lesson on one CNN Lab server: N browserless learners, the teacher, 2 real Chromiums.

Drives the real app, unchanged, through bench/protocol_client.py (Streamlit's own websocket
protocol) and Playwright:

  * the teacher opens the Class page, types the teacher key and keeps the page open (its
    auto-refreshing fragments followed at the interval the server asks for) the whole lesson;
  * N protocol learners each open Train, note what the page promises ("starts now" / "starting
    in about 40 s"), press Start on the fast preset (10% of MNIST, 1 epoch: the page's defaults,
    checked on the page), keep the live view open until their run is done (following its
    run_every fragment), then open Predict and draw 5 digits (MNIST test images sent as the
    drawing canvas's value, Clear between them);
  * 2 real Chromium visitors: one reloads Predict and draws strokes (page load → first heading,
    mouse-up → "Prediction: …" on screen), one opens learners' watch links and times how often
    the live progress line changes on screen (page load → first heading, too). "On screen" is
    the frame that painted it, timed on the page's own clock (bench/paint_timing.py); what
    Playwright's wait_for saw is kept beside it (`*_playwright_s`, an upper bound);
  * the server's RSS and CPU (with its children) are sampled every 0.5 s; with --profile, py-spy
    samples every server thread (or cProfile, main thread only, with --profile cprofile).

The server is pinned to core 0 and this bench (learners, teacher, Chromium) to core 1 (`taskset`
and sched_setaffinity), so the browsers do not steal the server's CPU. Every wait is bounded: the
whole lesson stops after --max-seconds.

Per run: submit → start → done as the learner saw them (the live view is polled every second,
so start/done are known to about 1 s), the estimate the page gave before/after Start; makespan
against ideal (Σ run time ÷ workers). Per protocol interaction: request → script_finished and
the bytes received. Errors: exceptions on pages, failed/refused runs, timeouts, closed sockets.

The server is the one `make class` starts (python -m app.serve with the Makefile's options, the run
registry on, CNN_LAB_TEACHER_KEY set, so training runs in the niced worker-process pool); only
the per-network budgets are raised, as a class behind one address needs (see run_one).

    python bench/class_load.py --learners 3 --no-chromium                 # a quick check
    python bench/class_load.py --learners 10 --profile py-spy --tag quiet  # ≈ 8 min
    python bench/class_load.py --learners 30 --profile py-spy --tag quiet  # ≈ 15 min
    python bench/class_load.py --learners 60 --profile py-spy --tag quiet  # ≈ 25 min
Writes bench/results/class_load-<date>-n<N>[-<tag>].json (or --json-dir) and prints the targets.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import datetime
import gzip
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from bench.server import CLASS_ENV, CLASS_OPTIONS, bundled_checkpoints, serve  # noqa: E402
from bench.browser_steps import stroke_until_release  # noqa: E402
from bench.paint_timing import PaintTiming  # noqa: E402
from bench.protocol_client import ProtocolError, Session  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
TEACHER_KEY = "lesson-key"
DIGITS = 5                    # digits each learner draws on Predict
CANVAS = 280                  # pages/predict.py's CANVAS_SIZE
TARGETS = {  # issue 22's targets for 30 learners + teacher + 2 Chromium
    "makespan_ratio": 1.15, "chromium_load_p95_s": 3.0, "chromium_draw_p95_s": 1.0,
    "learner_rerun_p95_s": 0.5, "server_peak_rss_mb": 2048, "errors": 0,
}


def percentile(values, q: float):
    """Nearest-rank percentile (q in 0..100); None for no values."""
    v = sorted(values)
    return round(v[max(0, math.ceil(q / 100 * len(v)) - 1)], 3) if v else None


def summary(values) -> dict:
    return {"n": len(values), "p50": percentile(values, 50), "p95": percentile(values, 95),
            "max": round(max(values), 3) if values else None}


def parse_duration(text: str) -> float | None:
    """'40 s' / '5 min' / '1 min 5 s' / '1 h 2 min' (the app's fmt_estimate) as seconds."""
    total, found = 0.0, False
    for value, unit in re.findall(r"(\d+(?:\.\d+)?)\s*(h|min|s)\b", text):
        total += float(value) * {"h": 3600, "min": 60, "s": 1}[unit]
        found = True
    return total if found else None


# --------------------------------------------------------------------------- digits to draw
def mnist_digits(data_dir: Path, count: int) -> list[np.ndarray]:
    """`count` MNIST test images (uint8 28×28, white ink on black)."""
    raw = gzip.open(data_dir / "MNIST" / "raw" / "t10k-images-idx3-ubyte.gz").read()
    images = np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 28, 28)
    return [images[i] for i in range(count)]


def canvas_value(digit: np.ndarray) -> dict:
    """What the drawing canvas sends after a stroke (app/draw_canvas.py): the PNG as a data URL
    (black ink on white, CANVAS×CANVAS) under the component's "drawing" state key."""
    import cv2

    from core.canvas import canvas_value as value_of

    big = cv2.resize(255 - digit, (CANVAS, CANVAS), interpolation=cv2.INTER_LINEAR)
    ok, png = cv2.imencode(".png", cv2.cvtColor(big, cv2.COLOR_GRAY2BGRA))
    assert ok
    return value_of(png.tobytes(), strokes=1)


# --------------------------------------------------------------------------- server sampling
class Sampler(threading.Thread):
    """RSS (MB, server + children) and CPU (% of one core) of the server, every `interval` s."""

    def __init__(self, pid: int, interval: float = 0.5):
        super().__init__(daemon=True)
        import psutil

        self.proc, self.interval = psutil.Process(pid), interval
        self.rss: list[float] = []
        self.pss: list[float] = []    # proportional: pages the fork server's workers share count once
        self.cpu: list[float] = []
        self.load: list[float] = []   # the machine's 1-min load average: other work competing
        self.processes = 0            # most processes seen at once (server, fork server, workers)
        # The bench's own side (its core): this process (protocol learners, teacher, Playwright's
        # client) and the browsers (Chromium and Playwright's driver) — what the Chromium visitors'
        # figures share their core with.
        self.bench_cpu: list[float] = []
        self.browser_cpu: list[float] = []
        self.profiler_cpu: list[float] = []   # py-spy (--profile py-spy), on the bench's cores too
        self._halt = threading.Event()

    def run(self) -> None:
        import psutil

        procs = {}
        while not self._halt.wait(self.interval):
            try:
                now = [self.proc, *self.proc.children(recursive=True)]
                rss, pss, cpu = 0.0, 0.0, 0.0
                for p in now:
                    if p.pid not in procs:
                        procs[p.pid] = p
                        p.cpu_percent(None)
                    mem = p.memory_full_info()
                    rss += mem.rss
                    pss += getattr(mem, "pss", mem.rss)
                    cpu += procs[p.pid].cpu_percent(None)
                self.rss.append(rss / 2**20)
                self.pss.append(pss / 2**20)
                self.processes = max(self.processes, len(now))
                self.cpu.append(cpu)
                self.load.append(os.getloadavg()[0])
                server = {p.pid for p in now}
                me = psutil.Process()
                others = [p for p in me.children(recursive=True) if p.pid not in server]
                spies = [p for p in others if "py-spy" in p.name()]
                browsers = [p for p in others if p not in spies]
                for p in [me, *others]:
                    if p.pid not in procs:
                        procs[p.pid] = p
                        p.cpu_percent(None)
                self.bench_cpu.append(procs[me.pid].cpu_percent(None))
                self.browser_cpu.append(sum(procs[p.pid].cpu_percent(None) for p in browsers))
                self.profiler_cpu.append(sum(procs[p.pid].cpu_percent(None) for p in spies))
            except psutil.Error:
                continue

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)


# --------------------------------------------------------------------------- the lesson
class Lesson:
    """Shared state: the runs, the errors, the watch links, when the lesson must end."""

    def __init__(self, n: int, deadline: float):
        self.n, self.deadline = n, deadline
        self.t0 = time.monotonic()
        self.runs: list[dict] = []
        self.errors: list[str] = []
        self.watch_links: dict[int, str] = {}
        self.active: set[int] = set()          # learners whose run is submitted and not done
        self.training: set[int] = set()        # … and seen training (what a watcher wants to see)
        self.learners_done = 0
        self.sessions: list[Session] = []
        self.finished = asyncio.Event()
        self.loop_lag: list[float] = []        # s: how late the bench's event loop woke (loop_lag)

    def left(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def rel(self, t: float) -> float:
        return round(t - self.t0, 2)

    def error(self, who: str, what: str) -> None:
        self.errors.append(f"{who}: {what}"[:300])


def _run_state(s: Session) -> str | None:
    """The learner's run as the live view shows it."""
    for text in s.texts():
        if text.startswith("Finished"):
            return "done"
        if "Waiting in line" in text:
            return "queued"
        if text.startswith(("Preparing the data", "Training has started", "Epoch ", "All ")):
            return "running"
        if "cancelled" in text.lower() or text.startswith("Training failed") or "💥" in text:
            return "failed"
    failed = [t for t in s.texts("alert") if "fail" in t.lower()]
    return "failed" if failed else None


def _promise_at(run: dict, fraction: float) -> float | None:
    """The start time the page promised (seconds from the poll on) at the poll nearest to
    `fraction` of the run's actual wait, or None."""
    wait, track = run.get("wait_s"), run.get("est_track") or []
    if wait is None or not track:
        return None
    at, promised = min(track, key=lambda tp: abs(tp[0] - fraction * wait))
    return promised if abs(at - fraction * wait) <= max(2.0, 0.2 * wait) else None


def _ratios(runs: list[dict], fraction: float) -> list[float]:
    """promised ÷ actual seconds to the start, for runs that waited at least 5 s."""
    out = []
    for r in runs:
        wait = r.get("wait_s")
        promised = r.get("est_start_after_s") if fraction == 0.0 else _promise_at(r, fraction)
        if wait is not None and wait >= 5 and promised is not None:
            out.append(round(promised / max(0.1, wait * (1 - fraction)), 2))
    return out


async def learner(i: int, url: str, lesson: Lesson, digits: list[np.ndarray], stagger: float) -> None:
    who = f"learner {i}"
    await asyncio.sleep(stagger)
    run = {"learner": i, "state": "not started"}
    lesson.runs.append(run)
    try:
        async with Session(url) as s:
            lesson.sessions.append(s)
            await s.open("train")
            plan = next((t for t in s.texts() if t.startswith("This run:")), "")
            if "6,000 training images × 1 epoch" not in plan:
                lesson.error(who, f"the Train page's defaults are not the fast 10%/1-epoch run: {plan[:80]!r}")
                return
            promise = next((t for t in s.texts() if t.startswith("The server ")), "")
            run["promise"] = promise
            run["est_start_before_s"] = (0.0 if "free slot" in promise else
                                         parse_duration(promise.split("starting in", 1)[-1].split("and finishing")[0])
                                         if "starting in" in promise else None)
            press = await s.click(s.widget(key="train.start"))
            submit = press.sent
            run.update(submit=lesson.rel(submit), state="submitted")
            lesson.active.add(i)
            queued = next((t for t in s.texts() if "Waiting in line" in t), "")
            if queued:
                m = re.search(r"Expected to start in (.*?)(?: \(around [^)]*\))? and to finish", queued)
                run["est_start_after_s"] = parse_duration(m.group(1)) if m else None
            elif _run_state(s) in ("running", "done"):
                run["est_start_after_s"] = 0.0
            refusal = [t for t in s.texts("alert")   # train.queue_full / busy_own / start_failed
                       if any(w in t for w in ("queue on this server is full", "previous run is still",
                                               "could not start"))]
            if _run_state(s) is None and refusal:
                run["state"] = "refused"
                lesson.error(who, f"Start refused: {refusal[0][:120]}")
                return
            seen: dict[str, float] = {}
            # what the page promises on every poll while the run waits: (seconds since Start,
            # promised seconds from then to the start), to see the estimate follow the queue
            run["est_track"] = []

            def observe(sess: Session) -> bool:
                state = _run_state(sess)
                now = time.monotonic()
                waiting = next((t for t in sess.texts() if "Waiting in line" in t), "")
                m = re.search(r"Expected to start in (.*?)(?: \(around [^)]*\))? and to finish", waiting)
                promised = parse_duration(m.group(1)) if m else None
                if promised is not None:
                    run["est_track"].append((round(now - submit, 1), promised))
                if state in ("running", "done") and "start" not in seen:
                    seen["start"] = now
                    lesson.training.add(i)
                if state in ("done", "failed"):
                    seen[state] = now
                    return True
                link = next((t for t in sess.texts("code") if "?watch=" in t), None)
                if link:
                    lesson.watch_links[i] = link.strip()
                return False

            observe(s)
            ended = await s.follow(observe, timeout=lesson.left())
            lesson.active.discard(i)
            lesson.training.discard(i)
            lesson.watch_links.pop(i, None)
            if "start" in seen:
                run["start"] = lesson.rel(seen["start"])
            if not ended or "failed" in seen:
                run["state"] = "failed" if "failed" in seen else "unfinished"
                lesson.error(who, f"run {run['state']} ({_run_state(s)}), "
                                  f"{'no fragment left to follow' if not s.auto_reruns else 'lesson time up'}")
                return
            run.update(done=lesson.rel(seen["done"]), state="done")
            if "start" in run:
                run["wait_s"] = round(run["start"] - run["submit"], 2)
                run["run_s"] = round(run["done"] - run["start"], 2)

            await s.open("predict")
            predictions = 0
            for d in digits:
                canvas = s.widget(kind="bidi_component")
                await s.set_json(canvas, canvas_value(d))
                if any(t.startswith("### Prediction:") for t in s.texts("markdown")):
                    predictions += 1
                await s.click(s.widget(key="predict.clear"))
            run["predictions"] = predictions
            if predictions < len(digits):
                lesson.error(who, f"{len(digits) - predictions} of {len(digits)} drawn digits got no prediction")
            for it in s.interactions:
                for e in it.exceptions:
                    lesson.error(who, f"page exception on {it.kind} {it.target}: {e}")
                if it.status in ("timeout", "closed"):
                    lesson.error(who, f"{it.kind} {it.target}: {it.status}")
    except (ProtocolError, OSError, asyncio.TimeoutError) as e:
        lesson.error(who, f"{type(e).__name__}: {e}")
        run["state"] = run.get("state", "") + " (error)"
    finally:
        lesson.active.discard(i)
        lesson.learners_done += 1
        if lesson.learners_done == lesson.n:
            lesson.finished.set()


async def teacher(url: str, lesson: Lesson) -> Session | None:
    try:
        async with Session(url) as s:
            await s.open("class")
            await s.set_value(s.widget(label="Teacher key"), TEACHER_KEY)   # in a form: sent on Unlock
            await s.click(s.widget(label="Unlock"))
            if not s.auto_reruns:
                lesson.error("teacher", "the Class page has no auto-refreshing board after the key")
            await s.follow(lambda _: lesson.finished.is_set(), timeout=lesson.left() + 5)
            for it in s.interactions:
                for e in it.exceptions:
                    lesson.error("teacher", f"page exception: {e}")
                if it.status in ("timeout", "closed"):
                    lesson.error("teacher", f"{it.kind} {it.target}: {it.status}")
            return s
    except (ProtocolError, OSError, asyncio.TimeoutError) as e:
        lesson.error("teacher", f"{type(e).__name__}: {e}")
        return None


# --------------------------------------------------------------------------- Chromium visitors
async def chromium_drawer(browser, url: str, lesson: Lesson, out: dict) -> None:
    """Reload Predict, draw, time the prediction; again until the lesson ends."""
    page, ctx = await _visitor_page(browser, out)
    while not lesson.finished.is_set() and lesson.left() > 30:
        try:
            await _draw_round(page, url, lesson, out)
        except Exception as e:  # noqa: BLE001 — reported; the visitor reloads and goes on
            lesson.error("chromium drawer", _browser_error(e) + await _what_it_showed(page))
    await ctx.close()


# What a person sees, timed on the page's own clock (bench/paint_timing.py): the frame that first
# paints the page's title after a navigation, and the prediction's heading after a mouse-up.
PAINT = PaintTiming({"title": ("h1", r"^(Predict|Train)$"), "prediction": ("h3", r"^Prediction: ")})


async def _visitor_page(browser, out: dict):
    ctx = await browser.new_context(viewport={"width": 1400, "height": 1600})
    await PAINT.install(ctx)
    await ctx.add_init_script(_WS_PROBE)
    page = await ctx.new_page()
    page.set_default_timeout(60_000)
    page.on("pageerror", lambda e: out["page_errors"].append(str(e)[:200]))
    page.on("console", lambda m: m.type == "error" and out["page_errors"].append(f"console: {m.text[:160]}"))
    return page, ctx


SHOTS = Path(tempfile.gettempdir()) / "class_load-shots"


async def _what_it_showed(page) -> str:
    """The first words of a page a visitor gave up on (a slow page, an error, a blank page), and
    a screenshot of it under SHOTS."""
    shot = SHOTS / f"{time.strftime('%H%M%S')}-{abs(hash(page.url)) % 10_000}.png"
    try:
        SHOTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(shot), timeout=10_000)
        text = " ".join((await page.inner_text("body", timeout=3_000)).split())
    except Exception:  # noqa: BLE001 — the page itself may be gone
        return " · page: (unreadable)"
    return f" · page: {text[:160]!r} ({page.url.split('//')[-1]}, {shot})"


# Where a page load's time went, on the page's own clock (ms since navigation start): the HTML
# received, every script the page starts with run (DOMContentLoaded), the app's websocket open and
# its first message, the last file fetched before the title painted, the title painted. A late
# "scripts" with early "first_files" is the browser's main thread (compiling the frontend); late
# files are the server (or the network) delivering them.
_WS_PROBE = """
(() => {
  // open / first: the page load's; sent / answered: the last message the page sent (a drawing,
  // a click) and the first one the server sent after it
  const T = window.__wsTiming = {open: null, first: null, sent: null, answered: null, since_sent: []};
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('open', () => { T.open = T.open ?? performance.now(); });
      this.addEventListener('message', () => {
        const now = performance.now();
        T.first = T.first ?? now;
        if (T.sent !== null && T.answered === null) T.answered = now;
        if (T.since_sent.length < 500) T.since_sent.push(now);
      });
    }
    send(data) { T.sent = performance.now(); T.answered = null; T.since_sent = []; return super.send(data); }
  };
})();
"""
# A drawn digit, in seconds since the mouse-up: the drawing sent, the server's first answer
# received (the rerun started), the last message received before the prediction was painted (the
# prediction itself, or later), the prediction painted. A long gap from "last_before_paint" to
# "painted" is this browser (its main thread busy); a late "last_before_paint" is the server.
_DRAW_PHASES = """() => {
  const W = window.__paintTiming, T = window.__wsTiming || {}, up = W.pointerup;
  const p = W.painted.prediction;
  const s = (v) => v === null || v === undefined ? null : Math.round(v - up) / 1000;
  const before = (T.since_sent || []).filter(t => t <= p);
  return {sent: s(T.sent), answered: s(T.answered), last_before_paint: s(before.length ? Math.max(...before) : null),
          messages_before_paint: before.length, painted: s(p)};
}"""
_PHASES = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const painted = (window.__paintTiming || {painted: {}}).painted.title ?? performance.now();
  const files = performance.getEntriesByType('resource').filter(e => e.startTime < painted);
  const T = window.__wsTiming || {};
  return {html: nav.responseEnd, scripts: nav.domContentLoadedEventEnd, ws_open: T.open, ws_first: T.first,
          files: files.length, last_file: Math.max(0, ...files.map(e => e.responseEnd)),
          // the files the page's first scripts asked for: all in by then, the rest of "scripts"
          // is the browser compiling and running them
          first_files: Math.max(0, ...files.filter(e => e.startTime < nav.domInteractive).map(e => e.responseEnd)),
          painted};
}"""


async def _record_load(page, out: dict, playwright_s: float, training: bool, lesson, label: str) -> None:
    """One page load: what the screen showed (the title's paint, on the page's clock), Playwright's
    own figure (goto → its wait_for saw the title: an upper bound, late by however long the
    page's main thread kept it waiting), and where the time went (_PHASES, in seconds)."""
    out.setdefault("load_playwright", []).append((playwright_s, training))
    out["load"].append((await PAINT.painted(page, "title", since="navigation"), training))
    phases = await page.evaluate(_PHASES)
    phases = {k: (round(v / 1000, 3) if isinstance(v, (int, float)) and k != "files" else v)
              for k, v in phases.items()}
    out.setdefault("load_phases", []).append(phases)
    out.setdefault("timeline", []).append((label, lesson.rel(time.monotonic()), out["load"][-1][0], phases))


def _browser_error(e: Exception) -> str:
    """Playwright's first line and what it was waiting for ("waiting for get_by_role(...)")."""
    lines = str(e).splitlines()
    waiting = next((x.strip() for x in lines if "waiting for" in x), "")
    return f"{type(e).__name__}: {lines[0][:120] if lines else ''} {waiting[:120]}".strip()


async def _draw_round(page, url: str, lesson: Lesson, out: dict) -> None:
    t0 = time.perf_counter()
    await page.goto(f"{url}/predict")
    await page.get_by_role("heading", name="Predict").first.wait_for()
    await _record_load(page, out, time.perf_counter() - t0, bool(lesson.active), lesson, "load /predict")
    canvas = page.locator("canvas.cnn-draw-canvas").first
    await canvas.wait_for()
    await page.get_by_text("Nothing drawn yet").wait_for()
    for _ in range(3):
        await PAINT.rearm(page, "prediction")
        await stroke_until_release(page, canvas)
        training = bool(lesson.active)
        await page.mouse.up()
        t1 = time.perf_counter()
        await page.get_by_role("heading", name=re.compile(r"^Prediction: ")).wait_for()
        out["draw_playwright"].append((time.perf_counter() - t1, training))
        out["draw"].append((await PAINT.painted(page, "prediction", since="pointerup"), training))
        out.setdefault("timeline", []).append(("draw", lesson.rel(time.monotonic()), out["draw"][-1][0],
                                               await page.evaluate(_DRAW_PHASES)))
        await page.locator(".st-key-predict-clear button").click()
        await page.get_by_text("Nothing drawn yet").wait_for()
        await asyncio.sleep(1.0)


async def chromium_watcher(browser, url: str, lesson: Lesson, out: dict) -> None:
    """Open a learner's watch link and time how often the live progress line changes."""
    page, ctx = await _visitor_page(browser, out)
    while not lesson.finished.is_set() and lesson.left() > 20:
        try:
            await _watch_round(page, url, lesson, out)
        except Exception as e:  # noqa: BLE001 — reported; the visitor reloads and goes on
            lesson.error("chromium watcher", _browser_error(e) + await _what_it_showed(page))
    await ctx.close()


async def _watch_round(page, url: str, lesson: Lesson, out: dict) -> None:
    # a run that trains now (its curves move), else any submitted one
    links = ([(k, v) for k, v in sorted(lesson.watch_links.items()) if k in lesson.training]
             or [(k, v) for k, v in sorted(lesson.watch_links.items()) if k in lesson.active])
    t0 = time.perf_counter()
    await page.goto(links[0][1] if links else f"{url}/train")
    await page.get_by_role("heading", name="Train").first.wait_for()
    await _record_load(page, out, time.perf_counter() - t0, bool(lesson.active), lesson,
                       "load " + ("watch link" if links else "/train"))
    if not links:   # nobody training yet (or any more): look again soon
        await asyncio.sleep(2.0)
        return
    learner = links[0][0]
    bar = page.locator("[data-testid='stProgress']").first
    last, last_t, until = None, None, time.perf_counter() + 40
    while time.perf_counter() < until and not lesson.finished.is_set():
        try:
            text = await bar.inner_text(timeout=2_000)
        except Exception:  # noqa: BLE001 — no progress line (queued or finished)
            text = None
        now = time.perf_counter()
        if text and text != last:
            # Only while it trains ("Epoch e/E · step s/S …"): the final test has no steps to show.
            if last is not None and last.startswith("Epoch ") and text.startswith("Epoch "):
                out["live_gap"].append(now - last_t)
            last, last_t = text, now
        if await page.get_by_text(re.compile(r"^Finished: ")).count():
            # when this watch page showed the end, against when the owner's own page did
            out["finished_seen"][learner] = lesson.rel(time.monotonic())
            break
        await asyncio.sleep(0.1)


def finish_lag(lesson: Lesson, seen: dict[int, float]) -> list[float]:
    """Per run the Chromium watcher saw end: how much later (or earlier) its watch page showed
    "Finished" than the owner's live view (a protocol learner polling the same run every second).
    A fast run has only two or three step events, too few for the gaps between progress-line
    changes, so this is the watch view's "keeping up" figure."""
    done = {r["learner"]: r["done"] for r in lesson.runs if "done" in r}
    return [round(at - done[k], 3) for k, at in seen.items() if k in done]


# --------------------------------------------------------------------------- one lesson
def lesson_seconds(args, n: int) -> float:
    return args.max_seconds if args.max_seconds is not None else 240.0 + 20.0 * n


async def lesson_main(url: str, args, n: int, digits, browser_out: dict) -> tuple[Lesson, Session | None]:
    lesson = Lesson(n, time.monotonic() + lesson_seconds(args, n))
    teacher_task = asyncio.create_task(teacher(url, lesson))
    pw = browser = None
    chrome_tasks = []
    visitors = [] if args.no_chromium else args.chromium.split(",")
    if visitors:
        from playwright.async_api import async_playwright

        pw = await async_playwright().start()
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        visit = {"drawer": chromium_drawer, "watcher": chromium_watcher}
        chrome_tasks = [asyncio.create_task(visit[v](browser, url, lesson, browser_out[v])) for v in visitors]
    lag_task = asyncio.create_task(loop_lag(lesson))
    await asyncio.sleep(2.0)   # the teacher's page is open before the class starts
    learners = [asyncio.create_task(learner(i, url, lesson, digits[i * DIGITS:(i + 1) * DIGITS],
                                            stagger=args.stagger * i / max(1, n)))
                for i in range(n)]
    await asyncio.wait(learners, timeout=lesson.left() + 60)
    lesson.finished.set()
    teacher_session = await asyncio.wait_for(teacher_task, 60)
    if chrome_tasks:
        await asyncio.wait(chrome_tasks, timeout=90)
        await browser.close()
        await pw.stop()
    for t in learners + chrome_tasks + [lag_task]:
        t.cancel()
    return lesson, teacher_session


async def loop_lag(lesson: Lesson, every: float = 0.05) -> None:
    """Record how late this event loop wakes from a short sleep, for the whole lesson."""
    while not lesson.finished.is_set():
        t0 = time.perf_counter()
        await asyncio.sleep(every)
        lesson.loop_lag.append(time.perf_counter() - t0 - every)


def report(n: int, lesson: Lesson, teacher_s: Session | None, sampler: Sampler, browser_out: dict,
           workers: int, wall: float) -> dict:
    runs = lesson.runs
    done = [r for r in runs if r.get("state") == "done"]
    run_s = [r["run_s"] for r in done if "run_s" in r]
    makespan = (max(r["done"] for r in done) - min(r["submit"] for r in runs if "submit" in r)) if done else None
    # Σ run time ÷ workers (issue 22); never below the longest run (fewer runs than workers)
    ideal = max(sum(run_s) / workers, max(run_s)) if run_s else None
    kinds = collections.defaultdict(list)
    bytes_by_kind = collections.defaultdict(list)
    unknown, notes = collections.Counter(), collections.Counter()
    for s in lesson.sessions + ([teacher_s] if teacher_s else []):
        unknown.update(s.unknown)
        notes.update(f"{it.kind} /{it.target}: {n}" for it in s.interactions for n in it.notes)
    for s in lesson.sessions:
        for it in s.interactions:
            if it.server_s is not None:
                kinds[it.kind].append(it.server_s)
            bytes_by_kind[it.kind].append(it.bytes)
    learner_all = [x for v in kinds.values() for x in v]
    t_int = [it.server_s for it in teacher_s.interactions if it.server_s is not None] if teacher_s else []
    est = [{"learner": r["learner"], "est_before_s": r.get("est_start_before_s"),
            "est_after_s": r.get("est_start_after_s"), "actual_wait_s": r.get("wait_s"),
            "est_at_half_wait_s": _promise_at(r, 0.5)} for r in runs]
    drawer, watcher = browser_out["drawer"], browser_out["watcher"]
    loads = drawer["load"] + watcher["load"]
    loads_pw = drawer.get("load_playwright", []) + watcher.get("load_playwright", [])
    row = {
        "learners": n, "workers": workers, "wall_s": round(wall, 1),
        "runs_done": len(done), "runs": sorted(runs, key=lambda r: r["learner"]),
        "makespan_s": round(makespan, 1) if makespan else None,
        "ideal_makespan_s": round(ideal, 1) if ideal else None,
        "makespan_ratio": round(makespan / ideal, 3) if makespan and ideal else None,
        "run_s": summary(run_s), "wait_s": summary([r["wait_s"] for r in done if "wait_s" in r]),
        "estimates": est,
        # promised ÷ actual time to start, for runs that waited ≥ 5 s: at Start, and on the poll
        # halfway through the wait (what is left then against what was left); 1.0 is exact
        "estimate_ratio_at_start": summary(_ratios(runs, 0.0)),
        "estimate_ratio_at_half_wait": summary(_ratios(runs, 0.5)),
        "learner_rerun_s": summary(learner_all),
        "learner_rerun_s_by_kind": {k: summary(v) for k, v in sorted(kinds.items())},
        "learner_bytes_by_kind": {k: {"mean": round(statistics.mean(v)), "max": max(v)}
                                  for k, v in sorted(bytes_by_kind.items())},
        "learner_bytes_total": sum(s.bytes_received for s in lesson.sessions),
        "teacher_rerun_s": summary(t_int),
        "teacher_bytes_total": teacher_s.bytes_received if teacher_s else None,
        "chromium_load_s": summary([x for x, _ in loads]),
        "chromium_load_while_training_s": summary([x for x, tr in loads if tr]),
        # Each Chromium visitor's first load has an empty HTTP cache (a new browser context): ≈ 99
        # static files of Streamlit's frontend fetched and compiled, at the lesson's start, when
        # 30 learners open Train within 5 s. Later loads come from the cache, as a reload does.
        "chromium_load_first_s": summary([v["load"][0][0] for v in (drawer, watcher) if v["load"]]),
        "chromium_load_cached_s": summary([x for v in (drawer, watcher) for x, _ in v["load"][1:]]),
        "chromium_load_first_phases_s": [v["load_phases"][0] for v in (drawer, watcher) if v.get("load_phases")],
        "chromium_load_phases_s": {k: summary([p[k] for v in (drawer, watcher) for p in v.get("load_phases", [])
                                               if p.get(k) is not None])
                                   for k in ("html", "first_files", "scripts", "ws_open", "ws_first", "last_file", "painted")},
        "chromium_draw_s": summary([x for x, _ in drawer["draw"]]),
        "chromium_draw_while_training_s": summary([x for x, tr in drawer["draw"] if tr]),
        # the same loads and draws as Playwright's wait_for saw them: late by however long the
        # page's main thread was busy after painting (charts), so an upper bound (paint_timing.py)
        "chromium_load_playwright_s": summary([x for x, _ in loads_pw]),
        "chromium_draw_while_training_playwright_s": summary(
            [x for x, tr in drawer.get("draw_playwright", []) if tr]),
        "chromium_live_update_gap_s": summary(watcher["live_gap"]),
        "chromium_watch_finish_lag_s": summary(finish_lag(lesson, watcher.get("finished_seen", {}))),
        "server_peak_rss_mb": round(max(sampler.rss), 1) if sampler.rss else None,
        "server_peak_pss_mb": round(max(sampler.pss), 1) if sampler.pss else None,
        "server_processes": sampler.processes,
        "server_mean_cpu_pct": round(statistics.mean(sampler.cpu), 1) if sampler.cpu else None,
        "server_peak_cpu_pct": round(max(sampler.cpu), 1) if sampler.cpu else None,
        "machine_load_avg": {"mean": round(statistics.mean(sampler.load), 2),
                             "max": round(max(sampler.load), 2)} if sampler.load else None,
        "bench_cpu_pct": _mean_peak(sampler.bench_cpu),
        "browser_cpu_pct": _mean_peak(sampler.browser_cpu),
        "profiler_cpu_pct": _mean_peak(sampler.profiler_cpu),
        # how late the bench's own event loop ran a 50 ms timer: the part of every client-side
        # figure above (rerun times included) that is the bench's core, not the server
        "bench_loop_lag_s": summary(lesson.loop_lag),
        # (what, seconds into the lesson when it ended, how long it took), for each Chromium action
        "chromium_timeline": sorted(drawer.get("timeline", []) + watcher.get("timeline", []), key=lambda x: x[1]),
        "chromium_page_errors": (drawer["page_errors"] + watcher["page_errors"])[:20],
        "errors": len(lesson.errors), "error_list": lesson.errors[:200],
        "not_understood": dict(unknown),
        "notes": dict(notes),
    }
    row["targets"] = {
        "every_run_finished": len(done) == n,
        "makespan_ratio": _ok(row["makespan_ratio"], TARGETS["makespan_ratio"]),
        "chromium_load_p95_s": _ok(row["chromium_load_s"]["p95"], TARGETS["chromium_load_p95_s"]),
        "chromium_draw_p95_s": _ok(row["chromium_draw_while_training_s"]["p95"], TARGETS["chromium_draw_p95_s"]),
        "learner_rerun_p95_s": _ok(row["learner_rerun_s"]["p95"], TARGETS["learner_rerun_p95_s"]),
        "server_peak_rss_mb": _ok(row["server_peak_rss_mb"], TARGETS["server_peak_rss_mb"]),
        "errors": _ok(row["errors"], TARGETS["errors"]),
    }
    return row


def _mean_peak(values: list[float]) -> dict | None:
    return {"mean": round(statistics.mean(values), 1), "peak": round(max(values), 1)} if values else None


def _ok(value, limit) -> dict:
    return {"value": value, "target": limit, "met": value is not None and value <= limit}


# --------------------------------------------------------------------------- profiling
# Leaf frames that wait rather than compute. py-spy attached with --nonblocking cannot always
# tell a sleeping thread from a busy one, so these are set apart from the on-CPU figures.
WAITING = ("PollingPathWatcher._schedule.<locals>.task", "Condition.wait", "EpollSelector.select",
           "_PollLikeSelector.select",   # multiprocessing's Connection.poll: the pool's relay threads
           "Event.wait", "_worker (concurrent/futures/thread.py:81)", "Thread._wait_for_tstate_lock")


def top_frames(raw: Path, k: int = 20) -> dict:
    """py-spy's collapsed stacks → the frames with the most samples: inclusive, self, and self
    without the waiting frames (percentages of the samples that were not waiting)."""
    incl, self_ = collections.Counter(), collections.Counter()
    total = waiting = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        c = int(count)
        total += c
        frames = stack.split(";")
        if frames[-1].startswith(WAITING):
            waiting += c
        for f in set(frames):
            incl[f] += c
        self_[frames[-1]] += c
    pct = lambda c: round(100 * c / total, 1) if total else 0.0  # noqa: E731
    busy = total - waiting
    return {"samples": total, "waiting_samples": waiting,
            "inclusive": [(f, pct(c)) for f, c in incl.most_common(k)],
            "self": [(f, pct(c)) for f, c in self_.most_common(k)],
            "self_on_cpu": [(f, round(100 * c / busy, 1) if busy else 0.0) for f, c in self_.most_common()
                            if not f.startswith(WAITING)][:k]}


def top_cprofile(path: Path, k: int = 25) -> list:
    import pstats

    st = pstats.Stats(str(path))
    rows = sorted(st.stats.items(), key=lambda kv: kv[1][3], reverse=True)[:k]
    return [(f"{fn[2]} ({Path(fn[0]).name}:{fn[1]})", round(v[3], 2), round(v[2], 2)) for fn, v in rows]


# --------------------------------------------------------------------------- main
def run_one(n: int, args, data_dir: Path) -> dict:
    digits = mnist_digits(data_dir, n * DIGITS)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ckpt = bundled_checkpoints(tmp / "checkpoints")
        env = {"CNN_LAB_DATA_DIR": str(data_dir), "CNN_LAB_CHECKPOINT_DIR": str(ckpt),
               "CNN_LAB_TEACHER_KEY": TEACHER_KEY,
               # every visitor here comes from 127.0.0.1: one network, like a class behind one
               # school NAT, so the lesson's per-network budgets are raised (core.budgets)
               "CNN_LAB_RUNS_PER_CLIENT": str(n + 10), "CNN_LAB_QUEUE_SHARE_PERCENT": "100",
               "CNN_LAB_WORKSPACES_PER_HOUR": str(2 * n + 20), "CNN_LAB_GALLERY_PER_CLIENT": str(n + 10),
               # the server's own queue (default 60 waiting) must hold a whole class of N ≥ 60
               "CNN_LAB_MAX_QUEUE": str(max(60, n + 10))}
        if args.workers:
            env["CNN_LAB_TRAINING_WORKERS"] = str(args.workers)
        workers = args.workers or min(2, os.cpu_count() or 1)
        if args.backend:
            env["CNN_LAB_BACKEND"] = args.backend
        # The server `make class` starts: python -m app.serve with the Makefile's options and run
        # registry; the teacher key makes it a class server (process backend by default).
        env.update(CLASS_ENV)
        python_args = None
        cprof = tmp / "server.prof"
        if args.profile == "cprofile":
            python_args = ["-m", "cProfile", "-o", str(cprof)]
        log = tmp / "server.log"
        with serve("streamlit_app.py", log, env=env, cpus=args.server_cpus, python_args=python_args,
                   launcher="app.serve", options=CLASS_OPTIONS) as (url, proc):
            import psutil

            # the server is the python process (taskset exec()s it, so the pid is the same)
            pid = proc.pid
            spy = None
            raw = tmp / "pyspy.txt"
            if args.profile == "py-spy":
                spy = subprocess.Popen([args.py_spy, "record", "--pid", str(pid), "--nonblocking",
                                        "-r", "50", "-f", "raw", "-o", str(raw)],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            sampler = Sampler(pid)
            sampler.start()
            browser_out = {"drawer": {"load": [], "draw": [], "draw_playwright": [], "page_errors": []},
                           "watcher": {"load": [], "live_gap": [], "finished_seen": {}, "page_errors": []}}
            t0 = time.perf_counter()
            lesson, teacher_s = asyncio.run(lesson_main(url, args, n, digits, browser_out))
            wall = time.perf_counter() - t0
            sampler.stop()
            if spy is not None:
                spy.send_signal(2)   # SIGINT: py-spy writes what it sampled
                try:
                    spy.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    spy.kill()
            assert psutil.pid_exists(pid)
        row = report(n, lesson, teacher_s, sampler, browser_out, workers, wall)
        from core import settings

        row["server"] = {"command": "python -m app.serve " + " ".join(CLASS_OPTIONS),
                         "backend": settings.backend(env), "run_registry": env["CNN_LAB_RUN_REGISTRY"],
                         "worker_nice": settings.worker_nice(env)}
        if args.profile == "py-spy" and raw.exists():
            row["profile"] = {"tool": "py-spy (all threads, 50 Hz)", **top_frames(raw)}
            if args.keep_profile:
                shutil.copy(raw, args.keep_profile)
        elif args.profile == "cprofile" and cprof.exists():
            row["profile"] = {"tool": "cProfile (main thread only)", "top_cumulative": top_cprofile(cprof)}
        server_errors = [line for line in log.read_text(errors="replace").splitlines()
                         if "Traceback" in line or " ERROR " in line]
        row["server_log_errors"] = server_errors[:20]
    return row


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--learners", type=int, nargs="+", default=[10], help="N per lesson, one server each")
    p.add_argument("--workers", type=int, default=None, help="training workers (default: the app's)")
    p.add_argument("--backend", choices=["local", "process", "ray"], default=None,
                   help="training backend (default: the app's, 'process' on a class server)")
    p.add_argument("--stagger", type=float, default=5.0, help="seconds over which learners arrive")
    p.add_argument("--max-seconds", type=float, default=None,
                   help="each lesson stops after this (default 240 + 20 × N: ~7 s per fast run on "
                        "one core, two workers, plus drawing)")
    p.add_argument("--no-chromium", action="store_true", help="protocol visitors only")
    p.add_argument("--chromium", default="drawer,watcher", choices=["drawer,watcher", "drawer", "watcher"],
                   help="which Chromium visitors (default both; one alone shows what the other costs "
                        "the core they share)")
    p.add_argument("--server-cpus", default="0" if (os.cpu_count() or 1) > 1 else None,
                   help="taskset CPU list for the server (default 0)")
    p.add_argument("--bench-cpus", default="1" if (os.cpu_count() or 1) > 1 else None,
                   help="CPUs for this bench and its Chromium (default 1)")
    p.add_argument("--profile", choices=["none", "py-spy", "cprofile"], default="none")
    p.add_argument("--py-spy", default=shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy"),
                   help="the py-spy binary (default: on PATH, else beside this Python)")
    p.add_argument("--keep-profile", type=Path, help="copy py-spy's raw stacks here")
    p.add_argument("--json-dir", type=Path, default=ROOT / "bench" / "results")
    p.add_argument("--tag", default="", help="appended to the results file name (class_load-<date>-n<N>-<tag>.json)")
    args = p.parse_args(argv)
    data_dir = Path(os.environ.get("CNN_LAB_DATA_DIR", ROOT.parent / "shared" / "data"))
    if not (data_dir / "MNIST" / "raw" / "t10k-images-idx3-ubyte.gz").exists():
        p.error("needs MNIST: set CNN_LAB_DATA_DIR")
    if args.bench_cpus and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(c) for c in args.bench_cpus.split(",")})  # Chromium inherits it
    for n in args.learners:
        row = run_one(n, args, data_dir)
        row.update(date=str(datetime.date.today()), cpus=os.cpu_count(), server_cpus=args.server_cpus,
                   bench_cpus=args.bench_cpus)
        row["commit"] = _commit()
        row["command"] = " ".join(["python", "bench/class_load.py", *(argv if argv is not None else sys.argv[1:])])
        tag = f"-{args.tag}" if args.tag else ""
        out = args.json_dir / f"class_load-{datetime.date.today()}-n{n}{tag}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(row, indent=1, ensure_ascii=False))
        print_row(row)
        print(f"results: {out}", flush=True)
    return 0


def _commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def print_row(r: dict) -> None:
    print(f"\n== {r['learners']} learners, {r['workers']} workers, {r['wall_s']} s ==")
    print(f"runs done {r['runs_done']}/{r['learners']} · makespan {r['makespan_s']} s vs ideal "
          f"{r['ideal_makespan_s']} s (ratio {r['makespan_ratio']}) · run {r['run_s']} · wait {r['wait_s']}")
    print(f"estimate ÷ actual time to start: at Start {r['estimate_ratio_at_start']} · "
          f"halfway through the wait {r['estimate_ratio_at_half_wait']}")
    print(f"learner rerun s {r['learner_rerun_s']}")
    for k, v in r["learner_rerun_s_by_kind"].items():
        print(f"   {k:<9} {v}  bytes {r['learner_bytes_by_kind'][k]}")
    print(f"teacher rerun s {r['teacher_rerun_s']}")
    print(f"chromium load {r['chromium_load_s']} · draw (training) {r['chromium_draw_while_training_s']} "
          f"· live gap {r['chromium_live_update_gap_s']} · watch page's 'Finished' after the owner's "
          f"{r.get('chromium_watch_finish_lag_s')}")
    print(f"   loads: first (empty cache) {r.get('chromium_load_first_s')} · "
          f"later (cached) {r.get('chromium_load_cached_s')}")
    for phases in r.get("chromium_load_first_phases_s", []):
        print(f"   a first load, s since navigation: {phases}")
    print(f"   as Playwright saw them: load {r.get('chromium_load_playwright_s')} · draw (training) "
          f"{r.get('chromium_draw_while_training_playwright_s')}")
    print(f"server peak RSS {r['server_peak_rss_mb']} MB (PSS {r.get('server_peak_pss_mb')} MB, "
          f"{r.get('server_processes')} processes) · CPU mean {r['server_mean_cpu_pct']}% "
          f"peak {r['server_peak_cpu_pct']}% · machine load avg {r['machine_load_avg']}")
    print(f"bench process CPU {r.get('bench_cpu_pct')}% · browsers {r.get('browser_cpu_pct')}% · "
          f"profiler {r.get('profiler_cpu_pct')}% · "
          f"bench loop lag s {r.get('bench_loop_lag_s')} · page errors {r.get('chromium_page_errors')}")
    print(f"errors {r['errors']}: {r['error_list'][:5]}")
    print(f"not understood: {r['not_understood'] or 'none'} · notes: {r['notes'] or 'none'}")
    for name, t in r["targets"].items():
        print(f"   target {name}: {t}")
    if "profile" in r:
        prof = r["profile"]
        print(f"profile ({prof['tool']}):")
        for item in (prof.get("self_on_cpu") or prof.get("top_cumulative") or [])[:15]:
            print("   ", item)


if __name__ == "__main__":
    raise SystemExit(main())
