"""Where each learner stands, for the teacher's roster: one row per workspace in the lesson.

    not_started  opened the app, nothing changed yet
    editing      changed the Train form, no run yet (or since their last run ended)
    waiting      a run waits in the queue (detail: its position)
    training     a run trains (detail: progress 0..1)
    stopped      their newest run was stopped (the kept model is evaluated / was evaluated)
    finished     their newest run finished (detail: accuracy and parameters)
    published    their newest finished run is in the class gallery
    failed       their newest run failed (detail: the sentence they saw)

`roster_state` reads plain data: the learner's `RosterEntry` (core.lesson.store) and `JobFacts`
of their runs — `job_facts(job, status)` takes them from a core.jobs Job read-only, tests build
them by hand. No ids reach a row: the page opens a learner's watch view through the job manager
with the workspace id it already has.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from core.jobs.states import FAILED, FINISHED, QUEUED, RUNNING, STARTING, STOPPED, STOPPING

NOT_STARTED, EDITING, WAITING, TRAINING, STOPPED_STATE, FINISHED_STATE, PUBLISHED, FAILED_STATE = (
    "not_started", "editing", "waiting", "training", "stopped", "finished", "published", "failed")
STATES = (NOT_STARTED, EDITING, WAITING, TRAINING, STOPPED_STATE, FINISHED_STATE, PUBLISHED, FAILED_STATE)
# The order "sort by state" shows: who needs attention, then who is busy, then who is done.
STATE_ORDER = {FAILED_STATE: 0, NOT_STARTED: 1, EDITING: 2, WAITING: 3, TRAINING: 4, STOPPED_STATE: 5,
               FINISHED_STATE: 6, PUBLISHED: 7}


@dataclass(frozen=True)
class JobFacts:
    """What the roster needs of one run (plain data)."""
    state: str                    # a core.jobs state
    created: float                # wall-clock, to find the newest run
    position: int = 0             # queue position (1: next), 0 once it trains
    progress: float = 0.0         # 0..1 of its training steps
    accuracy: float | None = None # final test accuracy (finished / stopped)
    params: int | None = None
    error: str | None = None      # the sentence the learner saw
    stopped: bool = False         # Stop was pressed and training ended early
    published: bool = False       # its model is in the gallery


@dataclass(frozen=True)
class RosterRow:
    nickname: str | None          # None: the learner has not given one yet
    state: str                    # one of STATES
    position: int | None = None   # waiting
    progress: float | None = None # training
    accuracy: float | None = None # finished / published / stopped
    params: int | None = None
    failure: str | None = None    # failed: the sentence
    seed: int | None = None
    last_seen: float = 0.0
    featured: bool = False
    workspace_id: str = ""        # for the page to find the learner's runs; never rendered

    def detail(self, t: Callable[..., str]) -> str:
        """One short line for the state column, in the viewer's language (`t`: key, **values)."""
        if self.state == WAITING:
            return t("lesson.detail_waiting", position=self.position or 0)
        if self.state == TRAINING:
            return t("lesson.detail_training", percent=round(100 * (self.progress or 0)))
        if self.state in (FINISHED_STATE, PUBLISHED, STOPPED_STATE) and self.accuracy is not None:
            return t("lesson.detail_result", accuracy=f"{100 * self.accuracy:.2f}",
                     params=f"{self.params:,}" if self.params is not None else "–")
        if self.state == FAILED_STATE:
            return self.failure or ""
        return ""


def job_facts(job: Any, status: Any = None, published: bool = False, params: int | None = None) -> JobFacts:
    """The facts of a core.jobs Job (read only); `status` is the manager's JobStatus for it
    (queue position, progress), `published` whether its model is in the gallery
    (LessonStore.gallery_entry_of), `params` its parameter count (RunRecord.params)."""
    m = job.metrics()
    acc = m.get("test_accuracy")
    return JobFacts(state=job.state, created=float(job.created),
                    position=int(getattr(status, "position", 0) or 0),
                    progress=float(getattr(status, "progress", 0.0) or job.progress().fraction),
                    accuracy=float(acc) if isinstance(acc, (int, float)) else None, params=params,
                    error=job.error, stopped=bool(job.stopped), published=published)


def roster_state(entry: Any, jobs: list[JobFacts]) -> RosterRow:
    """The roster row of one learner (`entry`: a RosterEntry) from their runs in this round.

    A running or waiting run wins (training over waiting); then a learner editing the form
    (LessonStore.mark_editing) is editing; otherwise the newest run that was not cancelled
    decides (none: not started). A stopped run shows as stopped, also while and after its kept
    model is evaluated (its accuracy then shows in the detail)."""
    base = dict(nickname=entry.nickname, seed=entry.seed, last_seen=entry.last_seen,
                featured=entry.featured, workspace_id=entry.workspace_id)
    live = [j for j in jobs if j.state in (STARTING, RUNNING, STOPPING)]
    if live:
        j = max(live, key=lambda j: j.created)
        return RosterRow(state=TRAINING, progress=j.progress, **base)
    waiting = [j for j in jobs if j.state == QUEUED]
    if waiting:
        j = min(waiting, key=lambda j: j.position or 10**9)
        return RosterRow(state=WAITING, position=j.position, **base)
    over = [j for j in jobs if j.state in (FINISHED, FAILED, STOPPED)]   # CANCELLED: as if never run
    newest = max(over, key=lambda j: j.created) if over else None
    result = dict(accuracy=newest.accuracy, params=newest.params) if newest is not None else {}
    if entry.editing:   # at work on the next run (the last result stays in the row)
        return RosterRow(state=EDITING, **result, **base)
    if newest is None:
        return RosterRow(state=NOT_STARTED, **base)
    if newest.state == FAILED:
        return RosterRow(state=FAILED_STATE, failure=newest.error, **base)
    if newest.stopped or newest.state == STOPPED:
        return RosterRow(state=STOPPED_STATE, **result, **base)
    return RosterRow(state=PUBLISHED if newest.published else FINISHED_STATE, **result, **base)


SORT_KEYS = ("nickname", "state", "accuracy", "progress", "last_seen")


def sort_key(name: str) -> Callable[[RosterRow], Any]:
    """The key for sorting rows by one column, ascending (the page reverses for descending);
    rows without a value (no nickname, no accuracy) come first ascending, last descending."""
    if name == "nickname":
        return lambda r: (r.nickname is not None, (r.nickname or "").casefold())
    if name == "state":
        return lambda r: (STATE_ORDER[r.state], (r.nickname or "").casefold())
    if name == "accuracy":
        return lambda r: (r.accuracy is not None, r.accuracy or 0.0, -(r.params or 0))
    if name == "progress":
        return lambda r: (r.progress is not None, r.progress or 0.0)
    if name == "last_seen":
        return lambda r: r.last_seen
    raise ValueError(f"No roster column named {name!r}; use one of {', '.join(SORT_KEYS)}.")


def sort_roster(rows: list[RosterRow], by: str = "state", descending: bool = False) -> list[RosterRow]:
    return sorted(rows, key=sort_key(by), reverse=descending)


__all__ = ["EDITING", "FAILED_STATE", "FINISHED_STATE", "JobFacts", "NOT_STARTED", "PUBLISHED", "RosterRow",
           "SORT_KEYS", "STATES", "STATE_ORDER", "STOPPED_STATE", "TRAINING", "WAITING", "job_facts",
           "roster_state", "sort_key", "sort_roster"]
