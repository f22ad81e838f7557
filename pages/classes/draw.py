"""Add examples by drawing: the canvas (as on Predict), which class they go to, the 28×28 the
model will receive, and one click (or the A key) per "Add" — the canvas clears for the next."""
from __future__ import annotations

import numpy as np
import streamlit as st

from app.draw_canvas import draw_canvas
from app.text import md_escape
from app.userdata import say, store
from app.ui import t
from core.canvas import decode_canvas_png
from core.figures.examples import enlarged
from core.imagefolder import model_view
from core.userdata import ClassInfo, UserDataError
from core.workspace import WorkspaceError
from pages.classes.keys import ADD_SHORTCUT, CANVAS_SIZE, PREVIEW_PX, STROKE, K

ss = st.session_state


def _clear_canvas() -> None:
    ss.pop(K.canvas(ss.get(K.CANVAS_GEN, 0)), None)
    ss[K.CANVAS_GEN] = ss.get(K.CANVAS_GEN, 0) + 1


def add_drawing(class_id: str, name: str, drawing: np.ndarray) -> None:
    """The Add button: store the drawing's model view in the class, clear the canvas."""
    try:
        example = store().add_drawing(class_id, drawing)
    except (UserDataError, WorkspaceError) as e:
        ss[K.MSG] = ("error", say(e))
        return
    if example is None:
        ss[K.MSG] = ("info", t("classes.nothing_drawn"))
        return
    ss[K.LAST] = (class_id, example.id)
    ss[K.MSG] = ("success", t("classes.added_one", name=name))
    _clear_canvas()


def _drawing() -> np.ndarray | None:
    """The canvas (a fresh one after each Add); its picture as greyscale, None when empty."""
    gen = ss.setdefault(K.CANVAS_GEN, 0)
    png = draw_canvas(key=K.canvas(gen), size=CANVAS_SIZE, stroke_width=STROKE)
    if png is None:
        return None
    try:
        return decode_canvas_png(png)
    except ValueError:  # a picture the browser sent broken: treat as not drawn yet
        return None


def draw_section(classes: list[ClassInfo]) -> None:
    names = {c.id: c.name for c in classes}
    if ss.get(K.TARGET) not in names:
        ss[K.TARGET] = classes[0].id
    st.segmented_control(t("classes.target"), list(names), format_func=names.get, key=K.TARGET,
                         required=True, help=t("classes.target_help"))
    target = ss[K.TARGET]
    left, right = st.columns([1.1, 1], gap="large")
    with left:
        drawing = _drawing()
    view = model_view(drawing) if drawing is not None else None
    with right:
        st.markdown(t("classes.preview_title"))
        if view is None:
            st.info(t("classes.nothing_drawn"), icon="✏️")
        else:
            st.image(enlarged(view, PREVIEW_PX), width=PREVIEW_PX, clamp=True)
            st.caption(t("classes.preview_caption"))
        st.button(t("classes.add", name=md_escape(names[target])), type="primary", icon=":material/add:", key=K.ADD,
                  disabled=view is None, shortcut=ADD_SHORTCUT, on_click=add_drawing,
                  args=(target, names[target], drawing))
        c1, c2 = st.columns([1, 2], vertical_alignment="center")
        c1.button(t("classes.clear"), icon=":material/delete:", key="classes.clear", on_click=_clear_canvas)
        c2.caption(t("classes.draw_hint", shortcut=ADD_SHORTCUT))
