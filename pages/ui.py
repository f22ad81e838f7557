"""Helpers shared by the pages: translation and the current language.

Not a page itself: streamlit_app.py lists the pages explicitly with st.navigation.
"""
from __future__ import annotations

import streamlit as st

from core.i18n import DEFAULT_LANGUAGE, LANGUAGES, translate

LANG_KEY = "lang"
SHELL_RAN = "app.shell_ran"  # set by streamlit_app.py on every run; see ensure_app_shell


def ensure_app_shell() -> None:
    """Rerun through streamlit_app.py when Streamlit ran this page file on its own.

    A freshly started server whose first request deep-links to /train (say, a link a teacher
    shared) runs pages/train.py by itself: Streamlit's old pages/-folder mode stays on until
    st.navigation is first called. That page would have no language switch, and the sidebar would
    list every file in pages/. A page's hash is that of its URL path in both modes, so the rerun
    lands on the same page, this time inside the app shell.

    Only a session that has not run the shell yet is rerun: its first run carries no widget event
    that the rerun could lose. (AppTest re-enables the pages/-folder mode before every run, so
    later runs there take this path too, and must keep their clicks.)
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory and SHELL_RAN not in st.session_state:
        PagesManager.uses_pages_directory = False  # what st.navigation itself sets on its first call
        st.rerun()


def mark_app_shell() -> None:
    """Called by streamlit_app.py: this session has run inside the app shell."""
    st.session_state[SHELL_RAN] = True


def lang() -> str:
    return st.session_state.get(LANG_KEY, DEFAULT_LANGUAGE)


def t(key: str, **values) -> str:
    """Translated UI text for the current session's language."""
    return translate(lang(), key, **values)


def language_switch() -> None:
    """Sidebar radio English / 简体中文; the choice lives in st.session_state['lang']."""
    st.sidebar.radio(
        translate(lang(), "common.language_label"),
        options=list(LANGUAGES),
        format_func=LANGUAGES.get,
        key=LANG_KEY,
        horizontal=True,
    )


@st.cache_resource(show_spinner=False)
def cached_dataset(name: str, data_dir: str | None = None):
    """One in-memory copy of a dataset per server process, shared read-only by every session.

    Raises core.data.DataError (one human sentence) when it is neither on disk nor downloadable.
    To show a download progress bar, call core.data.download(info, callback) first.
    """
    from core.data import load_dataset

    return load_dataset(name, data_dir, progress=False)


@st.cache_resource(show_spinner=False)
def job_manager():
    """The server's one core.jobs.JobManager: every session's training runs and the demo limits.
    Here rather than in pages/train.py so that tests reach the same manager the page uses."""
    from core.jobs import JobManager

    return JobManager()


@st.cache_resource(show_spinner=False, max_entries=32)
def cached_checkpoint(path: str, mtime: float):
    """A saved checkpoint loaded once per (path, modification time); models are used read-only
    (eval mode, no_grad), so sessions can share them."""
    from core.checkpoint import load_checkpoint

    return load_checkpoint(path)


def load_saved_checkpoint(path):
    """cached_checkpoint keyed by the file's mtime, so a re-saved file is re-read."""
    from pathlib import Path

    p = Path(path)
    return cached_checkpoint(str(p), p.stat().st_mtime)


SESSION_MODELS = "session_models"      # {display name: core.checkpoint.Checkpoint} unsaved runs
PREDICT_REQUEST = "predict.request"    # {"model": "file:<path>" | "session:<name>", "test_index": int}
