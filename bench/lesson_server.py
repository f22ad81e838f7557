"""A `streamlit run` server for the benches in this folder, optionally pinned to CPU cores.

Kept separate from tests/conftest.py so a bench can pin the server (`taskset`), pass it
environment variables (a teacher key) and run any script (the app or a tiny test app).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START_SECONDS = 120   # a cold start imports torch, OpenCV and Plotly on shared cores


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(script: str | Path, log: Path, *, env: dict | None = None, cpus: str | None = None,
          python_args: list[str] | None = None, cwd: Path = ROOT):
    """Yield (base_url, Popen) for `streamlit run script` on a free 127.0.0.1 port; stopped after.

    cpus: a taskset CPU list ("0") the server and everything it starts are pinned to.
    python_args: run `python <python_args> -m streamlit ...` instead (e.g. a profiler wrapper)."""
    port = free_port()
    cmd = [sys.executable, *(python_args or ["-m", "streamlit"]), "run", str(script),
           "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
           "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    if cpus is not None and shutil.which("taskset"):
        cmd = ["taskset", "-c", cpus, *cmd]
    full_env = {**os.environ, **(env or {})}
    log.parent.mkdir(parents=True, exist_ok=True)
    out = open(log, "w")
    proc = subprocess.Popen(cmd, cwd=cwd, env=full_env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(f"streamlit exited early, see {log}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"streamlit did not start within {START_SECONDS} s, see {log}")
                time.sleep(0.3)
        yield url, proc
    finally:
        proc.terminate()   # SIGTERM: streamlit shuts down cleanly (a profiler wrapper can dump)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        out.close()
