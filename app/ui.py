"""Helpers shared by the pages: translation, the language switch, cached datasets and models."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import streamlit as st

from app.state import LANG_KEY, LANG_PARAM
from core.i18n import DEFAULT_LANGUAGE, LANGUAGES, translate


def lang() -> str:
    return st.session_state.get(LANG_KEY, DEFAULT_LANGUAGE)


def t(key: str, **values) -> str:
    """Translated UI text for the current session's language."""
    return translate(lang(), key, **values)


def language_switch() -> None:
    """Sidebar radio English / 简体中文; the choice lives in st.session_state[LANG_KEY] and in the
    address bar (?lang=zh), so a reloaded or shared link opens in the same language.

    A new session takes the language from the link; after that the radio decides and the link
    follows it (English, the default, leaves no parameter)."""
    requested = st.query_params.get(LANG_PARAM)
    if LANG_KEY not in st.session_state and requested in LANGUAGES:
        st.session_state[LANG_KEY] = requested
    st.sidebar.radio(
        translate(lang(), "common.language_label"),
        options=list(LANGUAGES),
        format_func=LANGUAGES.get,
        key=LANG_KEY,
        horizontal=True,
    )
    keep_language_in_link()


def keep_language_in_link() -> None:
    """Write the session's language into the address bar (a page switch in the sidebar drops
    query parameters, so every run puts it back); only when it differs, to send nothing new."""
    current = lang()
    wanted = None if current == DEFAULT_LANGUAGE else current
    if st.query_params.get(LANG_PARAM) != wanted:
        if wanted is None:
            del st.query_params[LANG_PARAM]
        else:
            st.query_params[LANG_PARAM] = wanted


def language_query() -> str:
    """"&lang=zh" for links this app hands out (private link), "" for the default language."""
    return "" if lang() == DEFAULT_LANGUAGE else f"&{LANG_PARAM}={lang()}"


def option_labels(prefix: str) -> Callable[[object], str]:
    """format_func for option widgets: option value → the text of key f"{prefix}{value}".

    The language is read now, not when Streamlit (or AppTest) later calls the function."""
    current = lang()
    return lambda value: translate(current, f"{prefix}{value}")


@st.cache_resource(show_spinner=False)
def cached_dataset(name: str, data_dir: str | None = None):
    """One in-memory copy of a dataset per server process, shared read-only by every session.

    Raises core.data.DataError (one human sentence) when it is neither on disk nor downloadable.
    To show a download progress bar, call core.data.download(info, callback) first.
    """
    from core import data

    return data.load_dataset(name, data_dir, progress=False)


@st.cache_resource(show_spinner=False, max_entries=32)
def cached_checkpoint(path: str, mtime: float):
    """A saved checkpoint loaded once per (path, modification time); models are used read-only
    (eval mode, no_grad), so sessions can share them."""
    from core.checkpoint import load_checkpoint

    return load_checkpoint(path)


def load_saved_checkpoint(path):
    """cached_checkpoint keyed by the file's mtime, so a re-saved file is re-read."""
    p = Path(path)
    return cached_checkpoint(str(p), p.stat().st_mtime)
