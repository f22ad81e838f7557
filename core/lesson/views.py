"""What the lesson's pages show, assembled from the lesson store and the job manager: the Class
page's roster, the projector view, and keeping the store's run records up to date.

Plain data out, ready to render; the projector's data holds nicknames, figures, the brief and
the class code only — no run id, watch token or workspace id (a test scans it).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.figures.race import RaceLine, race_points
from core.jobs.states import CANCELLED, FAILED, FINISHED
from core.lesson.assignments import Assignment
from core.lesson.leaderboard import LeaderRow, leaderboard
from core.lesson.recovery import show_code
from core.lesson.roster import RosterRow, job_facts, roster_state
from core.lesson.store import LessonStore, run_key

_FINAL = (FINISHED, FAILED, CANCELLED)


def sync_runs(store: LessonStore, manager: Any) -> int:
    """Record every run of a learner on the roster that the store does not hold in its final
    state yet (the Class page calls this on each refresh, so results are kept even when the
    learner's tab is closed, and survive the job manager forgetting old runs). Returns how many
    records were written."""
    on_roster = {e.workspace_id for e in store.roster()}
    known = store.run_states()
    written = 0
    for job in manager.all_jobs():
        if job.owner not in on_roster:
            continue
        if known.get(run_key(job.id)) in _FINAL and known[run_key(job.id)] == job.state:
            continue
        store.record_run(job)
        written += 1
    return written


def _round_jobs(store: LessonStore, manager: Any, workspace_id: str, keys: set[str]) -> list[Any]:
    return [j for j in manager.jobs(workspace_id) if run_key(j.id) in keys]


def class_roster(store: LessonStore, manager: Any) -> list[RosterRow]:
    """One row per learner who opened the app in this lesson (core.lesson.roster), from their
    runs of this round. Call `sync_runs` first so new runs count."""
    records = {r.key: r for r in store.runs()}
    rows = []
    for entry in store.roster():
        facts = []
        for job in _round_jobs(store, manager, entry.workspace_id, set(records)):
            rec = records[run_key(job.id)]
            facts.append(job_facts(job, manager.status(job), published=bool(rec.gallery_entry), params=rec.params))
        rows.append(roster_state(entry, facts))
    return rows


def watch_token_of(manager: Any, workspace_id: str) -> str | None:
    """The watch token of a learner's newest run, for the teacher's "watch" button (None: no run).
    Teacher only: a watch link lets anyone holding it see the run."""
    jobs = manager.jobs(workspace_id)
    return max(jobs, key=lambda j: j.created).watch_token if jobs else None


@dataclass(frozen=True)
class ProjectorView:
    title: str                    # the current assignment's (cleaned), "" without one
    brief: str                    # plain text: render as text
    class_code: str               # shown as "K7Q XM2", for learners coming back to their runs
    deadline: float | None        # UTC epoch seconds; the page shows it in the viewer's zone
    leaders: list[LeaderRow] = field(default_factory=list)
    lines: list[RaceLine] = field(default_factory=list)


def projector_view(store: LessonStore, manager: Any, assignment: Assignment | None = None) -> ProjectorView:
    """The projector's data: the (current) assignment's brief, its leaderboard, and the race —
    each learner's newest run of this round that has started, featured learners highlighted."""
    a = assignment or store.current_assignment()
    lesson = store.lesson()
    runs = store.runs()
    keys = {r.key for r in runs}
    lines = []
    for entry in store.roster():
        if not entry.nickname:
            continue
        started = [j for j in _round_jobs(store, manager, entry.workspace_id, keys) if j.started is not None]
        if started:
            job = max(started, key=lambda j: j.created)
            lines.append(RaceLine(entry.nickname, race_points(job.started, job.events()), entry.featured))
    featured = [e.nickname for e in store.roster() if e.featured and e.nickname]
    return ProjectorView(title=a.title if a else "", brief=a.brief if a else "", class_code=show_code(lesson.code),
                         deadline=a.deadline if a else None,
                         leaders=leaderboard(runs, a, featured) if a else [], lines=lines)


__all__ = ["ProjectorView", "class_roster", "projector_view", "sync_runs", "watch_token_of"]
