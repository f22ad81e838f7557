"""The Class page's lesson header: the class code, the current assignment, a new assignment
(title, brief, dataset, preset or any architecture, bounds, deadline in the teacher's own time
zone) and "new exercise". The rules live in core.lesson (assignments, store)."""
from __future__ import annotations

import datetime as dt

import streamlit as st

from app import lesson
from app.text import md_escape
from app.ui import lang, t
from core.data import DATASETS
from core.lesson.assignments import AssignmentError, make_assignment
from core.lesson.recovery import show_code
from core.lesson.times import date_time, from_local, zone_name
from core.lesson.times import zone as tz_of
from core.models import PRESETS
from pages.class_room.keys import ss

NOTICE = "class.lesson_notice"      # a sentence shown once after setting an assignment
ANY = "__any__"                     # the preset picker's "any architecture"
SOON = "class.lesson_soon"          # the deadline first offered (see _soon)


def _viewer_zone() -> str | None:
    return st.context.timezone


def _pick_current(store, assignments) -> None:
    options = [None] + [a.id for a in assignments]
    titles = {a.id: a.title for a in assignments}
    current = store.lesson().current_assignment
    chosen = st.selectbox(t("lessonui.current"), options, index=options.index(current) if current in options else 0,
                          format_func=lambda i: titles.get(i, "") if i else t("lessonui.free_practice"),
                          help=t("lessonui.current_help"), key=f"class.lesson_current.{lang()}.{current}")
    if chosen != current:
        store.set_current(chosen)
        st.rerun()


def _bound(label: str, key: str, **kw):
    return st.number_input(t(label), value=None, help=t("lessonui.bound_help"), key=f"class.lesson_{key}", **kw)


def _soon(zone: str | None) -> dt.datetime:
    """The deadline the form offers first: an hour from now in the teacher's zone, on the
    quarter hour (today's date there, not the server's). Fixed once per session: a default that
    moved with the clock would make a new widget and drop the teacher's pick."""
    if SOON not in ss:
        soon = dt.datetime.now(tz_of(zone)).replace(second=0, microsecond=0) + dt.timedelta(hours=1)
        ss[SOON] = soon + dt.timedelta(minutes=-soon.minute % 15)
    return ss[SOON]


def _deadline(zone: str | None) -> float | None:
    on = st.checkbox(t("lessonui.a_deadline"), key="class.lesson_has_deadline")
    soon = _soon(zone)
    c1, c2 = st.columns(2)
    day = c1.date_input(t("lessonui.a_deadline_date"), value=soon.date(), key="class.lesson_day", disabled=not on)
    at = c2.time_input(t("lessonui.a_deadline_time", zone=zone_name(zone)), value=soon.time(),
                       key="class.lesson_time", disabled=not on, step=300)
    return from_local(dt.datetime.combine(day, at), zone) if on else None


def _assignment_form(store) -> None:
    zone = _viewer_zone()
    with st.expander(t("lessonui.new_assignment"), icon="📝", expanded=not store.assignments()):
        with st.form("class.lesson_form", border=False):
            title = st.text_input(t("lessonui.a_title"), placeholder=t("lessonui.a_title_placeholder"),
                                  max_chars=80, key="class.lesson_title")
            brief = st.text_area(t("lessonui.a_brief"), placeholder=t("lessonui.a_brief_placeholder"),
                                 max_chars=1200, key="class.lesson_brief")
            c1, c2 = st.columns(2)
            dataset = c1.selectbox(t("lessonui.a_dataset"), list(DATASETS), key="class.lesson_dataset",
                                   format_func=lambda n: DATASETS[n].title)
            preset = c2.selectbox(t("lessonui.a_preset"), [ANY, *PRESETS], key="class.lesson_preset",
                                  format_func=lambda p, any_label=t("lessonui.any_architecture"):
                                  any_label if p == ANY else p)  # the label in today's language, not the caller's
            b1, b2, b3, b4 = st.columns(4)
            with b1:
                epochs = _bound("lessonui.a_epochs", "epochs", min_value=1, max_value=100, step=1)
            with b2:
                share = _bound("lessonui.a_share", "share", min_value=1, max_value=100, step=5)
            with b3:
                params = _bound("lessonui.a_params", "params", min_value=1, step=1000)
            with b4:
                madds = _bound("lessonui.a_madds", "madds", min_value=1, step=100000)
            deadline = _deadline(zone)
            if st.form_submit_button(t("lessonui.a_create"), icon="📌", type="primary"):
                try:
                    a = make_assignment(title, brief, dataset, None if preset == ANY else preset,
                                        max_epochs=epochs, max_data_share=None if share is None else share / 100,
                                        max_params=params, max_madds=madds, deadline=deadline)
                except AssignmentError as e:
                    st.error(str(e))
                else:
                    store.add_assignment(a)
                    ss[NOTICE] = t("lessonui.created", title=md_escape(a.title))
                    st.rerun()


def _new_round(store) -> None:
    store.new_round()
    ss[NOTICE] = t("lessonui.new_round_done")


def assignments_panel() -> None:
    """The lesson header of the Class page (teacher already checked by the page)."""
    store = lesson.store()
    st.subheader(t("lessonui.title"))
    c1, c2, c3 = st.columns([1, 3, 1], vertical_alignment="bottom")
    c1.metric(t("lessonui.class_code"), show_code(store.lesson().code), help=t("lessonui.class_code_help"))
    with c2:
        _pick_current(store, store.assignments())
    c3.button(t("lessonui.new_round"), icon="🔁", help=t("lessonui.new_round_help"), key="class.lesson_round",
              on_click=_new_round, args=(store,), width="stretch")
    current = store.current_assignment()
    if current is not None and current.deadline is not None:
        st.caption(t("lessonui.assignment_deadline", time=date_time(current.deadline, _viewer_zone())))
    notice = ss.pop(NOTICE, None)
    if notice:
        st.success(notice)
    _assignment_form(store)
