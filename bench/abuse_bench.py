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

Then the upload flood (--uploads, default 4): one client (another address: the flood's has spent
its workspaces for the hour) opens Predict in 4 tabs at once and
each uploads the largest checkpoint the server accepts (the model of tests/test_upload_memory.py:
flatten → 2,500 → 10, just under the parameter limit) and then the worst accepted image (a
130 KB 16-bit RGBA PNG declaring 4096×4096), the way a browser does (a file_urls_request on the
websocket, a multipart PUT to /_stcore/upload_file, then the uploader's widget state); another
learner, Predict open, draws a digit once before and then again and again while they upload. The
bench prints what that learner saw (each prediction's seconds; the target is the worst one) and
the server process's RSS (before, peak, after; sampled every 50 ms). With --py-spy FILE, py-spy
records every server thread over that window (raw, sleeping threads too).

    python bench/abuse_bench.py --skip-flood --uploads 4 --py-spy /tmp/uploads.spy   # uploads only

Not replayed here (said in the output): saving models across many workspaces; that budget is
exercised by tests/test_own_models.py.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.Common_pb2 import FileURLs, UploadedFileInfo
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.class_load import canvas_value, mnist_digits  # noqa: E402
from bench.server import bundled_checkpoints, serve  # noqa: E402
from bench.protocol_client import ProtocolError, Session  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ABUSER, LEARNER = "203.0.113.7", "198.51.100.23"     # documentation addresses (RFC 5737)
UPLOADER = "203.0.113.8"      # the upload flood's client (the flood's own has spent its workspaces)
UPLOAD_LEARNER = "198.51.100.24"                      # the learner on the side of the uploads
XSRF_COOKIE = "_streamlit_xsrf"
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

    async def upload(self, node, name: str, data: bytes, mime: str = "application/octet-stream"):
        """Upload one file into a st.file_uploader as the browser does: ask for its URL on the
        websocket, PUT it (multipart, with the XSRF cookie and header), then send the uploader's
        new widget state (a rerun, timed like any interaction)."""
        request_id = uuid.uuid4().hex
        msg = BackMsg()
        msg.file_urls_request.request_id = request_id
        msg.file_urls_request.file_names.append(name)
        msg.file_urls_request.session_id = self.session_id
        await self._ws.send(msg.SerializeToString())
        urls = await self._file_urls(request_id)
        status = await asyncio.to_thread(_put_file, self.base_url + urls.upload_url, name, data, mime)
        if status != 204:
            raise ProtocolError(f"upload of {name} answered HTTP {status}")
        state = WidgetState(id=node.id)
        state.file_uploader_state_value.uploaded_file_info.append(UploadedFileInfo(
            name=name, size=len(data), file_id=urls.file_id,
            file_urls=FileURLs(file_id=urls.file_id, upload_url=urls.upload_url, delete_url=urls.delete_url)))
        self.widget_states[node.id] = state
        return await self._rerun("set", node.key or node.label, fragment_id=self._fragment_of(node))

    async def _file_urls(self, request_id: str):
        """Read frames until the server's file_urls_response; anything else is applied as usual."""
        deadline = time.monotonic() + self.timeout
        while True:
            frame = await asyncio.wait_for(self._inbox.get(), max(0.1, deadline - time.monotonic()))
            if frame is None:
                self._inbox.put_nowait(None)
                raise ProtocolError(self._closed_reason or "connection closed")
            msg = ForwardMsg()
            msg.ParseFromString(frame)
            if msg.WhichOneof("type") == "file_urls_response":
                if msg.file_urls_response.response_id == request_id:
                    if msg.file_urls_response.error_msg:
                        raise ProtocolError(msg.file_urls_response.error_msg)
                    return msg.file_urls_response.file_urls[0]
                continue
            self._handle(frame, None)

    async def choose(self, key: str, label: str) -> None:
        """Pick an option of a selectbox or segmented control by its shown label."""
        node = self.widget(key=key)
        shown = [o.content if hasattr(o, "content") else o for o in node.proto.options]
        if label not in shown:
            raise ProtocolError(f"{key}: no option {label!r} among {shown}")
        await self.set_value(node, label)


_XSRF: dict[str, str] = {}


def _xsrf_cookie(base_url: str) -> str:
    """The XSRF cookie the server gives a browser (with its health check; uploads echo it)."""
    if base_url not in _XSRF:
        with urllib.request.urlopen(base_url + "/_stcore/health", timeout=30) as r:
            cookies = r.headers.get_all("Set-Cookie") or []
        _XSRF[base_url] = next((c.split(";", 1)[0].split("=", 1)[1] for c in cookies
                                if c.startswith(XSRF_COOKIE + "=")), "")
    return _XSRF[base_url]


def _put_file(url: str, name: str, data: bytes, mime: str) -> int:
    base = url.split("/_stcore/", 1)[0]
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            f"Content-Type: {mime}\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    token = _xsrf_cookie(base)
    if token:
        headers |= {"X-Xsrftoken": token, "Cookie": f"{XSRF_COOKIE}={token}"}
    req = urllib.request.Request(url, data=body, method="PUT", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def worst_image() -> bytes:
    """tests/test_upload_memory.py's worst image: a small 16-bit RGBA PNG declaring 4096×4096."""
    import cv2
    import numpy as np

    img = np.zeros((4096, 4096, 4), np.uint16)
    img[..., 3] = 65535
    cv2.putText(img, "7", (1000, 3000), cv2.FONT_HERSHEY_SIMPLEX, 80, (65535,) * 4, 300)
    ok, png = cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    assert ok
    return png.tobytes()


def largest_checkpoint(folder: Path) -> bytes:
    """tests/test_upload_memory.py's largest accepted checkpoint: flatten → 2,500 → 10."""
    from core.checkpoint import make_metadata, save_checkpoint
    from core.limits import Limits
    from core.models import build_model

    spec = [{"type": "flatten"}, {"type": "linear", "out": 2500}, {"type": "relu"}, {"type": "linear", "out": 10}]
    model = build_model(spec)
    assert sum(p.numel() for p in model.parameters()) <= Limits().max_params
    path = save_checkpoint(folder / "largest.safetensors", model,
                           make_metadata(spec, "mnist", {"seed": 0}, {"test_accuracy": 0.1}, name="largest"))
    return path.read_bytes()


class RssSampler:
    """The server process's resident memory, sampled on a thread (Linux /proc)."""

    def __init__(self, pid: int, every: float = 0.05):
        self.pid, self.every = pid, every
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def rss_mb(self) -> float | None:
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None

    def _run(self) -> None:
        while not self._stop.is_set():
            mb = self.rss_mb()
            if mb is not None:
                self.samples.append(mb)
            self._stop.wait(self.every)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)


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


async def uploader(url: str, i: int, files: dict, go: asyncio.Event, out: Counter, notes: list) -> None:
    """One of the uploading client's tabs: Predict, upload the largest checkpoint, then the worst image."""
    s = ClientSession(url, UPLOADER, timeout=180)
    try:
        await s.connect()
        await s.open("predict")
        await s.choose("predict.source", "Upload an image")
        await s.choose("predict.model", "Upload a checkpoint…")
        await go.wait()                      # all tabs upload at once
        it = await s.upload(s.widget(key="predict.model_file"), "largest.safetensors", files["checkpoint"])
        out["checkpoint_s"] = max(out["checkpoint_s"], it.server_s or 0)
        it = await s.upload(s.widget(key="predict.image_file"), "worst.png", files["image"], "image/png")
        out["image_s"] = max(out["image_s"], it.server_s or 0)
        shown = " ".join(s.texts())
        out["predicted" if "Prediction:" in shown else "busy" if "busy" in shown else "other"] += 1
    except (ProtocolError, OSError, LookupError, asyncio.TimeoutError) as e:
        out["error"] += 1
        notes.append(f"uploader {i}: {type(e).__name__}: {e}")
    finally:
        await s.close()


async def upload_flood(url: str, args, digits, files: dict, sampler: RssSampler, profile=None) -> dict:
    """--uploads tabs upload at once; a learner on the side, with Predict open, draws a digit
    before (quiet) and again and again while they upload (every answer is kept; the target is the
    worst one)."""
    out: Counter = Counter()
    notes: list[str] = []
    go = asyncio.Event()
    tabs = [asyncio.create_task(uploader(url, i, files, go, out, notes)) for i in range(args.uploads)]
    side: dict = {}
    s = ClientSession(url, UPLOAD_LEARNER)
    t0 = None
    try:
        await s.connect()
        load = await s.open("predict")
        side["predict_page_load_s"] = round(load.server_s, 3) if load.server_s is not None else None
        canvas = s.widget(kind="bidi_component")
        quiet = await s.set_json(canvas, canvas_value(digits[0]))
        side["prediction_quiet_s"] = round(quiet.server_s, 3) if quiet and quiet.server_s is not None else None
        await asyncio.sleep(args.upload_setup)   # the tabs have their Predict page open
        before = sampler.rss_mb()                # torch, the pages and the bundled model are loaded
        first = len(sampler.samples)
        spy = profile() if profile else None    # py-spy over the uploads and the learner's drawing only
        t0 = time.perf_counter()
        go.set()
        await asyncio.sleep(args.learner_upload_after)   # the uploads are being read and decoded
        draws: list[float | None] = []
        shown = True
        try:   # draw again and again (another digit each time) until every tab has its answer
            while not all(tab.done() for tab in tabs) and time.perf_counter() - t0 < args.max_seconds:
                during = await s.set_json(s.widget(kind="bidi_component"), canvas_value(digits[1 + len(draws) % 2]))
                draws.append(round(during.server_s, 3) if during and during.server_s is not None else None)
                shown = shown and any(t.startswith("### Prediction:") for t in s.texts("markdown"))
                await asyncio.sleep(0.5)
        finally:
            if spy is not None:
                spy.send_signal(signal.SIGINT)   # py-spy writes what it sampled
                spy.wait(timeout=60)
        timed = sorted(d for d in draws if d is not None)
        side["predictions_during_uploads_s"] = draws
        side["prediction_s"] = timed[-1] if timed and len(timed) == len(draws) else None   # the worst one
        side["prediction_median_s"] = timed[len(timed) // 2] if timed else None
        side["prediction_shown"] = shown and bool(draws)
        side["first_drew_after_s"] = args.learner_upload_after
    except (ProtocolError, OSError, LookupError, asyncio.TimeoutError) as e:
        side["error"] = f"{type(e).__name__}: {e}"
        go.set()
        before, first = sampler.rss_mb(), len(sampler.samples)
    finally:
        await s.close()
    await asyncio.wait_for(asyncio.gather(*tabs), args.max_seconds)
    peak = max(sampler.samples[first:] or [before or 0])
    return {"uploads": {"tabs": args.uploads, **{k: round(v, 2) if isinstance(v, float) else v
                                                  for k, v in out.items()}},
            "learner_on_the_side": side,
            "server_rss_mb": {"before": round(before or 0, 1), "peak": round(peak, 1),
                              "peak_above_before": round(peak - (before or 0), 1),
                              "after": round(sampler.rss_mb() or 0, 1)},
            "wall_s": round(time.perf_counter() - (t0 or time.perf_counter()), 1), "notes": notes[:10]}


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
    p.add_argument("--uploads", type=int, default=4, help="tabs uploading the largest files at once (0: skip)")
    p.add_argument("--upload-setup", type=float, default=15.0, help="seconds for those tabs to open Predict")
    p.add_argument("--learner-upload-after", type=float, default=0.5,
                   help="seconds into the uploads the side learner draws")
    p.add_argument("--skip-flood", action="store_true", help="only the upload flood")
    p.add_argument("--py-spy", type=Path, default=None,
                   help="record the server with py-spy (raw, all threads) during the upload flood into this file")
    args = p.parse_args(argv)
    data_dir = Path(os.environ.get("CNN_LAB_DATA_DIR", ROOT.parent / "shared" / "data"))
    if not (data_dir / "MNIST" / "raw").is_dir():
        p.error("needs MNIST: set CNN_LAB_DATA_DIR")
    digits = mnist_digits(data_dir, 3)
    digit = digits[2]
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = bundled_checkpoints(Path(tmp) / "checkpoints")
        env = {"CNN_LAB_DATA_DIR": str(data_dir), "CNN_LAB_CHECKPOINT_DIR": str(ckpt),
               "CNN_LAB_BEHIND_PROXY": "1", "CNN_LAB_TRAINING_WORKERS": str(args.workers)}
        log = Path(tmp) / "server.log"
        files = {"image": worst_image(), "checkpoint": largest_checkpoint(Path(tmp))} if args.uploads else {}
        with serve("streamlit_app.py", log, env=env) as (url, proc), RssSampler(proc.pid) as sampler:
            result = {} if args.skip_flood else asyncio.run(main_async(url, args, digit))
            if args.uploads:
                profile = None
                if args.py_spy:   # every thread, sleeping ones too: a thread's samples are its wall time
                    profile = lambda: subprocess.Popen(   # noqa: E731
                        [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(proc.pid),
                         "--nonblocking", "--threads", "--idle", "-r", "100", "-f", "raw", "-o", str(args.py_spy)],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                result["upload_flood"] = asyncio.run(upload_flood(url, args, digits, files, sampler, profile))
        errors = [line for line in log.read_text(errors="replace").splitlines() if "Traceback" in line]
    target: dict = {}
    if not args.skip_flood:
        side = result["learner_on_the_side"]
        target["abusive_client_runs"] = result["abusive_client"].get("queued", 0) + result["abusive_client"].get("training", 0)
        target["learner_prediction_s"] = side.get("prediction_s")
        target["prediction_within_2s"] = bool(side.get("prediction_s") is not None
                                              and side["prediction_s"] <= TARGET_PREDICTION_S)
    if args.uploads:
        side = result["upload_flood"]["learner_on_the_side"]
        target["learner_worst_prediction_during_uploads_s"] = side.get("prediction_s")
        target["prediction_during_uploads_within_2s"] = bool(side.get("prediction_s") is not None
                                                             and side["prediction_s"] <= TARGET_PREDICTION_S)
    result["target"] = target
    result["server_tracebacks"] = len(errors)
    result["load_average"] = os.getloadavg()
    result["not_replayed"] = ["saved models across workspaces"]
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
