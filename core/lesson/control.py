"""The teacher's two big buttons: stop every run, or cancel only the queue.

Through the job manager's teacher controls (core.jobs.JobManager.teacher_stop), one job at a time:
a waiting run is cancelled (it never took a worker), a training run is stopped before its next
step and keeps the model trained so far — shown as stopped on the roster and the board. The page
checks the teacher key before calling either.
"""
from __future__ import annotations

from typing import Any


def cancel_queue(manager: Any) -> int:
    """Cancel every waiting run; runs already training go on. Returns how many were cancelled."""
    return sum(bool(manager.teacher_stop(job.id)) for job in manager.waiting())


def stop_all(manager: Any) -> int:
    """Cancel the queue first (so no waiting run takes a freed worker), then stop every run on a
    worker. Returns how many runs were cancelled or stopped."""
    count = cancel_queue(manager)
    return count + sum(bool(manager.teacher_stop(job.id)) for job in manager.training()
                       if not job.stop_event.is_set())


__all__ = ["cancel_queue", "stop_all"]
