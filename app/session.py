"""Who this visitor is on a shared server: their private workspace, their client identity, the
server's job manager, and whether they unlocked the teacher's view.

A visitor's runs and saved models belong to their workspace (core.workspace): its secret lives in
this browser session only. The page offers it as a *private link* (?ws=<secret>); opening that
link in any tab or after a reload brings back the same runs and models. The secret is taken out of
the address bar as soon as it has been read, so a projected or shared screen never shows it.
Runs are owned by the workspace's id (a hash of the secret), never by the secret itself.

A link is also a way to push a workspace onto someone else (issue 23): whoever made a link can see
every model saved in its workspace. So
- only secrets this server issued are honoured (core.link_signing); a made-up one is refused;
- opening a link to any workspace other than the one this session already uses asks first
  (`pending_workspace_switch`, answered by `confirm_switch` / `decline_switch`; the question is
  drawn by app.link_prompt) — also in a fresh tab, since the attack is exactly a victim opening an
  attacker's link in a fresh tab and then training there;
- a watch link never carries a workspace: ?watch= with ?ws= drops the ws and says so.

A *client* (core.clients) is the network identity shared by all of one person's tabs and
workspaces; per-client budgets (core.budgets) and the teacher-key lockout (core.teacher_gate) use it.
"""
from __future__ import annotations

import streamlit as st

from core import link_signing, settings
from core.budgets import BudgetError, ClientLedger
from core.checkpoint import checkpoint_dir
from core.clients import behind_proxy, client_id
from core.jobs import JobManager, make_job_manager
from core.teacher_gate import TeacherGate, Verdict
from core.workspace import Workspace, WorkspaceError, is_issued, workspace_id

WS_PARAM = "ws"          # ?ws=<workspace secret>: the private link
WATCH_PARAM = "watch"    # ?watch=<watch token>: a read-only view of one run
TEACHER_KEY_ENV = settings.TEACHER_KEY
_SECRET = "app.workspace_secret"
_PENDING = "app.workspace_pending"          # a linked secret waiting for the visitor's yes
_TEACHER = "app.teacher"
_TEACHER_WAIT = "app.teacher_wait"          # seconds of lockout after the last wrong key
_LINK_ERROR = "app.workspace_link_error"
_WATCH_WS = "app.watch_link_had_ws"
_CLIENT = "app.client"


class WorkspaceBudgetError(WorkspaceError):
    """This client started as many workspaces this hour as the server allows (one sentence)."""


@st.cache_resource(show_spinner=False)
def job_manager() -> JobManager:
    """One manager per server process: every visitor's runs, the queue, the backend. Built by
    core.jobs.make_job_manager (which checks every setting first; tests choose what it builds
    with core.jobs.set_factory)."""
    return make_job_manager()


@st.cache_resource(show_spinner=False)
def _ledger(root: str) -> ClientLedger:
    return ClientLedger(root)


def ledger() -> ClientLedger:
    """The per-client ledger and budgets of this server's checkpoint folder (shared by every app
    server on that folder)."""
    return _ledger(str(checkpoint_dir()))


@st.cache_resource(show_spinner=False)
def teacher_gate() -> TeacherGate:
    """One teacher-key gate per server process (lockouts per client)."""
    return TeacherGate()


# --------------------------------------------------------------------------- the client

def client() -> str:
    """This visitor's client id: the address Streamlit reports (st.context.ip_address), or the
    first X-Forwarded-For hop when CNN_LAB_BEHIND_PROXY says a proxy sets it; hashed with the
    server's key, never shown. One value per session (the connection does not change)."""
    ss = st.session_state
    if _CLIENT not in ss:
        forwarded = st.context.headers.get("X-Forwarded-For") if st.context.headers else None
        key = link_signing.server_key(checkpoint_dir())
        ss[_CLIENT] = client_id(st.context.ip_address, forwarded, behind_proxy(), key)
    return ss[_CLIENT]


# --------------------------------------------------------------------------- the workspace

def _read_link() -> None:
    """Take ?ws= out of the address bar and decide what it means (see the module docstring)."""
    params = st.query_params
    link = params.get(WS_PARAM)
    if link is None:
        return
    del params[WS_PARAM]  # read once; never left on screen
    ss = st.session_state
    if WATCH_PARAM in params:
        ss[_WATCH_WS] = True  # a watch link is read-only: it never opens a workspace
        return
    if not is_issued(link):
        ss[_LINK_ERROR] = True
        return
    if ss.get(_SECRET) != link:
        ss[_PENDING] = link


def workspace() -> Workspace:
    """This visitor's workspace: this session's, else a new one (counted against the client's
    hourly budget; WorkspaceBudgetError over it). A link to another workspace waits for the
    visitor's answer (`pending_workspace_switch`)."""
    ss = st.session_state
    _read_link()
    if _SECRET not in ss:
        try:
            ss[_SECRET] = Workspace.create(ledger=ledger(), client=client()).secret
        except BudgetError as e:
            raise WorkspaceBudgetError(str(e), code=e.code, **e.details) from None
    return Workspace.open(ss[_SECRET], ledger=ledger(), client=client())


def workspace_refusal() -> str | None:
    """None when this visitor has a workspace (made now if needed); else the sentence that says
    why not (over the client's hourly budget). The shell calls this before the page runs and shows
    the sentence instead of the page; `app.link_prompt.render` does both."""
    try:
        workspace()
    except WorkspaceBudgetError as e:
        return str(e)
    return None


def has_workspace() -> bool:
    return _SECRET in st.session_state


def pending_workspace_switch() -> str | None:
    """The id (a hash, safe to compare, not to show) of the workspace a private link asks to open,
    while the visitor has not answered; None otherwise."""
    _read_link()
    pending = st.session_state.get(_PENDING)
    return workspace_id(pending) if pending else None


def pending_workspace_models() -> int:
    """How many saved models the linked workspace holds (for the question's wording)."""
    pending = st.session_state.get(_PENDING)
    if not pending:
        return 0
    return len(Workspace.open(pending).own_models())


def confirm_switch() -> None:
    """The visitor said yes: this session now uses the linked workspace (checked again)."""
    ss = st.session_state
    pending = ss.pop(_PENDING, None)
    if pending and is_issued(pending):
        ss[_SECRET] = pending


def adopt_workspace(secret: str) -> bool:
    """A learner came back with their class code, nickname and PIN (app.lesson.come_back): this
    session now uses that workspace, as if they had opened its private link and said yes. Only a
    secret this server issued is taken. False otherwise."""
    if not is_issued(secret):
        return False
    st.session_state.pop(_PENDING, None)
    st.session_state[_SECRET] = secret
    return True


def decline_switch() -> None:
    """The visitor said no: keep the current workspace (or a new one), forget the link."""
    st.session_state.pop(_PENDING, None)


def owner() -> str:
    """The id that owns this visitor's runs (a hash of the workspace secret)."""
    return workspace().id


def private_link_query() -> str:
    """The query string of this visitor's private link (append to the app's address)."""
    return f"?{WS_PARAM}={workspace().secret}"


def pop_link_error() -> bool:
    """True once after a private link that was not valid or not issued by this server (the page
    says so in one sentence)."""
    return bool(st.session_state.pop(_LINK_ERROR, False))


def pop_watch_link_had_workspace() -> bool:
    """True once after a watch link that also carried ?ws=: the workspace part was ignored (the
    page says so: a watch link only ever shows one run)."""
    return bool(st.session_state.pop(_WATCH_WS, False))


def delete_model(ref: str) -> None:
    """Delete one of this visitor's own saved models (WorkspaceError sentence otherwise: bundled,
    gone, someone else's)."""
    workspace().delete(ref)


# --------------------------------------------------------------------------- the teacher

def teacher_key() -> str | None:
    """The server's teacher key, or None when the Class page is switched off."""
    return settings.teacher_key()


def unlock_teacher(attempt: str) -> bool:
    """Check a typed key in constant time, unless this client is locked out after wrong keys
    (core.teacher_gate: a growing delay, every failure logged); remembered for this session."""
    verdict: Verdict = teacher_gate().attempt(client(), attempt, teacher_key())
    st.session_state[_TEACHER_WAIT] = verdict.wait_s
    if verdict.ok:
        st.session_state[_TEACHER] = True
    return verdict.ok


def teacher_wait_s() -> float:
    """Seconds before this client's next key is even compared (0: now). The Class page shows
    "Too many wrong keys; try again in N s" when this is above 0."""
    return teacher_gate().wait_s(client())


def is_teacher() -> bool:
    return teacher_key() is not None and bool(st.session_state.get(_TEACHER))


def set_budget(name: str, value: int) -> bool:
    """Teacher only: raise (or lower) one per-client budget for every server on this checkpoint
    folder, e.g. set_budget("workspaces_per_hour", 60) for a class behind one NAT. False when this
    session is not the teacher's."""
    if not is_teacher():
        return False
    ledger().set_budget(name, value)
    return True
