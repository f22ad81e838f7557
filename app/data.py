"""A dataset for a page, or one sentence and a Retry button: downloaded once per server, and a
failed download is remembered for the session (else every rerun would wait on the network)."""
from __future__ import annotations

import streamlit as st

from app.ui import cached_dataset, t


def _retry(failed_key: str, name: str) -> None:
    st.session_state.get(failed_key, {}).pop(name, None)


def dataset_or_retry(name: str, page: str, title: str):
    """The dataset `name` (with a spinner while it downloads), or None after showing why not.

    The page's texts are "<page>.downloading" (with {dataset}), "<page>.data_error" (with
    {reason}) and "<page>.data_retry"; its keys "<page>.data_failed" and "<page>.data_retry"."""
    from core.data import DataError, is_available

    failed = st.session_state.setdefault(f"{page}.data_failed", {})
    if name not in failed:
        try:
            if is_available(name):
                return cached_dataset(name)
            with st.spinner(t(f"{page}.downloading", dataset=title)):
                return cached_dataset(name)
        except DataError as e:
            failed[name] = str(e)
    st.error(t(f"{page}.data_error", reason=failed[name]))
    st.button(t(f"{page}.data_retry"), on_click=_retry, args=(f"{page}.data_failed", name),
              key=f"{page}.data_retry", icon=":material/refresh:")
    return None
