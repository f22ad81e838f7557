"""The Class page's gallery panel: feature or remove the models shared with the class."""
from __future__ import annotations

import streamlit as st

from app import session
from app.errors import guarded
from app.format import pct
from app.text import md_escape
from app.ui import t
from core import gallery
from pages.class_room.keys import REFRESH_S, K, ss


def set_featured(entry_id: str, featured: bool) -> None:
    if session.is_teacher():
        gallery.set_featured(entry_id, featured)


def remove_entry(entry: gallery.GalleryEntry) -> None:
    if session.is_teacher():
        gallery.remove(entry.id)  # publisher=None: the teacher may remove any entry
        ss[K.PUBLISHED] = {j: e for j, e in ss.get(K.PUBLISHED, {}).items() if e != entry.id}
        ss[K.GALLERY_NOTICE] = t("class.removed_toast", nickname=md_escape(entry.nickname))


@st.fragment(run_every=REFRESH_S * 3)
@guarded
def gallery_panel() -> None:
    if not session.is_teacher():
        return
    st.subheader(t("class.gallery_title"))
    st.caption(t("class.gallery_intro"))
    notice = ss.pop(K.GALLERY_NOTICE, None)
    if notice:
        st.success(notice, icon="🗑️")
    entries = gallery.list_entries()
    if not entries:
        st.info(t("class.gallery_empty"), icon="🖼️")
        return
    # Keys by position, not entry id: what the browser gets names no file (the callbacks get the
    # entry itself, kept on the server).
    for i, entry in enumerate(entries):
        with st.container(border=True):
            c1, c2, c3 = st.columns([6, 1.3, 1.3], vertical_alignment="center")
            architecture = t("class.custom") if entry.architecture == "custom" else entry.architecture
            c1.markdown(t("class.gallery_entry", star="⭐ " if entry.featured else "",
                          nickname=md_escape(entry.nickname), name=md_escape(entry.name),
                          architecture=md_escape(architecture), accuracy=pct(entry.test_accuracy)))
            c2.button(t("class.unfeature") if entry.featured else t("class.feature"),
                      icon="⭐", key=f"class.feature.{i}", width="stretch",
                      on_click=guarded(set_featured), args=(entry.id, not entry.featured))
            c3.button(t("class.remove"), icon="🗑️", key=f"class.remove.{i}", width="stretch",
                      on_click=guarded(remove_entry), args=(entry,))


