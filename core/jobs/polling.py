"""How often a page asks the server about a run it shows (the owner's live tab, a watch link, the
hidden-tab watcher).

Why not always once a second (issue 22): in a class of 30 on two workers, 28 learners' runs wait
in the queue for most of the lesson, and every open page reran its live view once a second — most
of the server's reruns redrew a queue position that changes every few seconds at most. A run that
trains, or is close enough to the front to start when the next worker frees (its position is at
most the number of workers), is polled every second, so its curves move and its start shows at
once; a run further back is polled every few seconds.

A live view polls twice over: its status (the progress line, the queue position, the outcome)
every LIVE_SECONDS, and its charts (curves, feature maps) every CHART_SECONDS, in a fragment of
their own. The charts change every few seconds at most (core.live_payload.CurveClock), yet
re-rendering them on every 1 s poll was most of a watch page's browser work even when nothing in
them had changed: measured with CDP on one watch page of a training run (bench/browser_cost.py),
0.46 s of main-thread work per second with them, 0.12 s without them.
"""
from __future__ import annotations

from core.jobs.states import ACTIVE_STATES, QUEUED, TRAINING_STATES

LIVE_SECONDS = 1.0      # training, starting, stopping, or among the next runs to start
WAITING_SECONDS = 4.0   # waiting behind at least a worker's worth of other waiting runs
CHART_SECONDS = 3.0     # a training run's charts; core.live_payload redraws its curves this often


def poll_seconds(state: str, position: int, workers: int = 1) -> float | None:
    """Seconds between a page's polls of a run in `state` at queue `position` (1: next to start,
    0: not waiting) on a server with `workers` training slots; None once the run is over
    (nothing left to follow)."""
    if state not in ACTIVE_STATES:
        return None
    if state == QUEUED and position > max(1, workers):
        return WAITING_SECONDS
    return LIVE_SECONDS


def chart_poll_seconds(state: str) -> float | None:
    """Seconds between a page's polls of a run's charts: None unless the run holds a worker
    (a waiting run has no charts yet; a finished one has its final charts, drawn by the full rerun
    that follows its end)."""
    return CHART_SECONDS if state in TRAINING_STATES else None
