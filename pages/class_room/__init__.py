"""Class: the teacher's view of every run on this server, and the class gallery.

Listed in the navigation only when the server was started with $CNN_LAB_TEACHER_KEY, and locked
until this session types that key (app.session.unlock_teacher). The leaderboard is
core.jobs.JobManager.board() redrawn by a fragment every two seconds; the teacher can stop any run
and add a finished run's model to the class gallery (core.gallery), and feature or remove entries.
Run ids are learners' keys to their runs, so they never reach the browser: runs are named by their
number on the server and visitors (clients) by this page's number for them, in labels and widget
keys alike. The teacher can clear a flood (every waiting run, or everything of one visitor) and
raise the per-network budgets for a lesson (budgets.py).
"""
from __future__ import annotations

import math

import streamlit as st

from app import session
from app.ui import t
from pages.class_room.board import board_panel
from pages.class_room.budgets import budgets_panel
from pages.class_room.gallery_panel import gallery_panel
from pages.class_room.keys import K, ss
from pages.class_room.lesson_assignments import assignments_panel  # lesson (issue 24)
from pages.class_room.lesson_export import export_panel
from pages.class_room.lesson_roster import roster_panel
from pages.class_room.projector import projector_link, projector_page, wanted as projector_wanted


def unlock_form() -> None:
    st.write(t("class.locked_intro"))
    wait = session.teacher_wait_s()
    if wait > 0:  # after wrong keys: not even compared until the lockout ends (core.teacher_gate)
        st.warning(t("link.teacher_locked", seconds=math.ceil(wait)), icon="⏳")
    with st.form("class.unlock_form", border=False):
        attempt = st.text_input(t("class.key_label"), type="password", key=K.KEY)
        if st.form_submit_button(t("class.unlock"), icon="🔓", type="primary"):
            if session.unlock_teacher(attempt):
                ss.pop(K.KEY, None)
                st.rerun()
            wait = session.teacher_wait_s()
            if wait > 0:
                st.error(t("link.teacher_locked", seconds=math.ceil(wait)))
            else:
                st.error(t("class.wrong_key"))



def render() -> None:
    st.title(t("class.title"))
    if not session.is_teacher():
        unlock_form()
        return
    if projector_wanted():  # lesson (issue 24): ?view=projector, the shared screen
        projector_page()
        return
    assignments_panel()
    projector_link()
    roster_panel()
    st.divider()
    st.caption(t("class.intro"))
    budgets_panel()
    board_panel()
    st.divider()
    gallery_panel()
    st.divider()
    export_panel()
