"""Session-state keys and how widget values are kept.

Convention: every key is "<page>.<name>" (e.g. "train.run", "predict.model"), defined once, in a
`Keys` class at the top of its page; keys shared by several pages live here. Widget values are
kept across tabs and pages one way: persist_state="session" on the widget (PERSIST below).
"""
from __future__ import annotations

LANG_KEY = "lang"                      # the sidebar's language switch
LANG_PARAM = "lang"                    # ?lang=zh in the address bar (app.ui.language_switch)
PREDICT_REQUEST = "predict.request"    # {"model": "own:<stem>" | "bundled:<stem>" | "gallery:<id>" | "run:<job id>", "test_index": int}
TRAIN_REQUEST = "train.use_classes"    # True: the Train page opens with "Your classes" as its dataset

# Keyword arguments for a widget whose value must survive runs that don't draw it (another tab
# or page is open): Streamlit keeps it for the whole session.
PERSIST = {"persist_state": "session"}


def keyed(prefix: str):
    """A key family: keyed("class.budget")("epochs") == "class.budget.epochs" — for widgets drawn
    once per item (a run, a class, a language), defined once as a `Keys` attribute."""
    return staticmethod(lambda *parts: ".".join([prefix, *map(str, parts)]))


def keep_valid(key: str, options, default) -> None:
    """Reset a widget's stored value when it is not among the current options (say, another
    model has fewer layers): Streamlit would otherwise raise on the stale value."""
    import streamlit as st

    if key in st.session_state and st.session_state[key] not in options:
        st.session_state[key] = default


def clamp(key: str, low: int, high: int, default: int) -> None:
    """Keep a number widget's stored value within [low, high] (default when it is not an int)."""
    import streamlit as st

    value = st.session_state.get(key, default)
    st.session_state[key] = int(min(max(value if isinstance(value, int) else default, low), high))
