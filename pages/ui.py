"""Helpers shared by the pages: translation and the current language.

Not a page itself: streamlit_app.py lists the pages explicitly with st.navigation.
"""
from __future__ import annotations

from contextlib import contextmanager

import streamlit as st

from core.i18n import DEFAULT_LANGUAGE, LANGUAGES, translate

LANG_KEY = "lang"


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


SHELL_ATTR = "_cnn_lab_shell"   # set on this run's context while streamlit_app.py runs the page
DEEP_LINK = "_deep_link"        # page a direct link asked for, replayed through the shell


def ensure_app_shell(page_file: str) -> None:
    """Send a page that runs without streamlit_app.py back through it.

    On a fresh server, a direct link such as /convolution can reach Streamlit before the entry
    script has ever called st.navigation; Streamlit then treats pages/ as an old-style page folder
    and runs the page alone (no language switch, no layout). We remember the page, run the entry
    script, and it switches to the page. A page run on its own as the main script (AppTest) is
    left alone.
    """
    from pathlib import Path

    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is None or getattr(ctx, SHELL_ATTR, False):
        return
    if Path(ctx.main_script_path).resolve() == Path(page_file).resolve():
        return
    st.session_state[DEEP_LINK] = f"pages/{Path(page_file).name}"
    st.switch_page(ctx.main_script_path)


@contextmanager
def mark_shell_run():
    """Mark the current script run as going through the app shell (for ensure_app_shell).

    Kept on the run's context rather than in st.session_state: writing session state around the
    page would interfere with widget state (AppTest's set_value on the language switch).
    """
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is not None:
        setattr(ctx, SHELL_ATTR, True)
    try:
        yield
    finally:
        if ctx is not None:
            setattr(ctx, SHELL_ATTR, False)
