"""The app shell around every page (streamlit_app.py): start-up clean-up, the first run of a
session, and the private-link box in the sidebar.

Pages are functions (a package's render()) given to st.Page, and pages/ holds packages only, so
Streamlit's legacy pages/-folder discovery (streamlit/runtime/scriptrunner/script_runner.py,
_mpa_v1: pages/*.py) finds no script to run on its own: every page runs inside this shell.
"""
from __future__ import annotations

import streamlit as st
from streamlit.logger import get_logger

_log = get_logger("cnn_lab.shell")
SHELL_RAN = "app.shell_ran"  # set by streamlit_app.py on a session's first run


def first_run_of_session() -> bool:
    """True on this session's very first run (and marks it as run).

    Why streamlit_app.py reruns once then: on a freshly started server, the first session's first
    run starts in Streamlit's legacy pages/-folder mode (streamlit/runtime/pages_manager.py: the
    class-wide flag PagesManager.uses_pages_directory is True when a pages/ folder sits beside
    the entry script, until st.navigation first switches it off, commands/navigation.py). The
    browser then loses that session's first widget event (checked on 1.67: the first click on
    the language switch did nothing, the second worked). A session's first run carries no widget
    event, so rerunning it at once loses nothing, and the first event a visitor sends reaches a
    run that st.navigation has already taken out of that mode. Public API only; later sessions
    pay one extra run of the shell (no page is drawn in the first run)."""
    first = SHELL_RAN not in st.session_state
    st.session_state[SHELL_RAN] = True
    return first


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
