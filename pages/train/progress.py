"""Where a run stands (queue, progress, outcome) and its charts (curves, feature maps); shared by
the owner's live tab and the read-only watch view: nothing here changes the run. The two parts are
drawn by two fragments polled at their own pace (core.jobs.polling: the status every second, the
charts every few seconds)."""
from __future__ import annotations

import streamlit as st

from app.format import duration, ordinal, pct, when
from app.ui import lang, t
from core import jobs, live_payload
from core.figures import PLOT_CONFIG
from pages.train.maps import feature_maps


def starts_when(status: jobs.JobStatus) -> str:
    """When a waiting run starts: "about 40 s (around 10:31)", or "any moment now" once the
    estimated start has come (the runs ahead are in their last seconds, or slower than thought)."""
    if status.seconds_to_start is not None and status.seconds_to_start < 1:
        return t("live.any_moment")
    return when(status.seconds_to_start, status.start_at)


def run_status(job, status: jobs.JobStatus, after_outcome=None) -> None:
    """The run's queue place, progress line or outcome (`after_outcome` draws below an outcome)."""
    p = job.progress()
    if job.state == jobs.QUEUED:
        st.info(t("train.queued", pos=ordinal(status.position), waiting=status.waiting,
                  start=starts_when(status),
                  finish=when(status.seconds_to_finish, status.finish_at)), icon="🕒")
        st.caption(t("train.queued_hint"))
        return
    if job.state == jobs.STARTING or (job.state == jobs.RUNNING and p.total_steps == 0):
        st.progress(0.0, text=t("train.preparing"))
    elif job.state == jobs.RUNNING and p.step == 0:
        st.progress(0.0, text=t("train.first_steps", steps=f"{p.total_steps:,}"))
    elif job.state == jobs.RUNNING and p.steps_done:
        st.progress(1.0, text=t("train.final_test", total=f"{p.total_steps:,}"))  # no "0 s left" while testing
    elif job.state == jobs.RUNNING:
        st.progress(p.fraction, text=t("train.progress", epoch=p.epoch, epochs=p.epochs, step=f"{p.step:,}",
                                       total=f"{p.total_steps:,}",
                                       ips="…" if p.images_per_second is None else f"{p.images_per_second:,.0f}",
                                       left=duration(p.seconds_left)))
    elif job.state in (jobs.STOPPING, jobs.STOPPED):
        st.progress(p.fraction, text=t("train.stopping", step=f"{p.step:,}"))
        teacher_stopped(job)
        st.info(t("train.stopped_evaluating"), icon="⏳")
    elif job.state == jobs.FAILED:
        # An unexpected exception is in the server log under an id; the learner gets the id only.
        st.error(t("train.failed_id", id=job.error_id) if getattr(job, "error_id", None)
                 else t("train.failed", reason=job.error), icon="💥")
    elif job.state == jobs.CANCELLED:
        st.info(t("train.cancelled"), icon="✖️")
        return
    else:
        m = job.metrics()
        teacher_stopped(job)
        key = "train.finished_stopped" if job.stopped else "train.finished"
        st.success(t(key, acc=pct(m.get("test_accuracy"), 2), steps=f"{m.get('steps', 0):,}",
                     time=duration(m.get("train_seconds"))), icon="🎉")
        if after_outcome is not None:
            after_outcome()


def has_charts(job) -> bool:
    """A run has curves and feature maps to show once it has started, unless it was cancelled
    (then it never trained)."""
    return job.state not in (jobs.QUEUED, jobs.CANCELLED)


def run_charts(job, run: str) -> None:
    """The run's loss and accuracy curves and its probe's feature maps (nothing before it starts).
    `run`: the run's watch token, the key of its shared figures (core.live_payload)."""
    if not has_charts(job):
        return
    loss, acc = live_payload.curve_figures(run, job.events(), job.progress().total_steps, lang(), t,
                                           live=job.active)
    left, right = st.columns(2)
    left.plotly_chart(loss, config=PLOT_CONFIG, key="train.loss_chart")
    right.plotly_chart(acc, config=PLOT_CONFIG, key="train.acc_chart")
    feature_maps(job, run)


def teacher_stopped(job) -> None:
    """One sentence when the teacher (Class page), not the learner, stopped the run."""
    if job.stopped_by_teacher:
        st.info(t("live.teacher_stopped"), icon="✋")
