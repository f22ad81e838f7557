"""No tracebacks for visitors: an unexpected error becomes one sentence with a short id.

On a shared server a traceback shows file paths and code to every visitor and tells them nothing
they can act on. So the page that failed (or the one fragment of it) is replaced by one sentence
that carries a short random id, and the full traceback goes to the server's log under that id:
a learner reads the id out, the teacher finds the traceback with `grep <id>` in the log.

    streamlit_app.py      with error_boundary(): page.run()      # every page, whole run
    a fragment            @st.fragment(run_every=1.0)            # a fragment reruns on its own,
                          @guarded                               # outside the page's boundary
                          def live_panel(job_id): ...
    a block of a page     with error_boundary(): draw_results()  # the rest of the page stays up
    a widget callback     st.button(..., on_click=guarded(save))

Streamlit's own control flow (st.rerun, st.stop, st.switch_page) raises BaseExceptions that are
not caught here, so they keep working inside a boundary. The hosted configuration also sets
client.showErrorDetails = "none", so anything that slips past these boundaries (an error in a
callback nobody guarded) shows Streamlit's generic message, never a traceback.
"""
from __future__ import annotations

import functools
import secrets
from contextlib import contextmanager
from typing import Callable, Iterator, TypeVar

import streamlit as st
from streamlit.errors import FragmentHandledException
from streamlit.logger import get_logger

from app.ui import t
from core.gallery import GalleryError
from core.limits import LimitError
from core.workspace import WorkspaceError

F = TypeVar("F", bound=Callable)
_log = get_logger("cnn_lab.errors")


def new_error_id() -> str:
    """8 hex characters: short enough to read out in a classroom, unique enough to grep a log."""
    return secrets.token_hex(4)


def report(exc: BaseException) -> str:
    """Log the traceback with a fresh id and show the visitor one sentence with that id."""
    error_id = new_error_id()
    _log.error("CNN Lab error %s: %s", error_id, type(exc).__name__, exc_info=exc)
    st.error(t("shell.error_sentence", id=error_id), icon="⚠️")
    return error_id


@contextmanager
def error_boundary() -> Iterator[None]:
    """Run a block; if it raises, show one sentence with an error id instead of a traceback."""
    try:
        yield
    except FragmentHandledException:
        # A fragment without @guarded failed and Streamlit has already shown its own message;
        # let Streamlit finish handling it (it ends the run as it would without this boundary).
        raise
    except Exception as exc:  # noqa: BLE001 — this is the boundary; rerun/stop are BaseExceptions
        report(exc)


def guarded(func: F) -> F:
    """Decorator form of error_boundary, for fragments and widget callbacks. Put it under
    @st.fragment so the fragment's own reruns are guarded too. Returns None when it failed."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with error_boundary():
            return func(*args, **kwargs)
        return None

    return wrapper  # type: ignore[return-value]


# i18n key prefix of each core error that carries a code (its .key or .code) and values.
_EXPLAINED = ((LimitError, "train.limit_", "key"), (WorkspaceError, "train.ws_", "code"),
              (GalleryError, "train.share_err_", "code"))


def explain(e: Exception) -> str:
    """One sentence for an expected core error, in the visitor's language: a coded error
    (limit, workspace, gallery) through its catalog entry, any other through its own message
    (core writes those for people). A code the catalog lacks falls back to the message."""
    for kind, prefix, attr in _EXPLAINED:
        if isinstance(e, kind):
            key = prefix + str(getattr(e, attr))
            text = t(key, **e.details)
            return str(e) if text == key else text
    return str(e)
