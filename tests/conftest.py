"""Shared fixtures.

Browser tests (marked `browser`) start one `streamlit run streamlit_app.py` on a free local port
for the whole session and drive Debian's Chromium through Playwright. They use MNIST from
CNN_LAB_DATA_DIR (or ../shared/data beside the project when present).

When a test that drives a browser page fails, `pytest_runtest_makereport` below saves a screenshot
and the page's text under test-artifacts/failures/ and adds their paths to the failure message.
"""
from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]
SCREENSHOT_DIR = ROOT / "test-artifacts" / "screenshots"
FAILURE_DIR = ROOT / "test-artifacts" / "failures"
SERVER_START_SECONDS = 90  # a cold start imports torch, OpenCV and Plotly; CI cores are shared


def shared_data_dir() -> Path | None:
    """The MNIST copy tests may use: $CNN_LAB_DATA_DIR, else ../shared/data beside the project."""
    env = os.environ.get("CNN_LAB_DATA_DIR")
    candidates = [Path(env)] if env else []
    candidates.append(ROOT.parent / "shared" / "data")
    for c in candidates:
        if (c / "MNIST" / "raw" / "t10k-images-idx3-ubyte.gz").exists():
            return c.resolve()
    return None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    d = shared_data_dir()
    if d is None:
        pytest.skip("MNIST not available locally (set CNN_LAB_DATA_DIR)")
    return d


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots: {SCREENSHOT_DIR}")
    return SCREENSHOT_DIR


@contextlib.contextmanager
def streamlit_server(tmp_dir: Path):
    """A real `streamlit run streamlit_app.py` on a free port, yielding its base URL.

    Its checkpoints dir is a temp copy, so browser tests that save models never touch the repo's
    checkpoints/."""
    port = _free_port()
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


@pytest.fixture(scope="session")
def app_server_dir(tmp_path_factory) -> Path:
    """The shared server's folder: its log and its checkpoints/ (a copy of the bundled models)."""
    return tmp_path_factory.mktemp("server")


@pytest.fixture(scope="session")
def app_url(app_server_dir):
    """Base URL of the Streamlit server that the browser tests share."""
    with streamlit_server(app_server_dir) as url:
        yield url


@pytest.fixture
def fresh_app_url(tmp_path):
    """A server of this test's own (e.g. for what happens on its very first request). A fixture, so
    it is still up when a failure's screenshot is taken."""
    with streamlit_server(tmp_path) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium missing: run `make test` (it installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    p = context.new_page()
    p.set_default_timeout(60_000)  # generous: CI machines here are two shared cores
    yield p
    context.close()


# --------------------------------------------------------------------------- failure artifacts

def save_failure_artifacts(page, nodeid: str) -> list[Path]:
    """A full-page screenshot and the page's text (with its URL) for a failed test."""
    FAILURE_DIR.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid.split("/")[-1]).strip("_")[:150]
    shot, text = FAILURE_DIR / f"{stem}.png", FAILURE_DIR / f"{stem}.txt"
    saved = []
    try:
        page.screenshot(path=str(shot), full_page=True, timeout=15_000)
        saved.append(shot)
    except Exception as e:  # noqa: BLE001 — a broken page must not hide the test's own failure
        shot.with_suffix(".png.error").write_text(f"no screenshot: {e}\n")
    try:
        body = page.locator("body").inner_text(timeout=15_000)
        text.write_text(f"URL: {page.url}\n\n{body}\n", encoding="utf-8")
        saved.append(text)
    except Exception as e:  # noqa: BLE001
        text.write_text(f"URL: {page.url}\nno page text: {e}\n", encoding="utf-8")
        saved.append(text)
    return saved


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failed browser test, keep what the page showed and say where in the failure message.

    Runs while the test's fixtures (its page, its server) are still up: fixtures are torn down
    after the call phase is reported."""
    report = yield
    page = item.funcargs.get("page") if hasattr(item, "funcargs") else None
    if report.failed and call.when == "call" and page is not None and not page.is_closed():
        paths = save_failure_artifacts(page, item.nodeid)
        where = ", ".join(str(p) for p in paths)
        note = f"browser artifacts (screenshot, page text): {where}"
        longrepr = report.longrepr
        if hasattr(longrepr, "addsection"):
            longrepr.addsection("browser artifacts", note)
        crash = getattr(longrepr, "reprcrash", None)
        if crash is not None:
            crash.message = f"{crash.message} [{note}]"
    return report
