"""Your classes: make 2–10 classes of your own, add examples by drawing or from files, look at
them as the model receives them, and train a CNN on them on the Train page.

Layout only: the store, its limits and refusals are core.userdata's (in the visitor's private
workspace, through app.userdata); preprocessing is core.preprocess's, as on Predict; the
thumbnails are one picture per class (core.figures.examples). Per-user state lives in
st.session_state under keys starting with "classes." (pages/classes/keys.py).
"""
from __future__ import annotations

import streamlit as st

from app import routes, session
from app.userdata import say, store
from app.state import TRAIN_REQUEST
from app.text import md_escape
from app.ui import t
from core.userdata import UserDataError
from core.workspace import WorkspaceError
from pages.classes.draw import draw_section
from pages.classes.files import upload_section, zip_section
from pages.classes.gallery import gallery_section
from pages.classes.keys import K

ss = st.session_state


def create_class() -> None:
    name = ss.get(K.NEW_NAME, "")
    try:
        info = store().create_class(name)
    except (UserDataError, WorkspaceError) as e:
        ss[K.MSG] = ("error", say(e))
    else:
        ss[K.TARGET] = info.id  # the next drawings go to the class just made
        ss[K.NEW_NAME] = ""
        ss[K.MSG] = ("success", t("classes.created", name=md_escape(info.name)))


def open_train() -> None:
    """The Train page with "Your classes" chosen as its dataset."""
    ss[TRAIN_REQUEST] = True
    routes.switch_to("train")


def show_message() -> None:
    """The outcome of the last action, once."""
    msg = ss.pop(K.MSG, None)
    if msg:
        kind, text = msg
        {"success": st.success, "warning": st.warning, "info": st.info}.get(kind, st.error)(text)


def usage_line(ud) -> str:
    u = ud.usage()
    return t("classes.usage", classes=u.classes, max_classes=u.limits.max_classes, examples=u.examples,
             max_examples=u.limits.max_examples, per_class=u.limits.max_per_class)


def render() -> None:
    st.title(t("classes.title"))
    st.markdown(t("classes.intro"))
    refusal = session.workspace_refusal()
    if refusal:
        st.warning(refusal)
        return
    ud = store()
    try:
        classes = ud.classes()
    except UserDataError as e:
        st.error(say(e))
        return
    st.caption(t("classes.private") + " " + usage_line(ud))
    show_message()
    with st.form("classes.create", clear_on_submit=False, border=False):
        c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
        c1.text_input(t("classes.new_name"), key=K.NEW_NAME, max_chars=40, placeholder=t("classes.new_placeholder"))
        c2.form_submit_button(t("classes.create"), icon=":material/add:", on_click=create_class, width="stretch")
    if not classes:
        st.info(t("classes.none_yet"), icon="👋")
        st.subheader(t("classes.zip_title"))
        zip_section(False)  # or start from a set exported before
        return
    st.subheader(t("classes.add_title"))
    draw_tab, files_tab = st.tabs([t("classes.tab_draw"), t("classes.tab_files")])
    with draw_tab:
        draw_section(classes)
    with files_tab:
        upload_section(classes)
    classes = ud.classes()  # counts after this run's additions
    st.subheader(t("classes.examples_title", n=sum(c.count for c in classes)))
    gallery_section(classes)
    st.subheader(t("classes.zip_title"))
    zip_section(any(c.count for c in classes))
    st.divider()
    st.markdown(t("classes.next"))
    st.button(t("classes.to_train"), icon="🏋️", key="classes.to_train", on_click=open_train)
