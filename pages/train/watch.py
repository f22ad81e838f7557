"""?watch=<token>: one run's curves, progress and results, read-only, for a projector or a
friend. Nothing here can stop the run, save or use its model, or reach any other run."""
from __future__ import annotations

import streamlit as st

from app.errors import guarded
from app.session import WATCH_PARAM
from app.text import md_escape
from app.ui import t
from pages.train.live import poll_every
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
    every = poll_every(view, view.status())  # the fragment's place never changes: pages/train/live.py
    st.fragment(run_every=every)(guarded(watch_panel))(token, every)
    own_page_link()


def own_page_link() -> None:
    """Leave the watch view for one's own Train page, in this same session (a link to /train
    would start a new session, without this visitor's workspace)."""
    st.button(t("train.watch_own"), icon="🏋️", key="train.leave_watch", on_click=leave_watch)


def leave_watch() -> None:
    st.query_params.pop(WATCH_PARAM, None)


def watch_panel(token: str, every: float | None) -> None:
    view = manager().watch(token)
    if view is None:  # forgotten by the server (old runs are pruned)
        st.warning(t("train.watch_unknown"), icon="🔗")
        return
    status = view.status()
    draw_view(token, view, status)
    if every is not None and poll_every(view, status) != every:
        st.rerun()  # over or its interval changed, and drawn: one full run (same elements, places)


def draw_view(token: str, view, status) -> None:
    who = t("train.watch_by", nickname=md_escape(view.nickname)) if view.nickname else ""
    st.markdown(f"#### {md_escape(run_label(view))}{who}")  # learner text is text (app.text)
    st.caption(t("train.watch_read_only"))
    run_view(view, status, token)
    if view.result is not None and not view.active:
        st.divider()
        st.subheader(t("train.tab_results"))
        results_body(view, owner=None)
