"""The app's pages and their addresses: one table that streamlit_app.py routes with and that
pages use to send a visitor to another page (st.switch_page needs the page, not a file, since
pages are functions).

A page is a module or package under pages/ with no side effects at import and one `render()`;
its route names the module, the title's text key, the icon and the url path (never derived
from a file name).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass

import streamlit as st

from app.ui import t


@dataclass(frozen=True)
class Route:
    module: str        # "pages.predict": has render()
    title: str         # text key of the navigation title
    icon: str
    url_path: str      # "" only for the default page


ROUTES = {
    "home": Route("pages.home", "common.nav_home", "🏠", ""),
    "convolution": Route("pages.convolution", "common.nav_conv", "🔍", "convolution"),
    "train": Route("pages.train", "common.nav_train", "🏋️", "train"),
    "predict": Route("pages.predict", "common.nav_predict", "✍️", "predict"),
    "classes": Route("pages.classes", "classes.nav", "🗂️", "classes"),
    "class": Route("pages.class_room", "shell.nav_class", "🧑‍🏫", "class"),
}


def page(name: str, **options) -> st.Page:
    """The st.Page of route `name` (its render() imported now); `options` go to st.Page
    (default=True, visibility="hidden", or url_path for an alias)."""
    route = ROUTES[name]
    options.setdefault("url_path", route.url_path)
    render = importlib.import_module(route.module).render
    return st.Page(render, title=t(route.title), icon=route.icon, **options)


def switch_to(name: str) -> None:
    """Open another page of the app (stops this run)."""
    st.switch_page(page(name, default=name == "home"))
