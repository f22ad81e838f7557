"""Class: the teacher's view of every run on this server, and the class gallery.

Listed in the navigation only when the server was started with $CNN_LAB_TEACHER_KEY, and locked
until this session types that key (app.session.unlock_teacher). The leaderboard is
core.jobs.JobManager.board() redrawn by a fragment every two seconds; the teacher can stop any run
and add a finished run's model to the class gallery (core.gallery), and feature or remove entries.
Run ids are learners' keys to their runs, so they never reach the browser: the run picker's
values stay on the server and only their labels are sent.
"""
from __future__ import annotations

import math
import time

import pandas as pd
import streamlit as st

from app import session
from app.errors import guarded
from app.shell import ensure_app_shell
from app.ui import lang, t
from core import gallery
from core import jobs as jobs_mod
from core.data import DATASETS
from core.durations import duration_parts
from core.gallery import GalleryError
from core.workspace import display_name

ensure_app_shell()


class K:
    """This page's session-state keys ("class.<name>"; the convention is in app/state.py)."""
    KEY = "class.key"
    RUN = "class.run"                    # the run picked in "Manage a run" (a job id)
    PUBLISHED = "class.published"        # {job id: gallery entry id} added from this page
    MESSAGE = "class.message"            # (job id, "success" | "error", sentence) kept across refreshes
    GALLERY_NOTICE = "class.gallery_notice"  # a sentence shown once in the gallery panel

    @staticmethod
    def picker(language: str) -> str:
        return f"class.run_picker.{language}"

    @staticmethod
    def nickname(job_id: str) -> str:
        return f"class.gallery_nickname.{job_id}"


ss = st.session_state
REFRESH_S = 2.0


# --------------------------------------------------------------------------- formatting

def pct(x: float | None) -> str:
    return "—" if x is None or not math.isfinite(x) else f"{100 * x:.1f}%"


def fmt_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    unit, values = duration_parts(seconds)
    return t(f"class.time_{unit}", **values)


def nickname_of(row) -> str:
    """The learner's nickname, cleaned of markup (it is shown in sentences rendered as Markdown)."""
    return display_name(row.nickname, fallback="") or t("class.anonymous")


def architecture_of(row) -> str:
    return t("class.custom") if row.architecture == "custom" else row.architecture


def settings_text(settings: dict) -> str:
    dataset = DATASETS[settings["dataset"]].title if settings.get("dataset") in DATASETS else "?"
    return t("class.settings", epochs=settings.get("epochs"), batch_size=settings.get("batch_size"),
             lr=f"{float(settings.get('lr', 0)):g}", optimizer=settings.get("optimizer"),
             percent=f"{100 * float(settings.get('fraction', 1)):g}", dataset=dataset)


def clock(wall: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(wall))


def board_frame(rows: list[jobs_mod.BoardRow]) -> pd.DataFrame:
    return pd.DataFrame({
        t("class.col_started"): [clock(r.created) for r in rows],
        t("class.col_nickname"): [nickname_of(r) for r in rows],
        t("class.col_architecture"): [architecture_of(r) for r in rows],
        t("class.col_settings"): [settings_text(r.settings) for r in rows],
        t("class.col_status"): [t(f"class.state_{r.state}") for r in rows],
        t("class.col_position"): [str(r.position) if r.position else "" for r in rows],
        t("class.col_accuracy"): [pct(r.accuracy) for r in rows],
        t("class.col_progress"): [round(100 * float(r.progress)) for r in rows],
        t("class.col_finish"): [fmt_seconds(r.seconds_to_finish) if r.state in jobs_mod.ACTIVE_STATES
                                else "—" for r in rows],
    })


# --------------------------------------------------------------------------- locked

def unlock_form() -> None:
    st.write(t("class.locked_intro"))
    with st.form("class.unlock_form", border=False):
        attempt = st.text_input(t("class.key_label"), type="password", key=K.KEY)
        if st.form_submit_button(t("class.unlock"), icon="🔓", type="primary"):
            if session.unlock_teacher(attempt):
                ss.pop(K.KEY, None)
                st.rerun()
            st.error(t("class.wrong_key"))


# --------------------------------------------------------------------------- the board

def find_job(manager: jobs_mod.JobManager, job_id: str | None) -> jobs_mod.Job | None:
    return next((j for j in manager.all_jobs() if j.id == job_id), None)


def stop_run(job_id: str, nickname: str) -> None:
    """Button callback (runs before the redraw, so the board shows the new state at once)."""
    if session.is_teacher() and session.job_manager().teacher_stop(job_id):
        ss[K.MESSAGE] = (job_id, "success", t("class.stopped_toast", nickname=nickname))


def add_to_gallery(job_id: str) -> None:
    """Button callback: copy a finished run's model into the class gallery."""
    job = find_job(session.job_manager(), job_id)
    if not session.is_teacher() or job is None or job.model is None:
        return
    nickname = ss.get(K.nickname(job_id), "")
    try:
        name = f"{display_name(nickname)} · {job.preset or t('class.custom')}"
        entry = gallery.publish(job.model, job.checkpoint_metadata(name), nickname, publisher=gallery.TEACHER)
    except GalleryError as e:
        known = e.code in ("no_nickname", "full", "own_full", "no_entry")
        ss[K.MESSAGE] = (job_id, "error", t(f"class.gallery_err_{e.code}", **e.details) if known
                         else t("class.gallery_err_other", reason=str(e)))
    else:
        ss.setdefault(K.PUBLISHED, {})[job_id] = entry.id
        ss[K.MESSAGE] = (job_id, "success", t("class.added_toast", nickname=entry.nickname))


def manage_run(manager: jobs_mod.JobManager, rows: list[jobs_mod.BoardRow]) -> None:
    st.subheader(t("class.manage_title"))
    by_id = {r.job_id: r for r in rows}
    # Labels that do not change while a run goes (no status): Streamlit keeps a selectbox's
    # choice by its label, so a changing label would leave a stale one on screen. The widget's
    # key carries the language for the same reason; the choice itself is kept in K.RUN.
    labels = {r.job_id: t("class.run_label", nickname=nickname_of(r), architecture=architecture_of(r),
                          time=clock(r.created)) for r in rows}
    options = list(by_id)
    chosen = ss.get(K.RUN)
    job_id = st.selectbox(t("class.pick_run"), options=options, format_func=labels.get,
                          index=options.index(chosen) if chosen in by_id else 0, key=K.picker(lang()))
    ss[K.RUN] = job_id
    job, row = find_job(manager, job_id), by_id.get(job_id)
    if job is None or row is None:
        st.info(t("class.gone"))
        return
    c1, c2 = st.columns([1, 2], vertical_alignment="bottom")
    c1.button(t("class.stop"), icon="✋", disabled=not job.active, help=t("class.stop_help"),
              key="class.stop", width="stretch", on_click=guarded(stop_run), args=(job.id, nickname_of(row)))
    with c2:
        if job.id in ss.get(K.PUBLISHED, {}):
            st.success(t("class.already_in_gallery"), icon="🖼️")
        elif job.state == jobs_mod.FAILED or (job.state == jobs_mod.FINISHED and job.model is None):
            st.caption(t("class.failed_note"))
        elif job.state != jobs_mod.FINISHED:
            st.caption(t("class.not_finished"))
        else:
            ss.setdefault(K.nickname(job.id), job.nickname or "")
            g1, g2 = st.columns([3, 2], vertical_alignment="bottom")
            g1.text_input(t("class.gallery_nickname"), key=K.nickname(job.id), max_chars=24)
            g2.button(t("class.add_to_gallery"), icon="🖼️", key="class.add", width="stretch",
                      on_click=guarded(add_to_gallery), args=(job.id,))
    # Callbacks leave their sentence here (elements drawn inside a fragment's callback would
    # land at the top of the app); it stays while this run is the one picked.
    message = ss.get(K.MESSAGE)
    if message and message[0] == job.id:
        (st.success if message[1] == "success" else st.error)(message[2])


@st.fragment(run_every=REFRESH_S)
@guarded
def board_panel() -> None:
    """The leaderboard and the run controls, redrawn every REFRESH_S seconds."""
    if not session.is_teacher():
        return
    manager = session.job_manager()
    rows = manager.board()
    states = [r.state for r in rows]
    m = st.columns(4)
    m[0].metric(t("class.training_now"), sum(s in jobs_mod.TRAINING_STATES for s in states))
    m[1].metric(t("class.waiting"), states.count(jobs_mod.QUEUED))
    m[2].metric(t("class.finished"), states.count(jobs_mod.FINISHED))
    m[3].metric(t("class.workers"), manager.workers)
    if not rows:
        st.info(t("class.no_runs"), icon="🪑")
        return
    st.dataframe(board_frame(rows), hide_index=True, width="stretch", column_config={
        t("class.col_progress"): st.column_config.ProgressColumn(min_value=0, max_value=100, format="%d%%"),
        t("class.col_accuracy"): st.column_config.TextColumn(help=t("class.accuracy_help")),
    })
    manage_run(manager, rows)


# --------------------------------------------------------------------------- the gallery

def set_featured(entry_id: str, featured: bool) -> None:
    if session.is_teacher():
        gallery.set_featured(entry_id, featured)


def remove_entry(entry: gallery.GalleryEntry) -> None:
    if session.is_teacher():
        gallery.remove(entry.id)  # publisher=None: the teacher may remove any entry
        ss[K.PUBLISHED] = {j: e for j, e in ss.get(K.PUBLISHED, {}).items() if e != entry.id}
        ss[K.GALLERY_NOTICE] = t("class.removed_toast", nickname=entry.nickname)


@st.fragment(run_every=REFRESH_S * 3)
@guarded
def gallery_panel() -> None:
    if not session.is_teacher():
        return
    st.subheader(t("class.gallery_title"))
    st.caption(t("class.gallery_intro"))
    notice = ss.pop(K.GALLERY_NOTICE, None)
    if notice:
        st.success(notice, icon="🗑️")
    entries = gallery.list_entries()
    if not entries:
        st.info(t("class.gallery_empty"), icon="🖼️")
        return
    for entry in entries:
        with st.container(border=True):
            c1, c2, c3 = st.columns([6, 1.3, 1.3], vertical_alignment="center")
            c1.markdown(t("class.gallery_entry", star="⭐ " if entry.featured else "", nickname=entry.nickname,
                          name=entry.name, architecture=t("class.custom") if entry.architecture == "custom"
                          else entry.architecture, accuracy=pct(entry.test_accuracy)))
            c2.button(t("class.unfeature") if entry.featured else t("class.feature"),
                      icon="⭐", key=f"class.feature.{entry.id}", width="stretch",
                      on_click=guarded(set_featured), args=(entry.id, not entry.featured))
            c3.button(t("class.remove"), icon="🗑️", key=f"class.remove.{entry.id}", width="stretch",
                      on_click=guarded(remove_entry), args=(entry,))


# --------------------------------------------------------------------------- page

st.title(t("class.title"))
if not session.is_teacher():
    unlock_form()
    st.stop()
st.caption(t("class.intro"))
board_panel()
st.divider()
gallery_panel()
