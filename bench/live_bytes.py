"""Bytes a live view costs per rerun that has no new event, with Streamlit's message cache at a
given threshold (`global.minCachedMessageSize`).

Every open live view reruns its fragment once a second. Between two training events nothing on
it changes but the charts are rebuilt from the same cached payload (core/live_payload.py), so
their messages are identical: with the threshold at or below a chart message's size (~4–5 kB)
the server sends a reference (`ref_hash`, a few dozen bytes) instead of the chart. This bench
measures what actually crosses the socket:

  * a class server as `make class` starts it (python -m app.serve, teacher key → process backend);
  * one protocol learner (bench/protocol_client.py) opens Train, presses Start on the fast
    preset and follows its live view to the end; `--watchers` more sessions follow the run's
    watch link;
  * every fragment rerun is classed by whether any chart on the page changed (its Plotly spec):
    "no new event" reruns (no chart changed) and "new event" reruns; bytes per class.

    python bench/live_bytes.py                          # the threshold in .streamlit/config.toml
    python bench/live_bytes.py --min-cached 10000       # Streamlit's default, for comparison
Prints one JSON row (and appends nothing to bench/results unless --json is given).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.protocol_client import Session  # noqa: E402
from bench.server import CLASS_ENV, CLASS_OPTIONS, bundled_checkpoints, serve, shared_data_dir  # noqa: E402

TEACHER_KEY = "lesson-key"


def charts(s: Session) -> tuple:
    """Every chart on the page as its serialized message: equal tuples, nothing redrawn."""
    return tuple(n.proto.SerializeToString() for n in s.elements("plotly_chart"))


async def follow_classified(s: Session, done, timeout: float, out: dict) -> bool:
    """Follow the page's fragments (as Session.follow) and class each rerun by chart change."""
    deadline = time.monotonic() + timeout
    before = charts(s)
    seen = len(s.interactions)

    def until(sess: Session) -> bool:
        nonlocal before, seen
        for it in sess.interactions[seen:]:
            if it.kind == "fragment":
                now = charts(sess)
                key = "no_new_event" if now == before and now else ("new_event" if now else "no_chart")
                out.setdefault(key, []).append(it.bytes)
                out.setdefault(key + "_messages", []).append(it.messages)
                before = now
        seen = len(sess.interactions)
        return done(sess)

    return await s.follow(until, timeout=max(1.0, deadline - time.monotonic()))


async def lesson(url: str, watchers: int, epochs: int, timeout: float) -> dict:
    learner: dict = {}
    watching: dict = {}
    async with Session(url) as s:
        await s.open("train")
        if epochs != 1:   # a longer run: more reruns between events to count
            await s.set_value(s.widget(label="Epochs"), epochs)
        await s.click(s.widget(key="train.start"))
        finished = lambda sess: any(t.startswith("Finished") for t in sess.texts())  # noqa: E731
        link_deadline = time.monotonic() + 60
        while not any("?watch=" in t for t in s.texts("code")) and time.monotonic() < link_deadline:
            await s.rerun_fragment(next(iter(s.auto_reruns))) if s.auto_reruns else await asyncio.sleep(1)
        link = next((t.strip() for t in s.texts("code") if "?watch=" in t), None)
        tasks = [asyncio.create_task(follow_classified(s, finished, timeout, learner))]
        if link:
            path, _, query = link.split("://", 1)[-1].partition("/")[2].partition("?")
            for _ in range(watchers):
                tasks.append(asyncio.create_task(_watch(url, path, query, finished, timeout, watching)))
        results = await asyncio.gather(*tasks)
    return {"learner": learner, "watchers": watching, "finished": all(results), "watch_link": bool(link)}


async def _watch(url: str, path: str, query: str, done, timeout: float, out: dict) -> bool:
    async with Session(url) as w:
        await w.open(path, query)
        return await follow_classified(w, done, timeout, out)


def stats(values: list[int]) -> dict | None:
    if not values:
        return None
    return {"n": len(values), "mean": round(statistics.mean(values)), "median": statistics.median(values),
            "max": max(values)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--min-cached", type=int, default=None,
                   help="global.minCachedMessageSize for this server (default: .streamlit/config.toml)")
    p.add_argument("--watchers", type=int, default=2, help="sessions on the run's watch link")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--timeout", type=float, default=300)
    p.add_argument("--server-cpus", default="0" if (os.cpu_count() or 1) > 1 else None)
    p.add_argument("--json", type=Path, help="also write the row here")
    args = p.parse_args(argv)
    data = shared_data_dir()
    if data is None:
        p.error("needs MNIST: set CNN_LAB_DATA_DIR")
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = bundled_checkpoints(Path(tmp) / "checkpoints")
        env = {"CNN_LAB_DATA_DIR": str(data), "CNN_LAB_CHECKPOINT_DIR": str(ckpt),
               "CNN_LAB_TEACHER_KEY": TEACHER_KEY, **CLASS_ENV}
        options = list(CLASS_OPTIONS)
        if args.min_cached is not None:
            options += ["--global.minCachedMessageSize", str(args.min_cached)]
        with serve("streamlit_app.py", Path(tmp) / "server.log", env=env, cpus=args.server_cpus,
                   launcher="app.serve", options=options) as (url, _proc):
            got = asyncio.run(lesson(url, args.watchers, args.epochs, args.timeout))
    row = {"min_cached_message_size": args.min_cached or "config.toml", "epochs": args.epochs,
           "watchers": args.watchers, "finished": got["finished"],
           "watch_link": got["watch_link"], "load_avg": os.getloadavg()}
    for who in ("learner", "watchers"):
        d = got[who]
        row[who + "_bytes"] = {k: stats(d.get(k, [])) for k in ("no_new_event", "new_event", "no_chart")}
        row[who + "_bytes"]["messages_no_new_event"] = stats(d.get("no_new_event_messages", []))
    print(json.dumps(row, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(row, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
