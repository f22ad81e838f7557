"""① Set up, in a class: who the learner is in it. Without a nickname, the join form (nickname +
PIN, app.lesson_forms) and "Been here before?" (class code + nickname + PIN); once joined, one line
with the nickname and the learner's own seed, and a way to change them. Nothing without a class
or for the teacher."""
from __future__ import annotations

import streamlit as st

from app import lesson
from app.lesson_forms import come_back_form, join_form, joined_line
from app.ui import t
from pages.train.keys import K

ss = st.session_state


def _change(editing: bool = True) -> None:
    ss[K.CLASS_EDIT] = editing


def class_box() -> None:
    entry = lesson.my_entry()
    if entry is None:
        return
    with st.container(border=True, key="train-class"):
        if entry.nickname and entry.has_pin and not ss.get(K.CLASS_EDIT):
            c1, c2 = st.columns([6, 1], vertical_alignment="center")
            c1.markdown(joined_line(entry))
            c2.button(t("learner.change"), key="train.class_change", on_click=_change, width="stretch")
            return
        st.markdown(t("learner.add_pin") if entry.nickname else t("learner.join_title"))
        offered = entry.nickname or lesson.last_nickname() or ""
        if join_form("train.class", nickname=offered):
            ss[K.CLASS_EDIT] = False
            st.rerun()
        if entry.nickname and entry.has_pin:   # "Change" pressed: a way out without changing
            st.button(t("learner.keep"), key="train.class_keep", on_click=_change, args=(False,), type="tertiary")
        if not entry.nickname:   # a closed tab: this is a new workspace; the old one comes back
            with st.expander(t("learner.come_back_title"), icon="↩️"):
                come_back_form("train.class")


def class_nickname() -> str | None:
    """The learner's class nickname, which their runs carry (the Start row shows it, fixed)."""
    entry = lesson.my_entry()
    return entry.nickname if entry is not None else None
