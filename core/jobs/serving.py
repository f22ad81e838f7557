"""Which job manager this app server serves its pages with: its own (core.jobs.manager: the queue
in this process), or, with $CNN_LAB_SHARED_QUEUE=ray, the proxy to the class hub that every app
server of the class shares (core.jobs.hub_proxy → core.jobs.class_hub). Kept apart from the
manager so the manager never imports the hub, which is built on it (no import cycle)."""
from __future__ import annotations

from core import settings
from core.jobs import manager


def make_job_manager():
    """The server's job manager, as the app builds it (once per process): every setting is
    checked first, so a bad CNN_LAB_* value stops the server with its sentence."""
    settings.check()
    if settings.shared_queue() == "ray":
        from core.jobs.hub_proxy import connect

        return connect()
    return manager.make_job_manager()
