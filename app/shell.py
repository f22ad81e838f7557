"""The app shell around every page (streamlit_app.py): start-up clean-up and the private-link
box in the sidebar.

Pages are functions (a package's render()) given to st.Page (app/routes.py), so every page runs
inside this shell; what a freshly started server's legacy pages/-folder mode does with a deep
link is app/legacy_links.py's business.

Why streamlit_app.py calls st.navigation before it draws any widget (read in Streamlit 1.67):
on a freshly started server, the first session's runs go through the legacy pages/-folder mode
until st.navigation is first called (runtime/pages_manager.py:60 sets the class-wide
PagesManager.uses_pages_directory; commands/navigation.py:399 clears it). In that mode the run
is `_mpa_v1` (runtime/scriptrunner/script_runner.py:933), which runs streamlit_app.py as a page
of its own (script_runner.py:181 → navigation/page.py:568 `run_with_active_hash`), so every
widget drawn before our st.navigation gets an element id hashed with that legacy page's hash
(elements/lib/utils.py:306 adds `active_script_hash`, also for keyed widgets); st.navigation
puts the main script's hash back (commands/navigation.py:569 → set_mpa_v2_page,
runtime/scriptrunner_utils/script_run_context.py:291), and every later run uses that. So the
language radio, drawn first, had one id in the legacy runs and another afterwards: a click on it
sent under the old id was dropped (the "lost first click"), and a language chosen in a run that
was still legacy (a visitor clicking 简体中文 while the first run was still importing the pages)
lived under the old id, which the next page change removed as stale
(runtime/state/session_state.py `_remove_stale_widgets`): the Train page opened in English.
Drawn after st.navigation, every widget of the shell has the same id in every run, whatever
mode the run began in. Public API only; tests/test_browser_smoke.py checks it on fresh servers.
"""
from __future__ import annotations

import streamlit as st
from streamlit.logger import get_logger

_log = get_logger("cnn_lab.shell")

def bad_setting() -> str | None:
    """The sentence of the first CNN_LAB_* setting that cannot be used (core.settings), or None.
    app/serve.py refuses to start on one; a server started with `streamlit run` directly shows
    this sentence on every page instead of a traceback (and logs it once per run)."""
    from core import settings

    try:
        settings.check()
    except settings.SettingsError as e:
        _log.error("CNN Lab cannot start: %s", e)
        return str(e)
    return None


@st.cache_resource(show_spinner=False)
def startup() -> int:
    """Once per server process: remove temporary files that saves interrupted by a crash left
    in the checkpoint folder (and its workspaces). Returns how many were removed."""
    from core.checkpoint import clean_stale_temp_files

    return clean_stale_temp_files()


def private_link_box() -> None:
    """Sidebar: "Your private link" — the address that brings this visitor's runs and models
    back after a reload or on another device. A link that was not valid gets one sentence."""
    from app import session
    from app.ui import language_query, t

    query = session.private_link_query() + language_query()
    base = st.context.url  # the page's address as the browser sees it, without its query
    link = f"{base}{query}" if base else query
    with st.sidebar.popover(t("shell.private_link_title"), icon="🔑", width="stretch"):
        st.caption(t("shell.private_link_help"))
        st.code(link, language=None, wrap_lines=True)
    if session.pop_link_error():
        st.warning(t("shell.private_link_invalid"), icon="🔑")
