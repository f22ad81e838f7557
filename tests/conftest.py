"""Shared fixtures.

Browser tests (marked `browser`) start one `streamlit run streamlit_app.py` on a free local port
for the whole session and drive Debian's Chromium through Playwright. They use MNIST from
CNN_LAB_DATA_DIR (or ../shared/data beside the project when present).

When a test that drives a browser page fails, `pytest_runtest_makereport` below saves a screenshot
and the page's text under test-artifacts/failures/ and adds their paths to the failure message.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from bench.server import (CHROMIUM, CHROMIUM_ARGS, ROOT, SERVER_START_SECONDS,  # noqa: F401
                          free_port, shared_data_dir, streamlit_server)

# Every visitor of the test servers and every AppTest comes from this one machine, so they are one
# client to the per-client budgets (core.budgets): a whole suite opens far more workspaces in an
# hour than one real person may. Tests of the budgets set their own values.
os.environ.setdefault("CNN_LAB_WORKSPACES_PER_HOUR", "100000")
# A teacher key makes the process backend the default (core.settings.backend); page tests set one
# for the Class page and would start multiprocessing's one fork server inside a test's temporary
# folders, which later tests of the process backend then inherit after those folders are gone.
# Tests of the process backend build it explicitly.
os.environ.setdefault("CNN_LAB_BACKEND", "local")

SCREENSHOT_DIR = ROOT / "test-artifacts" / "screenshots"
FAILURE_DIR = ROOT / "test-artifacts" / "failures"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    d = shared_data_dir()
    if d is None:
        pytest.skip("MNIST not available locally (set CNN_LAB_DATA_DIR)")
    return d


@pytest.fixture
def checkpoints(tmp_path, monkeypatch) -> Path:
    """A checkpoint folder with one model: the bundled default, else an untrained stand-in."""
    import shutil

    import torch

    from core.checkpoint import DEFAULT_CHECKPOINT, make_metadata, save_checkpoint
    from core.models import PRESETS, build_model

    folder = tmp_path / "checkpoints"
    folder.mkdir()
    if DEFAULT_CHECKPOINT.exists():
        path = folder / DEFAULT_CHECKPOINT.name
        shutil.copy(DEFAULT_CHECKPOINT, path)
    else:
        torch.manual_seed(0)
        spec = PRESETS["fast"].spec()
        path = save_checkpoint(folder / "untrained.safetensors", build_model(spec),
                               make_metadata(spec, "mnist", name="untrained"))
    monkeypatch.setenv("CNN_LAB_CHECKPOINT_DIR", str(folder))
    return path


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots: {SCREENSHOT_DIR}")
    return SCREENSHOT_DIR


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
