"""Who this visitor is on a shared server: their private workspace, the server's job manager,
and whether they unlocked the teacher's view.

A visitor's runs and saved models belong to their workspace (core.workspace): its secret lives in
this browser session only. The page offers it as a *private link* (?ws=<secret>); opening that
link in any tab or after a reload restores the same runs and models. The secret is taken out of
the address bar as soon as it has been read, so a projected or shared screen never shows it.
Runs are owned by the workspace's id (a hash of the secret), never by the secret itself.
"""
from __future__ import annotations

import hmac
import os

import streamlit as st

from core.jobs import JobManager, make_job_manager
from core.workspace import Workspace, WorkspaceError, is_valid_secret

WS_PARAM = "ws"          # ?ws=<workspace secret>: the private link
WATCH_PARAM = "watch"    # ?watch=<watch token>: a read-only view of one run
TEACHER_KEY_ENV = "CNN_LAB_TEACHER_KEY"
_SECRET = "app.workspace_secret"
_TEACHER = "app.teacher"
_LINK_ERROR = "app.workspace_link_error"


@st.cache_resource(show_spinner=False)
def job_manager() -> JobManager:
    """One manager per server process: every visitor's runs, the queue, the backend. Built by
    core.jobs.make_job_manager (which checks every setting first; tests choose what it builds
    with core.jobs.set_factory)."""
    return make_job_manager()


def workspace() -> Workspace:
    """This visitor's workspace: the one a private link names, else this session's, else new."""
    ss = st.session_state
    link = st.query_params.get(WS_PARAM)
    if link is not None:
        del st.query_params[WS_PARAM]  # read once; never left on screen
        if is_valid_secret(link):
            ss[_SECRET] = link
        else:
            ss[_LINK_ERROR] = True
    if _SECRET not in ss:
        ss[_SECRET] = Workspace.create().secret
    try:
        return Workspace.open(ss[_SECRET])
    except WorkspaceError:  # cannot happen for secrets we made; be safe with old sessions
        ss[_SECRET] = Workspace.create().secret
        return Workspace.open(ss[_SECRET])


def owner() -> str:
    """The id that owns this visitor's runs (a hash of the workspace secret)."""
    return workspace().id


def private_link_query() -> str:
    """The query string of this visitor's private link (append to the app's address)."""
    return f"?{WS_PARAM}={workspace().secret}"


def pop_link_error() -> bool:
    """True once after a private link that was not valid (the page says so in one sentence)."""
    return bool(st.session_state.pop(_LINK_ERROR, False))


def teacher_key() -> str | None:
    """The server's teacher key, or None when the Class page is switched off."""
    key = os.environ.get(TEACHER_KEY_ENV, "").strip()
    return key or None


def unlock_teacher(attempt: str) -> bool:
    """Check a typed key in constant time; remembered for this session only."""
    key = teacher_key()
    ok = key is not None and hmac.compare_digest(attempt.strip().encode(), key.encode())
    if ok:
        st.session_state[_TEACHER] = True
    return ok


def is_teacher() -> bool:
    return teacher_key() is not None and bool(st.session_state.get(_TEACHER))
