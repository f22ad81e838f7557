"""The one server helper for benches and tests: `serve` runs `streamlit run <script>` on a free
127.0.0.1 port (optionally pinned to cores with taskset, under a profiler, with extra environment);
`streamlit_server` is the CNN Lab app with a temporary copy of the checkpoints; and the Chromium the
browsers drive.

bench/ never imports tests/; tests/conftest.py takes its server from here.
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

from core import settings

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]
SERVER_START_SECONDS = 120  # a cold start imports torch, OpenCV and Plotly; CI cores are shared
# What `make class` (the Makefile's serve-public) passes to `python -m app.serve`, less the
# address, port and the options serve() always passes (headless, no usage stats): a bench of "a
# class server" runs exactly that server.
CLASS_OPTIONS = ["--client.showErrorDetails", "none", "--client.toolbarMode", "minimal",
                 "--server.maxUploadSize", "32"]
CLASS_ENV = {"CNN_LAB_RUN_REGISTRY": "1"}   # the Makefile's default (runs kept on disk)


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
def serve(script: str | Path, log: Path, *, env: dict | None = None, cpus: str | None = None,
          python_args: list[str] | None = None, cwd: Path = ROOT, launcher: str = "streamlit",
          options: list[str] | None = None):
    """Yield (base_url, Popen) for `streamlit run script` on a free 127.0.0.1 port; stopped after.

    cpus: a taskset CPU list ("0") the server and everything it starts are pinned to.
    python_args: what goes between `python` and `-m <launcher>` (a profiler wrapper such as
    `-m cProfile -o out.prof`).
    launcher: "streamlit" (`python -m streamlit run script`) or "app.serve" (`python -m app.serve`,
    what `make run` and `make class` start: every library imported and every setting checked
    before the first visitor; it serves streamlit_app.py, so `script` must be that).
    options: more Streamlit command-line options (e.g. CLASS_OPTIONS)."""
    port = free_port()
    if launcher == "streamlit":
        entry = ["-m", "streamlit", "run", str(script)]
    elif launcher == "app.serve":
        if Path(script).name != "streamlit_app.py":
            raise ValueError("app.serve serves streamlit_app.py only")
        entry = ["-m", "app.serve"]
    else:
        raise ValueError(f"unknown launcher {launcher!r}")
    cmd = [sys.executable, *(python_args or []), *entry,
           "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
           "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none", *(options or [])]
    if cpus is not None and shutil.which("taskset"):
        cmd = ["taskset", "-c", cpus, *cmd]
    full_env = {**os.environ, **(env or {})}
    log.parent.mkdir(parents=True, exist_ok=True)
    out = open(log, "w")
    proc = subprocess.Popen(cmd, cwd=cwd, env=full_env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(f"streamlit exited early, see {log}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"streamlit did not start within {SERVER_START_SECONDS} s, see {log}")
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


def bundled_checkpoints(folder: Path) -> Path:
    """`folder` (created) holding a copy of the repo's bundled models: a server's checkpoint folder
    for a bench or test, so nothing it saves touches the repo's checkpoints/."""
    folder.mkdir(parents=True, exist_ok=True)
    for f in (ROOT / "checkpoints").glob("*.safetensors"):
        shutil.copy(f, folder / f.name)
    return folder


@contextlib.contextmanager
def streamlit_server(tmp_dir: Path):
    """A real `streamlit run streamlit_app.py` on a free port, yielding its base URL.

    Its checkpoints dir is a temp copy, so browser tests that save models never touch the repo's
    checkpoints/."""
    env = {}
    d = shared_data_dir()
    if d is not None:
        env["CNN_LAB_DATA_DIR"] = str(d)
    env["CNN_LAB_CHECKPOINT_DIR"] = str(bundled_checkpoints(tmp_dir / "checkpoints"))
    with serve("streamlit_app.py", tmp_dir / "server.log", env=env) as (url, _proc):
        yield url
