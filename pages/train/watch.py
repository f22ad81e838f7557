"""?watch=<token>: one run's curves, progress and results, read-only, for a projector or a
friend. Nothing here can stop the run, save or use its model, or reach any other run."""
from __future__ import annotations

import streamlit as st

from app.errors import guarded
from app.session import WATCH_PARAM
from app.text import md_escape
from app.ui import t
from pages.train.live import intervals
from pages.train.progress import run_charts, run_status
from pages.train.results import results_body
from pages.train.runs import manager, run_label


def watch_page(token: str) -> None:
    st.title(t("train.title"))
    view = manager().watch(token)
    if view is None:
        st.warning(t("train.watch_unknown"), icon="🔗")
        own_page_link()
        return
    # Two fragments, the status and below it the charts, whose places never change
    # (pages/train/live.py); each polls at its own pace (core.jobs.polling).
    every, charts_every = intervals(view, view.status())
    st.fragment(run_every=every)(guarded(watch_panel))(token, every, charts_every)
    st.fragment(run_every=charts_every)(guarded(watch_charts))(token)
    own_page_link()


def own_page_link() -> None:
    """Leave the watch view for one's own Train page, in this same session (a link to /train
    would start a new session, without this visitor's workspace)."""
    st.button(t("train.watch_own"), icon="🏋️", key="train.leave_watch", on_click=leave_watch)


def leave_watch() -> None:
    st.query_params.pop(WATCH_PARAM, None)


def watch_panel(token: str, every: float | None, charts_every: float | None) -> None:
    view = manager().watch(token)
    if view is None:  # forgotten by the server (old runs are pruned)
        st.warning(t("train.watch_unknown"), icon="🔗")
        return
    status = view.status()
    who = t("train.watch_by", nickname=md_escape(view.nickname)) if view.nickname else ""
    st.markdown(f"#### {md_escape(run_label(view))}{who}")  # learner text is text (app.text)
    st.caption(t("train.watch_read_only"))
    run_status(view, status)
    if every is not None and intervals(view, status) != (every, charts_every):
        st.rerun()  # over or an interval changed, and drawn: one full run (same elements, places)


def watch_charts(token: str) -> None:
    """The run's charts, and once it is over its results."""
    view = manager().watch(token)
    if view is None:
        return
    run_charts(view, token)
    if view.result is not None and not view.active:
        st.divider()
        st.subheader(t("train.tab_results"))
        results_body(view, owner=None)
