"""The lesson, Streamlit side: the server's one LessonStore, and recording who opened the app.

A class is "on" when the server has a teacher key (core.settings.teacher_key()); then every
visitor with a workspace is put on the lesson's roster (LessonStore.seen, cheap when repeated:
the store writes at most once in a while per learner), so the teacher sees who is here before
anyone presses Start. The store is an SQLite file in the checkpoint folder (core.lesson.store).
"""
from __future__ import annotations

import sqlite3

import streamlit as st

from app import session
from core import settings
from core.checkpoint import checkpoint_dir
from core.lesson.assignments import Assignment
from core.lesson.store import LessonError, LessonStore


@st.cache_resource(show_spinner=False)
def _store(root: str) -> LessonStore:
    return LessonStore(root)


def store() -> LessonStore:
    """This server's lesson record (one per checkpoint folder; tests switch folders)."""
    return _store(str(checkpoint_dir()))


def class_on() -> bool:
    return settings.teacher_key() is not None


def record_visit() -> None:
    """streamlit_app.py calls this once per run: a visitor of a class is on its roster. A lesson
    record that cannot be written (a full disk) must not take the page down: the roster then
    misses this visit, and the next run tries again."""
    if not class_on() or not session.has_workspace():
        return
    try:
        store().seen(session.owner())
    except (sqlite3.Error, OSError):
        pass


def current_assignment() -> Assignment | None:
    """The assignment learners get now (None: no class, or free practice)."""
    if not class_on():
        return None
    try:
        return store().current_assignment()
    except (sqlite3.Error, OSError):
        return None


def record_start(job, nickname: str | None) -> LessonError | None:
    """After Start: the run is recorded for the current assignment (so it counts on the
    leaderboard), and the Train page's nickname becomes the learner's lesson nickname when they
    have none yet. Returns the LessonError when that nickname cannot be used (the page says why
    in its language: t("lesson." + e.code, **e.details)), else None."""
    if not class_on():
        return None
    s, problem = store(), None
    try:
        entry = s.seen(job.owner)
        if nickname and not entry.nickname:
            try:
                s.join(job.owner, nickname, None, None)
            except LessonError as e:   # taken, or no letters: the run still counts, unnamed
                problem = e
        a = s.current_assignment()
        s.record_run(job, a.id if a else None)
    except (sqlite3.Error, OSError):
        return None
    return problem
