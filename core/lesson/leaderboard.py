"""The class leaderboard of an assignment: each learner's best run within its budget.

A run counts when it finished (or was stopped: its kept model was tested) with a test accuracy,
and its recorded figures fit the assignment (core.lesson.assignments.within_budget: dataset,
preset, epochs, data share, parameters, multiply-adds, submitted before the deadline). Each
learner appears once, with their best such run; places go by accuracy, then by fewer parameters
(a smaller model that does as well ranks higher), then by who finished first. Two runs equal in
accuracy and parameters share a place ("1, 2, 2, 4"). Rows carry no ids: safe for a projector.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from core.jobs.states import FINISHED, STOPPED
from core.lesson.assignments import Assignment, within_budget


@dataclass(frozen=True)
class LeaderRow:
    rank: int
    nickname: str
    accuracy: float
    params: int | None
    madds: int | None
    architecture: str
    epochs: int | None
    featured: bool = False


def _counts(run, assignment: Assignment) -> bool:
    return (run.state in (FINISHED, STOPPED) and run.test_accuracy is not None and bool(run.nickname)
            and run.assignment_id == assignment.id
            and within_budget(assignment, run.dataset, None if run.architecture == "custom" else run.architecture,
                              run.preset_match, run.epochs, run.fraction, run.params, run.madds, run.submitted))


def _order(run) -> tuple:
    big = float("inf")
    return (-run.test_accuracy, run.params if run.params is not None else big,
            run.finished if run.finished is not None else big)


def leaderboard(runs: Iterable, assignment: Assignment, featured: Iterable[str] = ()) -> list[LeaderRow]:
    """Ranked rows of `runs` (core.lesson.store.RunRecord, or anything with its fields) for
    `assignment`; `featured`: nicknames the teacher highlights."""
    best: dict[str, object] = {}
    for run in runs:
        if _counts(run, assignment):
            key = run.nickname.casefold()
            if key not in best or _order(run) < _order(best[key]):
                best[key] = run
    stars = {n.casefold() for n in featured}
    rows: list[LeaderRow] = []
    for i, run in enumerate(sorted(best.values(), key=_order)):
        prev = rows[-1] if rows else None
        same = prev is not None and prev.accuracy == run.test_accuracy and prev.params == run.params
        rows.append(LeaderRow(prev.rank if same else i + 1, run.nickname, run.test_accuracy, run.params,
                              run.madds, run.architecture, run.epochs, run.nickname.casefold() in stars))
    return rows


__all__ = ["LeaderRow", "leaderboard"]
