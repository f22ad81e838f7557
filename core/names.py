"""One cleaner for every name a visitor types that someone else may see: nicknames, model names,
class names, uploaded file names.

Such text reaches other people's screens (the Class page's leaderboard, the gallery, a watch link
on a projector), and Streamlit renders markdown and some HTML in st.markdown / st.caption /
st.write / labels. A nickname like ``![](//127.0.0.1:8799/x)`` rendered as markdown made every
watcher's browser fetch that address. So a name is cleaned once, here, to plain words:

- control and format characters (newlines, bidi overrides, zero-width joiners) are removed and
  every kind of space becomes one plain space, so a name stays on one line and reads as written;
- markdown and HTML syntax characters (brackets, parentheses, ``!``, ``*``, ``_``, backticks,
  ``<>``, ``&``, ``#``, ``|``, ``~``, ``$``, ``\\``, ``/``, ``:`` …) become spaces, so no link,
  image, emphasis, math, table, entity or tag can form, whatever a page does with the text;
- at most `max_len` characters, trimmed of spaces and dots.

The render side is still expected to show learner text as text (st.text, or escaped); this makes
a missed spot harmless rather than relying on every page to remember.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Any

# Everything markdown, Streamlit's markdown extensions (":red[...]", ":material/...:", "$math$")
# or HTML could read as syntax, plus path and quoting characters.
MARKUP = re.compile(r"[\\/`*_{}\[\]()<>#+!|~^$&%@=:;\"'?,]")


def clean_name(raw: Any, max_len: int = 64, fallback: str = "") -> str:
    """`raw` as a single line of plain words, at most `max_len` characters; `fallback` when
    nothing is left (or `raw` is not a string)."""
    text = raw if isinstance(raw, str) else ""
    # Spaces and control characters (newline, tab) separate words; format characters (bidi
    # overrides, zero-width joiners) and unassigned code points are dropped.
    text = "".join(" " if unicodedata.category(c) in ("Zs", "Zl", "Zp", "Cc") else c for c in text)
    text = "".join(c for c in text if unicodedata.category(c)[0] != "C")
    text = MARKUP.sub(" ", text)
    text = re.sub(r"\s+", " ", text).strip(" .-")[:max_len].strip(" .-")
    return text or fallback


__all__ = ["clean_name", "MARKUP"]
