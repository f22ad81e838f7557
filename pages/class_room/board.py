"""The Class page's leaderboard and run controls: stop any run, add a finished one to the gallery."""
from __future__ import annotations

import streamlit as st

from app import session
from app.errors import guarded
from app.ui import lang, t
from core import gallery
from core import jobs as jobs_mod
from core.gallery import GalleryError
from core.workspace import display_name
from pages.class_room.keys import REFRESH_S, K, ss
from pages.class_room.runs import architecture_of, board_frame, clock, find_job, nickname_of


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


