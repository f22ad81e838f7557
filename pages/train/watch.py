"""?watch=<token>: one run's curves, progress and results, read-only, for a projector or a
friend. Nothing here can stop the run, save or use its model, or reach any other run."""
from __future__ import annotations

import streamlit as st

from app.errors import guarded
from app.session import WATCH_PARAM
from app.text import md_escape
from app.ui import t
from pages.train.live import POLL_SECONDS
from pages.train.progress import run_view
from pages.train.results import results_body
from pages.train.runs import manager, run_label


def watch_page(token: str) -> None:
    st.title(t("train.title"))
    view = manager().watch(token)
    if view is None:
        st.warning(t("train.watch_unknown"), icon="🔗")
        own_page_link()
        return
    polling = view.active   # the fragment's place never changes: see pages/train/live.py
    st.fragment(run_every=POLL_SECONDS if polling else None)(guarded(watch_panel))(token, polling)
    own_page_link()


def own_page_link() -> None:
    """Leave the watch view for one's own Train page, in this same session (a link to /train
    would start a new session, without this visitor's workspace)."""
    st.button(t("train.watch_own"), icon="🏋️", key="train.leave_watch", on_click=leave_watch)


def leave_watch() -> None:
    st.query_params.pop(WATCH_PARAM, None)


def watch_panel(token: str, polling: bool) -> None:
    view = manager().watch(token)
    if view is None:  # forgotten by the server (old runs are pruned)
        st.warning(t("train.watch_unknown"), icon="🔗")
        return
    draw_view(token, view)
    if polling and not view.active:
        st.rerun()  # over, and drawn: one full run stops the polling (same elements, same places)


def draw_view(token: str, view) -> None:
    who = t("train.watch_by", nickname=md_escape(view.nickname)) if view.nickname else ""
    st.markdown(f"#### {md_escape(run_label(view))}{who}")  # learner text is text (app.text)
    st.caption(t("train.watch_read_only"))
    run_view(view, view.status(), token)
    if view.result is not None and not view.active:
        st.divider()
        st.subheader(t("train.tab_results"))
        results_body(view, owner=None)
