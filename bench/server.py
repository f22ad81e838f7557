"""A real CNN Lab server for benches and browser tests: `streamlit run streamlit_app.py` on a free
local port, with a temporary copy of the checkpoints, and the Chromium the browsers drive.

bench/ never imports tests/; tests/conftest.py takes its server from here.
"""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from core import settings

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]
SERVER_START_SECONDS = 90  # a cold start imports torch, OpenCV and Plotly; CI cores are shared


def shared_data_dir() -> Path | None:
    """The MNIST copy tests may use: $CNN_LAB_DATA_DIR, else ../shared/data beside the project."""
    env = settings.data_dir()
    candidates = [env] if env else []
    candidates.append(ROOT.parent / "shared" / "data")
    for c in candidates:
        if (c / "MNIST" / "raw" / "t10k-images-idx3-ubyte.gz").exists():
            return c.resolve()
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(tmp_dir: Path):
    """A real `streamlit run streamlit_app.py` on a free port, yielding its base URL.

    Its checkpoints dir is a temp copy, so browser tests that save models never touch the repo's
    checkpoints/."""
    port = free_port()
    env = dict(os.environ)
    d = shared_data_dir()
    if d is not None:
        env["CNN_LAB_DATA_DIR"] = str(d)
    ckpt_dir = tmp_dir / "checkpoints"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    for f in (ROOT / "checkpoints").glob("*.safetensors"):
        (ckpt_dir / f.name).write_bytes(f.read_bytes())
    env["CNN_LAB_CHECKPOINT_DIR"] = str(ckpt_dir)
    log = open(tmp_dir / "server.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app.py",
         "--server.port", str(port), "--server.headless", "true",
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(f"streamlit exited early, see {log.name}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"streamlit did not start within {SERVER_START_SECONDS} s, "
                                       f"see {log.name}")
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
