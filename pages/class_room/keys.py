"""The Class page's session-state keys ("class.<name>"; the convention is in app/state.py).

No widget key carries a run id, a watch token or a client id: the teacher's browser receives
widget keys, and a run id is a learner's key to their run. Keys use the run's number on the
server (JobManager's serial) or a visitor's number on this page, mapped back on the server."""
from __future__ import annotations

import streamlit as st

from app.state import keyed

ss = st.session_state
REFRESH_S = 2.0


class K:
    """This page's session-state keys ("class.<name>"; the convention is in app/state.py)."""
    KEY = "class.key"
    RUN = "class.run"                    # the run picked in "Manage a run" (its serial number)
    PUBLISHED = "class.published"        # {run serial: gallery entry id} added from this page
    MESSAGE = "class.message"            # (run serial, "success" | "error", sentence) kept across refreshes
    GALLERY_NOTICE = "class.gallery_notice"  # a sentence shown once in the gallery panel
    VISITORS = "class.visitors"          # {client id: visitor number}, this page's names for clients
    VISITOR = "class.visitor"            # the visitor picked in "Clear a flood" (a visitor number)
    FLOOD_NOTICE = "class.flood_notice"  # a sentence after clearing runs
    BUDGET_NOTICE = "class.budget_notice"

    picker = keyed("class.run_picker")                 # (language)
    visitor_picker = keyed("class.visitor_picker")     # (language)
    nickname = keyed("class.gallery_nickname")         # (run serial): never a run id
    budget = keyed("class.budget")                     # (budget name)
