"""The Class page's leaderboard and run controls: stop any run, clear a flood (every waiting run,
or everything of one visitor), add a finished run to the gallery.

Runs are picked by their number on the server (BoardRow.serial) and visitors by this page's
number for them: neither a run id nor a client id ever reaches the teacher's browser, not even
in a widget key (keys.py)."""
from __future__ import annotations

import streamlit as st

from app import session
from app.errors import guarded
from app.ui import lang, t
from core import jobs as jobs_mod
from pages.class_room.actions import add_to_gallery, stop_run, stop_visitor, stop_waiting
from pages.class_room.keys import REFRESH_S, K, ss
from pages.class_room.runs import board_frame, find_job, nickname_of, run_label, visitor_numbers


def clear_flood(manager: jobs_mod.JobManager, rows: list[jobs_mod.BoardRow]) -> None:
    """Stop every waiting run, or everything of one visitor (one network: all its tabs and
    workspaces), e.g. after one person started dozens of runs."""
    st.subheader(t("class.flood_title"))
    notice = ss.pop(K.FLOOD_NOTICE, None)
    if notice:
        st.success(notice, icon="✋")
    numbers = visitor_numbers(rows)
    active: dict[int, int] = {}
    for r in rows:
        if r.state in jobs_mod.ACTIVE_STATES and r.client in numbers:
            active[numbers[r.client]] = active.get(numbers[r.client], 0) + 1
    waiting = sum(r.state == jobs_mod.QUEUED for r in rows)
    c1, c2, c3 = st.columns([2, 2, 2], vertical_alignment="bottom")
    c1.button(t("class.stop_waiting", n=waiting), icon="⏹️", disabled=not waiting, width="stretch",
              key="class.stop_waiting", help=t("class.stop_waiting_help"), on_click=guarded(stop_waiting))
    if not active:
        c2.caption(t("class.no_active_visitors"))
        return
    # Most runs first; the label is only "visitor N" (it must not change while runs come and go,
    # see manage_run); the count is on the button.
    options = sorted(active, key=lambda n: (-active[n], n))
    chosen = ss.get(K.VISITOR)
    number = c2.selectbox(t("class.pick_visitor"), options, format_func=lambda n: t("class.visitor", n=n),
                          index=options.index(chosen) if chosen in options else 0,
                          key=K.visitor_picker(lang()), help=t("class.pick_visitor_help"))
    ss[K.VISITOR] = number
    c3.button(t("class.stop_visitor", n=active.get(number, 0), visitor=t("class.visitor", n=number)),
              icon="🚫", width="stretch", key="class.stop_visitor", on_click=guarded(stop_visitor), args=(number,))


def manage_run(manager: jobs_mod.JobManager, rows: list[jobs_mod.BoardRow]) -> None:
    st.subheader(t("class.manage_title"))
    by_serial = {r.serial: r for r in rows}
    # Labels that do not change while a run goes (no status), and unique (the run's number on
    # the server): Streamlit keeps a selectbox's choice by its label, so a changing label would
    # leave a stale one on screen, and two equal labels would pick the wrong twin. The widget's
    # key carries the language for the same reason; the choice itself is kept in K.RUN.
    labels = {r.serial: run_label(r) for r in rows}
    options = list(by_serial)
    chosen = ss.get(K.RUN)
    serial = st.selectbox(t("class.pick_run"), options=options, format_func=labels.get,
                          index=options.index(chosen) if chosen in by_serial else 0, key=K.picker(lang()))
    ss[K.RUN] = serial
    job, row = find_job(manager, serial), by_serial.get(serial)
    if job is None or row is None:
        st.info(t("class.gone"))
        return
    c1, c2 = st.columns([1, 2], vertical_alignment="bottom")
    c1.button(t("class.stop"), icon="✋", disabled=not job.active, help=t("class.stop_help"),
              key="class.stop", width="stretch", on_click=guarded(stop_run), args=(serial, nickname_of(row)))
    with c2:
        if serial in ss.get(K.PUBLISHED, {}):
            st.success(t("class.already_in_gallery"), icon="🖼️")
        elif job.state == jobs_mod.FAILED or (job.state == jobs_mod.FINISHED and job.model is None):
            st.caption(t("class.failed_note"))
        elif job.state != jobs_mod.FINISHED:
            st.caption(t("class.not_finished"))
        else:
            ss.setdefault(K.nickname(serial), job.nickname or "")
            g1, g2 = st.columns([3, 2], vertical_alignment="bottom")
            g1.text_input(t("class.gallery_nickname"), key=K.nickname(serial), max_chars=24)
            g2.button(t("class.add_to_gallery"), icon="🖼️", key="class.add", width="stretch",
                      on_click=guarded(add_to_gallery), args=(serial,))
    # Callbacks leave their sentence here (elements drawn inside a fragment's callback would
    # land at the top of the app); it stays while this run is the one picked.
    message = ss.get(K.MESSAGE)
    if message and message[0] == serial:
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
    clear_flood(manager, rows)
