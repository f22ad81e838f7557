"""A learner's two forms in a class (teacher key set): the nickname + PIN they give once per
workspace, and the way back to their runs with the class code after a closed tab.

Why here (app/, not one page): the join form sits at the top of the Train page's set-up, where a
learner is before they press Start; the come-back form sits there too (a learner who closed the
tab opens Train again and sees "Been here before?") and in the sidebar, so a learner who lands on
any other page finds it as well. Both are drawn from these functions with a key prefix each.

The rules live in core.lesson (store.join: a cleaned, unique nickname and a PIN hash;
store.recover: one answer for every wrong part and a growing delay). What the learner typed is
text: a nickname reaches the page through md_escape, or through a widget's value.
"""
from __future__ import annotations

import math
import sqlite3

import streamlit as st

from app import lesson
from app.text import md_escape
from app.ui import t
from core.jobs import MAX_NICKNAME
from core.lesson.recovery import RecoveryError, valid_pin
from core.lesson.store import LessonError

NOTICE = "app.lesson_notice"   # a sentence shown once after the page reruns (joined, came back)


def refusal(e: LessonError | RecoveryError) -> str:
    """The one sentence a refused join or come-back says, in the learner's language."""
    if isinstance(e, RecoveryError):
        seconds = math.ceil(e.wait_s)
        if e.code == "locked":
            return t("lesson.recover_locked", seconds=seconds)
        return t("learner.recover_no_match_wait", seconds=seconds) if seconds > 0 else t("lesson.recover_no_match")
    return t("lesson." + e.code, **e.details)


def show_notice() -> None:
    """The sentence kept by a form that reran the page (as a toast: it is seen on any page)."""
    notice = st.session_state.pop(NOTICE, None)
    if notice:
        st.toast(notice, icon="🎒")


def join_form(prefix: str, nickname: str = "") -> bool:
    """Nickname + PIN; True when the learner joined in this run (the caller reruns)."""
    with st.form(f"{prefix}.join", border=False):
        c1, c2, c3 = st.columns([2, 1, 1], vertical_alignment="bottom")
        nick = c1.text_input(t("learner.nickname"), value=nickname, max_chars=MAX_NICKNAME, key=f"{prefix}.nickname",
                             placeholder=t("learner.nickname_placeholder"))
        pin = c2.text_input(t("learner.pin"), type="password", max_chars=8, key=f"{prefix}.pin",
                            help=t("learner.pin_help"))
        sent = c3.form_submit_button(t("learner.join"), type="primary", icon="🙋", width="stretch")
    if not sent:
        return False
    if not valid_pin(pin):
        st.error(t("lesson.bad_pin"))
        return False
    try:
        problem = lesson.join(nick, pin)
    except (sqlite3.Error, OSError):
        st.error(t("learner.store_down"))
        return False
    if problem is not None:
        st.error(refusal(problem))
        return False
    entry = lesson.my_entry()
    st.session_state[NOTICE] = t("learner.joined", nickname=entry.nickname if entry else nick)
    return True


def come_back_form(prefix: str) -> None:
    """Class code + nickname + PIN; on a match this session takes the learner's workspace back
    and the page reruns with their runs (app.lesson.come_back)."""
    st.caption(t("learner.come_back_help"))
    with st.form(f"{prefix}.back", border=False):
        code = st.text_input(t("learner.code"), max_chars=16, key=f"{prefix}.code",
                             placeholder=t("learner.code_placeholder"))
        nick = st.text_input(t("learner.nickname"), max_chars=MAX_NICKNAME, key=f"{prefix}.back_nickname")
        pin = st.text_input(t("learner.pin"), type="password", max_chars=8, key=f"{prefix}.back_pin")
        sent = st.form_submit_button(t("learner.come_back"), icon="↩️")
    if not sent:
        return
    if not (code.strip() and nick.strip() and pin):
        st.error(t("learner.fill_all"))
        return
    try:
        nickname = lesson.come_back(nick, code, pin)
    except RecoveryError as e:
        st.error(refusal(e))
        return
    except (sqlite3.Error, OSError):
        st.error(t("learner.store_down"))
        return
    st.session_state[NOTICE] = t("learner.welcome_back", nickname=nickname)
    st.rerun()


def sidebar_come_back() -> None:
    """The sidebar's "Back to your class runs" (in a class, for learners only)."""
    show_notice()
    if lesson.my_entry() is None:   # no class, the teacher, or no workspace yet
        return
    with st.sidebar.popover(t("learner.come_back_popover"), icon="🎒", width="stretch"):
        come_back_form("app.back")


def joined_line(entry) -> str:
    """"In this class as **Ada** · your seed **123**" (the nickname as text)."""
    return t("learner.joined_as", nickname=md_escape(entry.nickname), seed=entry.seed)
