"""Small helpers shared by test modules (test modules never import each other): the one bounded
`wait_until`, where the pages are, whether Ray's private network can be made here, and a browser
page's settled state. The test doubles live in tests/fakes.py."""
from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT / "pages"
CONV_PAGE = "pages.convolution"  # page modules, run by page_app()
PREDICT_PAGE = "pages.predict"

# No script run in progress (Streamlit's status widget), nothing stale, every chart and image drawn.
SETTLED = """() => !document.querySelector('[data-testid="stStatusWidget"]')
  && !document.querySelector('[data-stale="true"]')
  && [...document.querySelectorAll('[data-testid="stPlotlyChart"]')].every(c => c.querySelector('.main-svg'))
  && [...document.images].every(i => i.complete)"""
SETTLE_TIMEOUT_MS = 120_000  # generous for two busy CI cores

def wait_until(predicate: Callable[[], object], timeout: float = 60.0, what: str = "the condition",
               poll: float = 0.005) -> bool:
    """Poll `predicate` until it holds, then return True; after `timeout` seconds raise
    AssertionError naming `what` was waited for. Every wait in the tests is bounded by this."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(poll)
    return True

def run_async(coro, timeout: float = 240.0):
    """Run `coro` to completion, bounded by `timeout` seconds, on a thread of its own.

    Why a thread: while a session-scoped Playwright browser is alive, its sync API keeps an event
    loop running in the main thread, and asyncio.run() there raises "cannot be called from a
    running event loop" (which test ran first would decide whether a protocol test passes)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, asyncio.wait_for(coro, timeout)).result()


def can_unshare() -> str | None:
    """None when a private network namespace can be made here (Ray binds every interface, so it
    only runs inside one), else why not."""
    if not shutil.which("unshare") or not shutil.which("ip"):
        return "unshare or ip (util-linux, iproute2) not installed"
    p = subprocess.run(["unshare", "--net", "sh", "-c", "ip link set lo up"], capture_output=True,
                       text=True, timeout=30)
    if p.returncode != 0:
        return f"unshare --net is not permitted here ({p.stderr.strip()[:120]}); needs root or user namespaces"
    return None

def expect_idle(page) -> None:
    """No script run in progress (Streamlit's status widget) and nothing left over from the last run."""
    page.wait_for_function(SETTLED, timeout=SETTLE_TIMEOUT_MS)


def open_options(page, label, option, tries: int = 6):
    """Open the select box `label` (its label, or a locator of it) and return the locator of its
    first option matching `option` once it is visible. A rerun that lands just after the click (a
    page switch to the page already shown, a fragment's timer) rebuilds the select box and closes
    its list, so a list that has not shown the option within 10 s is closed and opened again once
    the page has settled, up to `tries` times (the last try waits as long as any other wait)."""
    from playwright.sync_api import expect
    wanted = page.get_by_role("option", name=option).first
    box = page.get_by_label(label, exact=True) if isinstance(label, str) else label
    for attempt in range(1, tries + 1):
        expect_idle(page)
        box.click()
        try:
            expect(wanted).to_be_visible(timeout=SETTLE_TIMEOUT_MS if attempt == tries else 10_000)
            return wanted
        except AssertionError:
            if attempt == tries:
                raise
            page.keyboard.press("Escape")


# --------------------------------------------------------------------------- pages under AppTest

def _render(module: str) -> None:
    import importlib

    importlib.import_module(module).render()


def page_app(module: str, timeout: float = 60):
    """An AppTest that runs one page's render() on its own ("pages.predict"), as AppTest.from_file
    ran the page file before pages became functions."""
    from streamlit.testing.v1 import AppTest

    return AppTest.from_function(_render, args=(module,), default_timeout=timeout)


def open_page(at, url_path: str):
    """Make the next run of a whole-app AppTest open the page at `url_path`, as a link to
    /<url_path> would. AppTest.switch_page only finds file-based pages (it matches script paths,
    testing/v1/app_test.py _resolve_page_hash), and ours are functions; st.navigation resolves a
    page by the hash of its url_path (navigation/page.py Page._script_hash), which is what
    switch_page would have set."""
    from streamlit.util import calc_hash

    assert hasattr(at, "_page_hash"), "AppTest changed: rework tests/helpers.open_page"
    at._page_hash = calc_hash(url_path)
    return at


def run_in_private_network(script: str, *args: str, timeout: float = 1200):
    """Run `python <script> <args>` (a path from the repo root) inside a private network namespace
    with only loopback up (Ray binds every interface, so it only ever runs in one); returns the
    CompletedProcess and its facts (check_facts)."""
    import shlex

    command = " ".join(shlex.quote(a) for a in (sys.executable, script, *args))
    p = subprocess.run(["unshare", "--net", "sh", "-c", f"ip link set lo up; exec {command}"], cwd=ROOT,
                       capture_output=True, text=True, timeout=timeout)
    return p, check_facts(p.stdout)


def check_facts(stdout: str) -> dict[str, dict]:
    """What a check script printed: each line `{"check": name, ...}` as {name: {...}}."""
    import json

    facts = {}
    for line in stdout.splitlines():
        if line.startswith("{"):
            fact = json.loads(line)
            facts[fact.pop("check")] = fact
    return facts


def class_page(lang: str = "en"):
    """The whole app in AppTest, opened on the Class page in `lang` (still locked)."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=90)
    at.session_state["lang"] = lang
    at.run()
    open_page(at, "class").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def unlock(at, key: str):
    """Type the teacher key into the Class page's form and press its Unlock button."""
    at.text_input(key="class.key").input(key)
    at.button[0].click()  # the form's Unlock button
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at

