"""Learner-supplied text shown as text.

Nicknames, model names and class names (from a checkpoint's metadata, or an uploaded image
folder) reach other people's screens: the Class page on a projector, a watch link, the gallery in
everyone's Predict list. Streamlit renders markdown (and its own extensions: `:red[...]`,
`:material/...:`, `$math$`) in st.markdown, st.caption, st.success/info/error and widget labels,
so a nickname `![](//127.0.0.1:8799/x)` shown through one of them made every watcher's browser
fetch that address (issue 23). core.names.clean_name removes markup where a name is stored; this
is the render side, so a missed spot or an old file is harmless too:

    st.markdown(t("class.gallery_entry", nickname=md_escape(entry.nickname), ...))

`md_escape` backslash-escapes every ASCII punctuation character (CommonMark renders an escaped
punctuation character as itself, so the visitor reads exactly what was typed) and puts line
breaks on one line: no link, image, emphasis, heading, list, table, math, directive, HTML tag or
entity can form. Text that needs no markdown at all goes through st.text or a dataframe instead.
"""
from __future__ import annotations

import re
from typing import Any

_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")   # every ASCII punctuation character
_BREAKS = re.compile(r"[\r\n\u2028\u2029\x0b\x0c]+")


def md_escape(value: Any) -> str:
    """`value` as text that markdown shows literally, on one line."""
    text = _BREAKS.sub(" ", "" if value is None else str(value))
    return _PUNCTUATION.sub(r"\\\1", text)


__all__ = ["md_escape"]
