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
from core.lesson.recovery import RecoveryError
from core.lesson.store import LessonError, LessonStore, RosterEntry

_OFF_ROSTER = "app.lesson_off_roster"   # the teacher's workspace id, once taken off the roster


@st.cache_resource(show_spinner=False)
def _store(root: str) -> LessonStore:
    return LessonStore(root)


def store() -> LessonStore:
    """This server's lesson record (one per checkpoint folder; tests switch folders)."""
    return _store(str(checkpoint_dir()))


def class_on() -> bool:
    return settings.teacher_key() is not None


def record_visit() -> None:
    """streamlit_app.py calls this once per run: a visitor of a class is on its roster (the
    teacher is not: see `keep_teacher_off_roster`). A lesson record that cannot be written (a
    full disk) must not take the page down: the roster then misses this visit, and the next run
    tries again."""
    if not class_on() or not session.has_workspace():
        return
    if session.is_teacher():
        keep_teacher_off_roster()
        return
    try:
        store().seen(session.owner())
    except (sqlite3.Error, OSError):
        pass


def keep_teacher_off_roster() -> None:
    """The teacher is not a learner: their workspace leaves the roster once they unlock the
    Class page (it was put there by the visit before the key was typed). Once per session and
    workspace, so the Class page's two-second refresh writes nothing."""
    if not session.is_teacher() or not session.has_workspace():
        return
    owner = session.owner()
    if st.session_state.get(_OFF_ROSTER) == owner:
        return
    try:
        store().forget(owner)
    except (sqlite3.Error, OSError):
        return
    st.session_state[_OFF_ROSTER] = owner


def my_entry() -> RosterEntry | None:
    """This learner's roster entry (nickname, seed, whether a PIN guards it); None without a
    class, for the teacher, or when the lesson record cannot be read."""
    if not class_on() or not session.has_workspace() or session.is_teacher():
        return None
    try:
        return store().seen(session.owner())
    except (sqlite3.Error, OSError):
        return None


def last_nickname() -> str | None:
    """The nickname this workspace used in an earlier lesson (offered again, to confirm)."""
    try:
        return store().last_nickname(session.owner())
    except (sqlite3.Error, OSError):
        return None


def join(nickname: str, pin: str) -> LessonError | None:
    """The learner gives their nickname and PIN (kept on the roster of this workspace, the PIN
    as a salted hash with the workspace's secret sealed by it: core.lesson.store.join). Returns
    the LessonError to say in the learner's language (t("lesson." + e.code, **e.details)), else
    None."""
    try:
        store().join(session.owner(), nickname, pin, session.workspace().secret)
    except LessonError as e:
        return e
    return None


def come_back(nickname: str, code: str, pin: str) -> str:
    """A learner who closed their tab types the class code the teacher shows, their nickname
    and PIN: on a match this session takes their workspace back (its runs and models, as the
    private link would) and their nickname is returned; otherwise RecoveryError (one sentence
    for every wrong part, a growing delay after wrong tries: core.lesson.recovery)."""
    workspace_id, secret = store().recover(nickname, code, pin, session.client())
    left = session.owner() if session.has_workspace() else None
    if not session.adopt_workspace(secret):   # sealed by this server: cannot happen, but never trust
        raise RecoveryError("That nickname, class code and PIN do not match a learner of this lesson.",
                            code="no_match")
    if left is not None and left != workspace_id:
        _drop_if_unused(left)
    entry = store().seen(workspace_id)
    return entry.nickname or ""


def _drop_if_unused(workspace_id: str) -> None:
    """The fresh workspace a returning learner's new tab was given, now left for their own: off
    the roster when it has no nickname and no run (else the teacher sees a ghost learner for
    every closed tab)."""
    entry = store().entry(workspace_id)
    if entry is not None and entry.nickname is None and not session.job_manager().jobs(workspace_id):
        store().forget(workspace_id)


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
