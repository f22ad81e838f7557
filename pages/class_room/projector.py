"""?view=projector on the Class page: what the shared screen shows — the current assignment's
brief in big type, the class code, the leaderboard and the live race of validation accuracy —
redrawn every two seconds. Built from core.lesson.views.projector_view, which holds nicknames,
figures, the brief and the class code only: nothing here can reveal a private or watch link, a
run id or a workspace. Teacher and learner text is escaped and shown as text, never markdown."""
from __future__ import annotations

from html import escape

import pandas as pd
import streamlit as st

from app import lesson, session
from app.errors import guarded
from app.ui import t
from core.figures.race import race_figure
from core.lesson.times import date_time, zone
from core.lesson.views import projector_view, sync_runs
from pages.class_room.keys import REFRESH_S

VIEW_PARAM, PROJECTOR = "view", "projector"


def wanted() -> bool:
    return st.query_params.get(VIEW_PARAM) == PROJECTOR


def _big(text: str, size: str, weight: int = 400, key: str = "") -> None:
    """Plain text in projector-sized type (escaped: a brief is never markup)."""
    st.html(f'<div class="cnn-projector-{key}" style="font-size:{size};font-weight:{weight};line-height:1.3">'
            f"{escape(text)}</div>")


def leader_frame(view) -> pd.DataFrame:
    return pd.DataFrame({
        t("lessonui.lb_rank"): [r.rank for r in view.leaders],
        t("lessonui.lb_nickname"): [("★ " if r.featured else "") + r.nickname for r in view.leaders],
        t("lessonui.lb_accuracy"): [f"{100 * r.accuracy:.2f} %" for r in view.leaders],
        t("lessonui.lb_params"): [f"{r.params:,}" if r.params is not None else "–" for r in view.leaders],
        t("lessonui.lb_architecture"): [r.architecture for r in view.leaders],
        t("lessonui.lb_epochs"): [r.epochs for r in view.leaders],
    })


def projector_body() -> None:
    if not session.is_teacher():
        return
    store, manager = lesson.store(), session.job_manager()
    sync_runs(store, manager)   # results of runs that ended since the last redraw
    view = projector_view(store, manager)
    tz = st.context.timezone
    head, code = st.columns([4, 1], vertical_alignment="top")
    with head:
        if view.title:
            _big(view.title, "2.6rem", 700, "title")
            _big(view.brief, "1.7rem", key="brief")
        else:
            _big(t("lessonui.no_assignment"), "1.7rem", key="brief")
        if view.deadline is not None:
            _big(t("lessonui.deadline_at", time=date_time(view.deadline, tz)), "1.4rem", key="deadline")
    with code:
        st.metric(t("lessonui.class_code"), view.class_code)
    board, race = st.columns([2, 3])
    with board:
        if view.leaders:
            st.dataframe(leader_frame(view), hide_index=True, width="stretch")
        elif view.title:
            st.caption(t("lessonui.lb_empty"))
    with race:
        if not view.lines:   # an empty chart's bare axes would look broken on the big screen
            _big(t("lessonui.race_waiting"), "1.4rem", key="race-waiting")
            return
        st.plotly_chart(race_figure(view.lines, t, tz=zone(tz)), width="stretch", key="class.projector_race",
                        config={"displayModeBar": False})


def projector_page() -> None:
    """The whole view (the page checked the teacher key before calling this)."""
    if st.button(t("lessonui.projector_back"), icon="⬅️", type="tertiary", key="class.projector_back"):
        st.query_params.pop(VIEW_PARAM, None)
        st.rerun()
    st.fragment(run_every=REFRESH_S)(guarded(projector_body))()


def projector_link() -> None:
    """The Class page's button that opens the projector view (same session: the key holds)."""
    if st.button(t("lessonui.projector_open"), icon="📽️", help=t("lessonui.projector_help"),
                 key="class.projector_open"):
        st.query_params[VIEW_PARAM] = PROJECTOR
        st.rerun()
