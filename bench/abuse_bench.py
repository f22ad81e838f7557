"""One hostile visitor against a real CNN Lab server, and a learner on the side (issue 23).

The flood of the issue, replayed against `streamlit run streamlit_app.py` on 127.0.0.1 with
browserless visitors (bench/protocol_client.py):

  * the abusive client (one network address) opens 64 sessions — 64 tabs, each a fresh
    workspace — and presses Start in each with the heaviest run the form allows (20 epochs, 100 %
    of the data); the bench counts what it got: runs queued or training, and each refusal by its
    sentence (runs per network, its share of the queue, workspaces per hour, queue full);
  * meanwhile a learner from another address opens Predict and draws a digit: the page load and
    the prediction are timed.

All loopback connections are one client, so the server runs with CNN_LAB_BEHIND_PROXY=1 and each
"client" sends its own X-Forwarded-For header, as a reverse proxy would. Target: the abusive
client is held to its share (CNN_LAB_RUNS_PER_CLIENT runs, default 4) and the learner gets a
prediction in at most 2 s.

    CNN_LAB_DATA_DIR=../shared/data python bench/abuse_bench.py            # prints one JSON object
    python bench/abuse_bench.py --sessions 64 --concurrency 8 --max-seconds 240

Not replayed here (said in the output): saving models across many workspaces and the largest
uploads; those budgets are exercised by tests/test_own_models.py and tests/test_upload_memory.py.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.class_load import canvas_value, mnist_digits  # noqa: E402
from bench.server import serve  # noqa: E402
from bench.protocol_client import ProtocolError, Session  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ABUSER, LEARNER = "203.0.113.7", "198.51.100.23"     # documentation addresses (RFC 5737)
TARGET_PREDICTION_S = 2.0
REFUSALS = {   # what the page says -> the refusal's name in the report
    "runs waiting or training, the most this server allows for one network": "runs_per_client",
    "its share of this server's queue": "queue_share",
    "workspaces in the last hour": "workspaces_per_hour",
    "queue on this server is full": "queue_full",
    "previous run is still": "own_run",
}


class ClientSession(Session):
    """A Session whose websocket handshake carries X-Forwarded-For: one network address."""

    def __init__(self, base_url: str, forwarded_for: str, **kw):
        super().__init__(base_url, **kw)
        self.forwarded_for = forwarded_for

    async def connect(self) -> None:
        self._ws = await websockets.connect(self.ws_url, subprotocols=["streamlit"], max_size=None,
                                            open_timeout=self.timeout, ping_interval=None,
                                            additional_headers={"X-Forwarded-For": self.forwarded_for})
        self._reader = asyncio.create_task(self._read())


def classify(texts: list[str]) -> str:
    joined = " ".join(texts)
    for sentence, name in REFUSALS.items():
        if sentence in joined:
            return name
    if "Waiting in line" in joined:
        return "queued"
    if any(w in joined for w in ("Preparing the data", "Epoch ", "First steps", "images/s")):
        return "training"
    return "unknown"


async def flood_one(url: str, i: int, out: Counter, sem: asyncio.Semaphore, notes: list) -> None:
    async with sem:
        s = ClientSession(url, ABUSER)
        try:
            await s.connect()
            await s.open("train")
            first = classify(s.texts())
            if first == "workspaces_per_hour":   # the shell refused a new workspace: no page at all
                out[first] += 1
                return
            try:
                await s.set_value(s.widget(key="train.epochs"), 20)
                await s.set_value(s.widget(key="train.fraction"), "100%")
            except ProtocolError as e:
                notes.append(f"session {i}: could not set the heavy run ({e})")
            await s.click(s.widget(key="train.start"))
            out[classify(s.texts())] += 1
        except (ProtocolError, OSError, LookupError) as e:
            out["error"] += 1
            notes.append(f"session {i}: {type(e).__name__}: {e}")
        finally:
            await s.close()


async def learner(url: str, digit, result: dict) -> None:
    """Another network: open Predict, draw one digit, time both."""
    s = ClientSession(url, LEARNER)
    await s.connect()
    try:
        load = await s.open("predict")
        result["predict_page_load_s"] = round(load.server_s, 3) if load.server_s is not None else None
        draw = await s.set_json(s.widget(kind="bidi_component"), canvas_value(digit))
        result["prediction_s"] = round(draw.server_s, 3) if draw and draw.server_s is not None else None
        result["prediction_shown"] = any(t.startswith("### Prediction:") for t in s.texts("markdown"))
        train = await s.open("train")
        await s.click(s.widget(key="train.start"))
        result["learner_start"] = classify(s.texts())
        result["learner_start_says"] = next((t for t in s.texts() if "Waiting in line" in t or "Epoch" in t
                                             or "Preparing" in t), "")[:160]
        result["learner_train_page_s"] = round(train.server_s, 3) if train.server_s is not None else None
    finally:
        await s.close()


async def main_async(url: str, args, digit) -> dict:
    out: Counter = Counter()
    notes: list[str] = []
    sem = asyncio.Semaphore(args.concurrency)
    t0 = time.perf_counter()
    flood = asyncio.gather(*(flood_one(url, i, out, sem, notes) for i in range(args.sessions)))
    side: dict = {}
    await asyncio.sleep(args.learner_after)     # the flood is under way
    try:
        await asyncio.wait_for(learner(url, digit, side), args.max_seconds)
    except (asyncio.TimeoutError, ProtocolError) as e:
        side["error"] = f"{type(e).__name__}: {e}"
    side["started_after_s"] = args.learner_after
    try:
        await asyncio.wait_for(flood, args.max_seconds)
    except asyncio.TimeoutError:
        notes.append("the flood did not finish within --max-seconds")
    return {"abusive_client": {"sessions": args.sessions, **dict(out)}, "learner_on_the_side": side,
            "flood_wall_s": round(time.perf_counter() - t0, 1), "notes": notes[:10]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sessions", type=int, default=64, help="tabs the abusive client opens")
    p.add_argument("--concurrency", type=int, default=8, help="of those, open at once")
    p.add_argument("--learner-after", type=float, default=10.0, help="seconds into the flood")
    p.add_argument("--max-seconds", type=float, default=240.0, help="bound on each phase")
    p.add_argument("--workers", type=int, default=1, help="CNN_LAB_TRAINING_WORKERS")
    args = p.parse_args(argv)
    data_dir = Path(os.environ.get("CNN_LAB_DATA_DIR", ROOT.parent / "shared" / "data"))
    if not (data_dir / "MNIST" / "raw").is_dir():
        p.error("needs MNIST: set CNN_LAB_DATA_DIR")
    digit = mnist_digits(data_dir, 1)[0]
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "checkpoints"
        ckpt.mkdir()
        for f in (ROOT / "checkpoints").glob("*.safetensors"):
            shutil.copy(f, ckpt / f.name)
        env = {"CNN_LAB_DATA_DIR": str(data_dir), "CNN_LAB_CHECKPOINT_DIR": str(ckpt),
               "CNN_LAB_BEHIND_PROXY": "1", "CNN_LAB_TRAINING_WORKERS": str(args.workers)}
        log = Path(tmp) / "server.log"
        with serve("streamlit_app.py", log, env=env) as (url, _proc):
            result = asyncio.run(main_async(url, args, digit))
        errors = [line for line in log.read_text(errors="replace").splitlines() if "Traceback" in line]
    side = result["learner_on_the_side"]
    held = result["abusive_client"].get("queued", 0) + result["abusive_client"].get("training", 0)
    result["target"] = {"abusive_client_runs": held, "learner_prediction_s": side.get("prediction_s"),
                        "prediction_within_2s": bool(side.get("prediction_s") is not None
                                                     and side["prediction_s"] <= TARGET_PREDICTION_S)}
    result["server_tracebacks"] = len(errors)
    result["load_average"] = os.getloadavg()
    result["not_replayed"] = ["saved models across workspaces", "4 concurrent largest uploads"]
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
