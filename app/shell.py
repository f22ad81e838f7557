"""The app shell: every page must run inside streamlit_app.py (navigation + shared sidebar).

This is the one place that touches Streamlit's private PagesManager; tests/test_app.py
(test_a_deep_link_runs_inside_the_app_shell) fails loudly if a Streamlit upgrade breaks it.
"""
from __future__ import annotations

import streamlit as st

SHELL_RAN = "app.shell_ran"  # set by streamlit_app.py on every run


def ensure_app_shell() -> None:
    """Rerun through streamlit_app.py when Streamlit ran this page file on its own.

    Why it is still needed (checked on Streamlit 1.67): a freshly started server whose first
    request deep-links to /train (say, a link a teacher shared) runs pages/train.py by itself,
    because Streamlit's old pages/-folder mode (PagesManager.uses_pages_directory, set when a
    pages/ folder exists) stays on until st.navigation is first called, and no public API turns
    it off. That page would have no language switch, and the sidebar would list every file in
    pages/. A page's hash is that of its URL path in both modes, so the rerun lands on the same
    page, this time inside the app shell.

    Only a session that has not run the shell yet is rerun: its first run carries no widget event
    that the rerun could lose. (AppTest re-enables the pages/-folder mode before every run, so
    later runs there take this path too, and must keep their clicks.)
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory and SHELL_RAN not in st.session_state:
        PagesManager.uses_pages_directory = False  # what st.navigation itself sets on its first call
        st.rerun()


def pages_folder_mode() -> bool:
    """Whether Streamlit still runs in its old pages/-folder mode (a fresh server's first session).

    That session's first run starts in this mode and st.navigation switches it off mid-run; the
    browser then loses the session's first widget event (checked on 1.67: the first click on the
    language switch did nothing, the second worked). streamlit_app.py reruns once at once, so the
    first event a visitor sends reaches a session already out of that mode."""
    from streamlit.runtime.pages_manager import PagesManager

    return bool(getattr(PagesManager, "uses_pages_directory", False))


def mark_app_shell() -> None:
    """Called by streamlit_app.py: this session has run inside the app shell."""
    st.session_state[SHELL_RAN] = True


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
