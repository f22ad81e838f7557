"""Small helpers shared by test modules (test modules never import each other): the one bounded
`wait_until`, where the pages are, whether Ray's private network can be made here, and a browser
page's settled state. The test doubles live in tests/fakes.py."""
from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT / "pages"
CONV_PAGE = str(PAGES / "convolution.py")
PREDICT_PAGE = str(PAGES / "predict.py")

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
