"""The Class page's button callbacks: stop a run, clear a flood (every waiting run, or everything
of one visitor), add a finished run to the gallery. They run before the redraw, so the board shows
the new state at once; each checks the teacher again (a callback is a request like any other)."""
from __future__ import annotations

from app import session
from app.text import md_escape
from app.ui import t
from core import gallery
from core.gallery import GalleryError
from core.workspace import display_name
from pages.class_room.keys import K, ss
from pages.class_room.runs import find_job


def stop_run(serial: int, nickname: str) -> None:
    """Button callback (runs before the redraw, so the board shows the new state at once)."""
    job = find_job(session.job_manager(), serial)
    if session.is_teacher() and job is not None and session.job_manager().teacher_stop(job.id):
        ss[K.MESSAGE] = (serial, "success", t("class.stopped_toast", nickname=md_escape(nickname)))


def stop_waiting() -> None:
    """Button callback: cancel every waiting run on the server."""
    if session.is_teacher():
        n = session.job_manager().stop_waiting()
        ss[K.FLOOD_NOTICE] = t("class.stopped_waiting_toast", n=n)


def stop_visitor(number: int) -> None:
    """Button callback: stop every run of the client this page calls "visitor <number>"."""
    client = next((c for c, n in ss.get(K.VISITORS, {}).items() if n == number), None)
    if session.is_teacher() and client:
        n = session.job_manager().stop_client(client)
        ss[K.FLOOD_NOTICE] = t("class.stopped_visitor_toast", n=n, visitor=t("class.visitor", n=number))


def add_to_gallery(serial: int) -> None:
    """Button callback: copy a finished run's model into the class gallery."""
    job = find_job(session.job_manager(), serial)
    if not session.is_teacher() or job is None or job.model is None:
        return
    nickname = ss.get(K.nickname(serial), "")
    try:
        name = f"{display_name(nickname)} · {job.preset or t('class.custom')}"
        entry = gallery.publish(job.model, job.checkpoint_metadata(name), nickname, publisher=gallery.TEACHER,
                                client=session.client(), ledger=session.ledger())
    except GalleryError as e:
        known = e.code in ("no_nickname", "full", "own_full", "no_entry")
        ss[K.MESSAGE] = (serial, "error", t(f"class.gallery_err_{e.code}", **e.details) if known
                         else t("class.gallery_err_other", reason=md_escape(str(e))))
    else:
        ss.setdefault(K.PUBLISHED, {})[serial] = entry.id
        ss[K.MESSAGE] = (serial, "success", t("class.added_toast", nickname=md_escape(entry.nickname)))
