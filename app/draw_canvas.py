"""The drawing canvas of Predict and Your classes: a Streamlit component (components v2: plain
JavaScript and CSS in assets/draw_canvas.{js,css}, no build step, no iframe) that sends its
picture the moment a stroke ends; the value it sends is checked by core.canvas.

A cleared canvas is a new key (the pages keep a generation counter): the browser mounts a fresh,
empty canvas and the old value is dropped with its key.
"""
from __future__ import annotations

import functools
from pathlib import Path

import streamlit as st

from app.ui import t
from core.canvas import drawing_png

ASSETS = Path(__file__).resolve().parent.parent / "assets"


@functools.cache
def _component():
    # Registered on first use, not at import: the launcher imports every module before the
    # server runs (app/serve.py), and one registration serves every session of the process.
    return st.components.v2.component(
        "cnn_lab.draw_canvas",
        js=(ASSETS / "draw_canvas.js").read_text(encoding="utf-8"),
        css=(ASSETS / "draw_canvas.css").read_text(encoding="utf-8"),
        isolate_styles=True,
    )


def draw_canvas(*, key: str, size: int, stroke_width: int) -> bytes | None:
    """Show the canvas; the PNG drawn on it so far, or None while it is empty (or its value
    could not be read: treated as not drawn yet, as a half-sent picture would be)."""
    result = _component()(
        data={"size": size, "strokeWidth": stroke_width,
              "labels": {"canvas": t("common.canvas_label"), "undo": t("common.canvas_undo"),
                         "redo": t("common.canvas_redo")}},
        key=key, default={"drawing": None}, on_drawing_change=lambda: None,
        width="content", height="content")
    try:
        return drawing_png(result.get("drawing"))
    except ValueError:
        return None
