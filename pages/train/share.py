"""③ Results: share the run's model in the class gallery under a nickname (everyone's Predict
page lists it, read-only; the teacher's board labels the run with it), and remove one's own."""
from __future__ import annotations

import logging

import streamlit as st

from app import session
from app.errors import explain
from app.format import pct
from app.text import md_escape
from app.ui import t
from core import gallery as class_gallery
from core import jobs
from core.checkpoint import CheckpointError
from core.gallery import GalleryError
from pages.train.keys import K
from pages.train.runs import manager, run_label

log = logging.getLogger(__name__)
ss = st.session_state


def share_model(owner: str, job: jobs.Job) -> None:
    st.subheader(t("train.share_title"))
    st.caption(t("train.share_caption"))
    nick_key = K.publish_nick(job.id)
    ss.setdefault(nick_key, job.nickname or ss.get(K.NICKNAME) or "")
    c1, c2 = st.columns([2, 3], vertical_alignment="bottom")
    nickname = c1.text_input(t("train.nickname"), key=nick_key, max_chars=jobs.MAX_NICKNAME,
                             help=t("train.nickname_help"))
    if c2.button(t("train.publish"), icon="📣", key=f"train.publish.{job.id}"):
        name = ss.get(K.save_name(job.id)) or run_label(job)
        try:
            # counted against this network's gallery budget and the server's disk (core.budgets)
            entry = class_gallery.publish(job.model, job.checkpoint_metadata(name), nickname, publisher=owner,
                                          client=session.client(), ledger=session.ledger())
        except GalleryError as e:
            st.error(explain(e))
        except (OSError, CheckpointError):
            log.exception("publishing a model to the class gallery failed")
            st.error(t("train.share_failed"))
        else:
            manager().set_nickname(job.id, owner, entry.nickname)
            st.success(t("train.shared", nickname=md_escape(entry.nickname)))
    mine = [e for e in class_gallery.list_entries() if e.publisher == owner]
    if mine:
        st.markdown(t("train.share_mine"))
    for e in mine:
        a, b = st.columns([4, 1], vertical_alignment="center")
        a.markdown(t("train.share_entry", name=md_escape(e.name), nickname=md_escape(e.nickname),
                     acc=pct(e.test_accuracy, 2)))
        if b.button(t("train.unpublish"), icon="🗑️", key=f"train.unpublish.{e.id}"):
            try:
                class_gallery.remove(e.id, publisher=owner)
            except GalleryError as err:
                st.error(explain(err))
            st.rerun()
