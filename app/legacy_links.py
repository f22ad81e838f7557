"""Deep links on a freshly started server: the one place that deals with Streamlit's legacy
pages/-folder mode. Public API only.

Why it is needed (read in Streamlit 1.67's source): a pages/ folder beside the entry script turns
on the legacy mode for the server process until st.navigation is first called
(runtime/pages_manager.py, PagesManager.__init__ sets the class-wide `uses_pages_directory`;
commands/navigation.py `navigation()` switches it off). In that mode the run does not execute
streamlit_app.py but `_mpa_v1` (runtime/scriptrunner/script_runner.py), which registers the entry
script plus every pages/*.py and resolves the requested address among them. Our pages are
functions in packages, so for a first request to /predict it finds nothing, enqueues
"page_not_found" (commands/navigation.py `_navigation`) and the browser shows a "Page not found"
dialog over the right page, before any code of ours runs. No option or public call turns the
mode off earlier.

So pages/ holds one tiny script per address, named "1_<url path>.py" (the legacy mode drops the
number: its address is /<url path>), whose only line runs the app shell: streamlit_app.py calls
st.navigation, which ends the legacy mode and opens the page the link names, inside the shell.
These scripts are never pages of the app (st.navigation lists the packages' render()), and only
the first run of a fresh server's first session ever reaches them.
tests/test_app.py checks the scripts match the routes; tests/test_browser_smoke.py's fresh-server
deep link checks there is no "Page not found" dialog.
"""
from __future__ import annotations

import runpy
from pathlib import Path

ENTRY = Path(__file__).resolve().parent.parent / "streamlit_app.py"
SCRIPT = "1_{url_path}.py"
SCRIPT_TEXT = '"""Only for deep links on a fresh server: see app/legacy_links.py."""\n' \
              "from app.legacy_links import run_app_shell\n\nrun_app_shell()\n"


def run_app_shell() -> None:
    """Run streamlit_app.py in this run (the app shell and the page the address names)."""
    runpy.run_path(str(ENTRY), run_name="__main__")
