"""The Class page's roster: one row per learner who opened the app in this lesson, where they
stand (core.lesson.roster), redrawn every two seconds. The teacher may sort it and open any
learner's newest run through its watch link; workspace ids and run ids never reach the browser
(a watch token does, on this teacher-only page, inside the link)."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from app import lesson, session
from app.errors import guarded
from app.session import WATCH_PARAM
from app.ui import option_labels, t
from core.lesson.roster import SORT_KEYS, sort_roster
from core.lesson.times import clock_time
from core.lesson.views import class_roster, sync_runs, watch_token_of
from pages.class_room.keys import REFRESH_S, ss

SORT = "class.roster_sort"
DESCENDING = "class.roster_descending"
LOCKS_NOTICE, LOCKS_LIFTED = "class.locks_notice", "class.locks_lifted"


def _app_base() -> str:
    """The app's address without the page path or query ("" when unknown: links stay relative)."""
    url = (st.context.url or "").split("?")[0].rstrip("/")
    return url.removesuffix("/class")


def _watch_link(manager, workspace_id: str) -> str:
    """The learner's newest run's watch link; "" (a blank cell: the table would show a missing
    link as "None") for a learner without a run."""
    token = watch_token_of(manager, workspace_id)
    return f"{_app_base()}/train?{WATCH_PARAM}={token}" if token else ""


def roster_frame(rows, manager, zone: str | None) -> pd.DataFrame:
    return pd.DataFrame({
        "nickname": [r.nickname or t("lessonui.no_nickname") for r in rows],
        "state": [t("lesson.state_" + r.state) for r in rows],
        "detail": [r.detail(t) for r in rows],
        "seed": [r.seed for r in rows],
        "seen": [clock_time(r.last_seen, zone) for r in rows],
        "watch": [_watch_link(manager, r.workspace_id) for r in rows],
    })


def roster_table() -> None:
    """The fragment's body: record new runs, then draw the table."""
    if not session.is_teacher():
        return
    lesson.keep_teacher_off_roster()   # the teacher is no learner (also when the key came this run)
    store, manager = lesson.store(), session.job_manager()
    sync_runs(store, manager)
    rows = sort_roster(class_roster(store, manager), ss.get(SORT, "state"), bool(ss.get(DESCENDING)))
    if not rows:
        st.info(t("lessonui.roster_empty"))
        return
    st.dataframe(roster_frame(rows, manager, st.context.timezone), hide_index=True, width="stretch",
                 column_config={
                     "nickname": st.column_config.TextColumn(t("lessonui.col_nickname")),
                     "state": st.column_config.TextColumn(t("lessonui.col_state")),
                     "detail": st.column_config.TextColumn(t("lessonui.col_detail"), width="medium"),
                     "seed": st.column_config.NumberColumn(t("lessonui.col_seed"), format="%d", width=100),
                     "seen": st.column_config.TextColumn(t("lessonui.col_seen")),
                     "watch": st.column_config.LinkColumn(t("lessonui.col_watch"), display_text=t("lessonui.watch"), width="small"),
                 })


def roster_panel() -> None:
    st.subheader(t("lessonui.roster"))
    st.caption(t("lessonui.roster_caption"))
    c1, c2 = st.columns([1, 1], vertical_alignment="bottom")
    c1.selectbox(t("lessonui.sort_by"), SORT_KEYS, index=SORT_KEYS.index("state"), key=SORT,
                 format_func=option_labels("lessonui.sort_"))
    c2.toggle(t("lessonui.descending"), key=DESCENDING)
    st.fragment(run_every=REFRESH_S)(guarded(roster_table))()
    lockouts()


def lockouts() -> None:
    """Wrong PINs lock a nickname (and a network) out of "come back with the class code"; the
    sentence a locked learner sees says "ask the teacher": this is the teacher's answer."""
    store = lesson.store()
    if ss.pop(LOCKS_NOTICE, None) is not None:
        st.success(t("lessonui.lockouts_cleared", n=ss.get(LOCKS_LIFTED, 0)))
    locked = store.locked_out()
    if not locked:
        return
    c1, c2 = st.columns([3, 1], vertical_alignment="center")
    c1.warning(t("lessonui.lockouts", n=locked))
    if c2.button(t("lessonui.clear_lockouts"), key="class.clear_lockouts", icon="🔓"):
        ss[LOCKS_LIFTED], ss[LOCKS_NOTICE] = store.clear_lockouts(), True
        st.rerun()
