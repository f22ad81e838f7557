"""② Train (live): the current run's progress, curves and feature maps, polled once a second
by a fragment while it waits or trains; Stop / Cancel; its watch link."""
from __future__ import annotations

import streamlit as st

from app.errors import guarded
from app.tabs import open_tab
from app.ui import t
from core import jobs
from pages.train.keys import RESULTS, WATCH_LINK_KEY, K
from pages.train.progress import run_view
from pages.train.runs import current_job, manager, run_label, watch_url


def live_tab(owner: str) -> None:
    job = current_job(owner)
    if job is None:
        st.info(t("train.no_run"), icon="👈")
        return
    polling = job.active
    st.fragment(run_every=1.0 if polling else None)(guarded(live_panel))(owner, job.id, polling)


def live_panel(owner: str, job_id: str, polling: bool) -> None:
    job = manager().get(job_id, owner)
    if job is None:
        st.info(t("train.no_run"))
        return
    if polling and not job.active:
        st.rerun()  # over: redraw the whole page once (results, no more polling)
    head, stop_col = st.columns([5, 1], vertical_alignment="center")
    head.markdown(f"#### {run_label(job)}")
    if job.state == jobs.QUEUED:
        stop_col.button(t("train.cancel"), icon="✖️", key="train.cancel", width="stretch",
                        on_click=manager().cancel, args=(job.id, owner), help=t("train.cancel_help"))
    elif job.state in (jobs.STARTING, jobs.RUNNING):
        stop_col.button(t("train.stop"), icon="⏹️", key="train.stop", width="stretch",
                        on_click=manager().stop, args=(job.id, owner), help=t("train.stop_help"))
    if job.state == jobs.CANCELLED:
        st.info(t("train.cancelled"), icon="✖️")
        return
    run_view(job, manager().status(job), after_outcome=results_button)
    watch_link(job)


def results_button() -> None:
    if st.button(t("train.see_results"), icon="📊", key="train.goto_results"):
        open_tab(K.TAB, RESULTS)
        st.rerun(scope="app")  # the tabs live outside this fragment


def watch_link(job: jobs.Job) -> None:
    """The run's read-only watch link, to share with a friend or put on a projector."""
    with st.container(key=WATCH_LINK_KEY):
        st.caption(t("train.watch_link"))
        st.code(watch_url(job), language=None)


def watcher(owner: str, job_id: str) -> None:
    """While a run is active and its live tab is hidden, rerun the page once it ends."""
    job = manager().get(job_id, owner)
    if job is None or not job.active:
        st.rerun()

