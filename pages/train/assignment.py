"""The Train page under a lesson's assignment: its brief at the top of ① Set up, and every
choice outside its bounds (core.lesson.assignments.check_config) as a reason Start is disabled.
Without a class (no teacher key) or with no current assignment, nothing shows."""
from __future__ import annotations

from html import escape

import streamlit as st

from app import lesson
from app.ui import lang, t
from core.lesson.assignments import check_config
from core.lesson.times import date_time
from core.train_config import TrainConfig


def assignment_brief() -> None:
    """The current assignment's title, brief (as text: the teacher's words are never markup)
    and deadline, in a box at the top of the set-up tab."""
    a = lesson.current_assignment()
    if a is None:
        return
    with st.container(border=True, key="train-assignment"):
        st.html(f'<div style="font-size:1.15rem;font-weight:600">📌 '
                f'{escape(t("lessonui.assignment_title", title=a.title))}</div>')
        if a.brief:
            st.html(f"<div>{escape(a.brief)}</div>")
        if a.deadline is not None:
            st.caption(t("lessonui.assignment_deadline", time=date_time(a.deadline, st.context.timezone)))


def assignment_problems(config: TrainConfig | None, num_classes: int = 10) -> list[str]:
    """Why this form does not fit the assignment, one sentence each in the learner's language
    ([] when it fits, or without an assignment). A config that cannot be built yet is checked
    by the form itself."""
    a = lesson.current_assignment()
    if a is None or config is None:
        return []
    return [v.sentence(lang()) for v in check_config(a, config, num_classes=num_classes)]
