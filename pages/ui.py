"""Helpers shared by the pages: translation and the current language.

Not a page itself: streamlit_app.py lists the pages explicitly with st.navigation.
"""
from __future__ import annotations

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
        "Language / 语言",
        options=list(LANGUAGES),
        format_func=LANGUAGES.get,
        key=LANG_KEY,
        horizontal=True,
    )
