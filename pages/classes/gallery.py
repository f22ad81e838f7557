"""Every class's examples as thumbnails (one picture per class, core.figures.examples), its
count, and the edits: rename, delete one example, delete the class."""
from __future__ import annotations

import streamlit as st

from app.userdata import say, store
from app.text import md_escape
from app.ui import t
from core.figures.examples import montage
from core.userdata import ClassInfo, UserDataError
from core.workspace import WorkspaceError
from pages.classes.keys import GRID_COLUMNS, K

ss = st.session_state


def _do(action, done: str) -> None:
    """Run one edit of the store; keep its outcome to show once."""
    try:
        action(store())
    except (UserDataError, WorkspaceError) as e:
        ss[K.MSG] = ("error", say(e))
    else:
        ss[K.MSG] = ("success", done)


def rename(info: ClassInfo) -> None:
    new = ss.get(K.rename(info.id), "")
    _do(lambda ud: ud.rename_class(info.id, new), t("classes.renamed", old=md_escape(info.name), new=md_escape(new.strip())))
    if ss[K.MSG][0] == "success":
        ss.pop(K.rename(info.id), None)


def delete_example(info: ClassInfo, ids: list[str]) -> None:
    number = int(ss.get(K.example(info.id)) or 0)
    if not 1 <= number <= len(ids):
        ss[K.MSG] = ("error", t("classes.no_such_example", n=number, count=len(ids)))
        return
    _do(lambda ud: ud.delete_example(info.id, ids[number - 1]), t("classes.example_deleted", n=number, name=md_escape(info.name)))


def delete_class(info: ClassInfo) -> None:
    _do(lambda ud: ud.delete_class(info.id), t("classes.class_deleted", name=md_escape(info.name)))


def class_card(info: ClassInfo) -> None:
    examples = store().examples(info.id)
    with st.container(border=True):
        head, edit = st.columns([4, 1], vertical_alignment="center")
        head.markdown(f"**{md_escape(info.name)}** · " + t("classes.count", n=len(examples)), unsafe_allow_html=False)
        with edit.popover(t("classes.edit"), icon=":material/edit:", width="stretch"):
            st.text_input(t("classes.rename_label"), key=K.rename(info.id), max_chars=40,
                          placeholder=info.name)
            st.button(t("classes.rename"), key=f"classes.rename_btn.{info.id}", on_click=rename, args=(info,))
            if examples:
                st.divider()
                st.number_input(t("classes.example_number"), 1, len(examples), len(examples),
                                key=K.example(info.id), help=t("classes.example_number_help"))
                st.button(t("classes.delete_example"), key=f"classes.del_ex.{info.id}", icon=":material/close:",
                          on_click=delete_example, args=(info, [e.id for e in examples]))
            st.divider()
            st.button(t("classes.delete_class", n=len(examples)), key=f"classes.del_class.{info.id}",
                      icon=":material/delete_forever:", on_click=delete_class, args=(info,))
        if examples:
            st.image(montage([e.image for e in examples], GRID_COLUMNS), clamp=True)
        else:
            st.caption(t("classes.empty_class"))


def gallery_section(classes: list[ClassInfo]) -> None:
    for info in classes:
        class_card(info)
