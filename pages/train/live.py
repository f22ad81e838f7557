"""② Train (live): the current run's progress (polled once a second by a fragment while it waits
or trains), its curves and feature maps (polled every few seconds by a second fragment while it
trains: core.jobs.polling); Stop / Cancel; its watch link.

Why the fragments look the way they do (issue 22: learners' pages went white at the end of a
run with "Bad delta path index …"): a fragment's deltas are addressed by the delta path it had
when the last full run registered it, and the browser drops or rejects them when that path no
longer exists. So the page's element tree around its fragments never changes shape:

  * the live tab always holds exactly two fragments, whether or not there is a run, and whether
    or not they poll: `live_panel` (the run's status) and below it `live_charts` (its charts and
    watch link). Only their `run_every` changes, at a full run (how often: core.jobs.poll_seconds
    — every second while the run trains, less often while it waits — and
    core.jobs.chart_poll_seconds — every few seconds while it trains, not at all otherwise);
  * the page always ends with exactly one `watcher` fragment (no element of its own), polling
    only while a run is active and the live tab is hidden;
  * the one full rerun the status fragment asks for (its run is over: stop polling, redraw what
    depends on it; or its run now needs another polling interval, its own or its charts' — as when
    the run starts) comes after it has drawn the state, and
    the full run that follows draws the same elements at the same places; a poll the browser
    sent just before that rerun reruns the same fragment at the same place, now with the new
    interval, and draws the same state again.
"""
from __future__ import annotations

import streamlit as st

from app.errors import guarded
from app.tabs import open_tab
from app.text import md_escape
from app.ui import t
from core import jobs
from pages.train.keys import RESULTS, WATCH_LINK_KEY, K
from pages.train.progress import run_charts, run_status
from pages.train.runs import current_job, manager, run_label, watch_url


def poll_every(job, status: jobs.JobStatus) -> float | None:
    """The `run_every` of a fragment that shows `job` (None: it does not poll)."""
    return jobs.poll_seconds(job.state, status.position, manager().workers)


def intervals(job, status: jobs.JobStatus) -> tuple[float | None, float | None]:
    """The `run_every` of the fragment that draws `job`'s status, and of the one that draws its
    charts (None: it does not poll). When either changes (the run starts, leaves the back of the
    queue, or ends), the status fragment asks for one full run that registers both again."""
    return poll_every(job, status), jobs.chart_poll_seconds(job.state)


def live_tab(owner: str) -> None:
    job = current_job(owner)
    job_id = None if job is None else job.id
    every, charts_every = (None, None) if job is None else intervals(job, manager().status(job))
    st.fragment(run_every=every)(guarded(live_panel))(owner, job_id, every, charts_every)
    st.fragment(run_every=charts_every)(guarded(live_charts))(owner, job_id)


def live_panel(owner: str, job_id: str | None, every: float | None, charts_every: float | None) -> None:
    """`every`, `charts_every`: the polling intervals the two fragments were registered with at
    the last full run."""
    job = manager().get(job_id, owner)
    if job is None:
        st.info(t("train.no_run"), icon="👈")
        return
    status = manager().status(job)
    draw_run(owner, job, status)
    if every is not None and intervals(job, status) != (every, charts_every):
        # Drawn; now over (stop polling) or an interval changed (it left the back of the queue, or
        # it started and its charts now follow it): one full run registers both fragments again
        # at the same places (same elements).
        st.rerun()


def live_charts(owner: str, job_id: str | None) -> None:
    """The run's curves and feature maps, and its watch link (none for a cancelled run or one cut
    off by a restart: nothing to watch)."""
    job = manager().get(job_id, owner)
    if job is None or job.state == jobs.CANCELLED or interrupted(job):
        return
    run_charts(job, job.watch_token)
    watch_link(job)


def interrupted(job: jobs.Job) -> bool:
    """Cut off by a server restart with resume off (core.jobs.manager)."""
    return job.state == jobs.FAILED and getattr(job, "interrupted", False)


def draw_run(owner: str, job: jobs.Job, status: jobs.JobStatus) -> None:
    head, stop_col = st.columns([5, 1], vertical_alignment="center")
    head.markdown(f"#### {md_escape(run_label(job))}")
    if job.state == jobs.QUEUED:
        stop_col.button(t("train.cancel"), icon="✖️", key="train.cancel", width="stretch",
                        on_click=manager().cancel, args=(job.id, owner), help=t("train.cancel_help"))
    elif job.state in (jobs.STARTING, jobs.RUNNING):
        stop_col.button(t("train.stop"), icon="⏹️", key="train.stop", width="stretch",
                        on_click=manager().stop, args=(job.id, owner), help=t("train.stop_help"))
    if job.state == jobs.CANCELLED:
        st.info(t("train.cancelled"), icon="✖️")
        return
    if interrupted(job):
        # Cut off by a server restart with resume off (core.jobs.manager): what happened, and one
        # button that starts it again from the beginning with the same settings (the same run:
        # its private and watch links keep working). Its partial curves are not drawn: starting
        # again replaces them.
        st.warning(t("restart.interrupted"), icon="🔌")
        st.button(t("restart.again"), icon="🔁", key="train.restart", type="primary",
                  on_click=restart_run, args=(job.id, owner), help=t("restart.again_help"))
        return
    run_status(job, status, after_outcome=results_button)


def restart_run(job_id: str, owner: str) -> None:
    """Button callback: queue the interrupted run again (says so when it could not)."""
    if not manager().restart(job_id, owner):
        st.toast(t("restart.again_failed"), icon="⚠️")


def results_button() -> None:
    if st.button(t("train.see_results"), icon="📊", key="train.goto_results"):
        open_tab(K.TAB, RESULTS)
        st.rerun(scope="app")  # the tabs live outside this fragment


def watch_link(job: jobs.Job) -> None:
    """The run's read-only watch link, to share with a friend or put on a projector."""
    with st.container(key=WATCH_LINK_KEY):
        st.caption(t("train.watch_link"))
        st.code(watch_url(job), language=None)


def watcher(owner: str, job_id: str | None, every: float | None) -> None:
    """While a run is active and its live tab is hidden, rerun the page once it ends (the open
    tab, e.g. ③ Results, then shows it). Draws nothing; registered on every run of the page,
    polling at the interval its run had then (not rerunning the whole page when that changes:
    a waiting run's end is seen a few seconds late at most)."""
    if every is None:
        return
    job = manager().get(job_id, owner)
    if job is None or not job.active:
        st.rerun()

