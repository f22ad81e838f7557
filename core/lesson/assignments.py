"""An assignment: the task a teacher sets for the lesson, and the one check of a run against it.

A teacher picks a dataset, either a preset or "any architecture", bounds (epochs, share of the
training data, parameters, multiply-adds — each optional), an optional deadline and a short brief
in any language. The Train page opens with `apply(assignment, config)` (the assignment's settings
as the form's defaults) and, on every rerun, `check_config(assignment, config)`: every choice
outside the bounds comes back as a `Violation` naming the form field and saying why, in the
learner's language, so the page can mark the field and say why Start is disabled.

Pure arithmetic: no PyTorch, no files (the durable record is core.lesson.store).
"""
from __future__ import annotations

import math
import secrets
import time
import unicodedata
from dataclasses import asdict, dataclass, replace
from typing import Any, Mapping

from core.i18n import translate
from core.models import PRESETS, SpecError, normalize_layer, summary
from core.names import clean_name
from core.train_config import TrainConfig, config_from_preset

MAX_TITLE = 80
MAX_BRIEF = 1200
# The form fields a violation can point at (the Train page marks the matching widget).
FIELDS = ("dataset", "architecture", "epochs", "fraction", "params", "madds", "deadline")


class AssignmentError(ValueError):
    """An assignment the teacher cannot set as typed, in one sentence (`code` for translations)."""

    def __init__(self, message: str, code: str = "assignment", **details):
        self.code, self.details = code, details
        super().__init__(message)


@dataclass(frozen=True)
class Bounds:
    """The budget of a run; None: no bound on that figure."""
    max_epochs: int | None = None
    max_data_share: float | None = None     # 0 < share <= 1, the TrainConfig.fraction
    max_params: int | None = None
    max_madds: int | None = None            # multiply-adds of one forward pass of one image


@dataclass(frozen=True)
class Assignment:
    id: str
    title: str                 # cleaned (core.names): safe anywhere
    brief: str                 # one paragraph, any language: plain text, show it as text
    dataset: str
    preset: str | None         # None: any architecture
    bounds: Bounds
    deadline: float | None     # UTC epoch seconds; None: no deadline
    created_at: float
    round: int = 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Assignment":
        b = d.get("bounds") or {}
        return cls(id=str(d["id"]), title=str(d["title"]), brief=str(d.get("brief", "")),
                   dataset=str(d["dataset"]), preset=d.get("preset"),
                   bounds=Bounds(**{k: b.get(k) for k in ("max_epochs", "max_data_share", "max_params",
                                                          "max_madds")}),
                   deadline=d.get("deadline"), created_at=float(d.get("created_at", 0.0)),
                   round=int(d.get("round", 1)))


def clean_brief(raw: Any) -> str:
    """One paragraph of plain text: control and format characters dropped, runs of white space
    (newlines too) made one space, at most MAX_BRIEF characters. Markup is kept as typed (a brief
    may say "use 3×3 kernels (not 5×5)"): the page shows it as text, never as markdown."""
    text = raw if isinstance(raw, str) else ""
    text = "".join(" " if unicodedata.category(c) in ("Zs", "Zl", "Zp", "Cc") else c for c in text)
    text = "".join(c for c in text if unicodedata.category(c)[0] != "C")
    return " ".join(text.split())[:MAX_BRIEF].strip()


def _positive_whole(value: Any, name: str, low: int = 1) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value != int(value) or value < low:
        raise AssignmentError(f"The {name} bound must be a whole number of at least {low}, or none.",
                              code="bad_bound", field=name)
    return int(value)


def make_assignment(title: Any, brief: Any, dataset: str, preset: str | None = None,
                    max_epochs: int | None = None, max_data_share: float | None = None,
                    max_params: int | None = None, max_madds: int | None = None,
                    deadline: float | None = None, now: float | None = None, round: int = 1,
                    assignment_id: str | None = None) -> Assignment:
    """A checked assignment with a fresh id, or AssignmentError naming what cannot be set."""
    from core.data import DATASETS   # lazy: the names only (core.data loads torch)

    if dataset not in DATASETS:
        raise AssignmentError(f"Unknown dataset '{str(dataset)[:40]}'; choose one of {', '.join(DATASETS)}.",
                              code="bad_dataset")
    if preset is not None and preset not in PRESETS:
        raise AssignmentError(f"Unknown preset '{str(preset)[:40]}'; choose one of {', '.join(PRESETS)}.",
                              code="bad_preset")
    share = max_data_share
    if share is not None and (isinstance(share, bool) or not isinstance(share, (int, float))
                              or not math.isfinite(share) or not 0 < share <= 1):
        raise AssignmentError("The data share bound must be above 0 and at most 1 (e.g. 0.25), or none.",
                              code="bad_bound", field="fraction")
    if deadline is not None and (isinstance(deadline, bool) or not isinstance(deadline, (int, float))
                                 or not math.isfinite(deadline)):
        raise AssignmentError("The deadline must be a time, or none.", code="bad_deadline")
    return Assignment(
        id=assignment_id or "a" + secrets.token_hex(5),
        title=clean_name(title, MAX_TITLE, fallback="Exercise"), brief=clean_brief(brief),
        dataset=dataset, preset=preset,
        bounds=Bounds(_positive_whole(max_epochs, "epochs"), None if share is None else float(share),
                      _positive_whole(max_params, "parameters"), _positive_whole(max_madds, "multiply-adds")),
        deadline=None if deadline is None else float(deadline),
        created_at=time.time() if now is None else float(now), round=int(round))


@dataclass(frozen=True)
class Violation:
    """One choice outside the assignment: the form `field` it concerns and why (`key` + `values`
    in the lesson catalog, so the sentence comes in the learner's language)."""
    field: str
    key: str
    values: dict[str, Any]

    def sentence(self, lang: str = "en") -> str:
        return translate(lang, f"lesson.{self.key}", **self.values)


def spec_matches(spec: Any, preset: str) -> bool:
    """Whether `spec` is the preset's architecture, layer for layer (defaults filled in)."""
    try:
        mine = [normalize_layer(layer, i) for i, layer in enumerate(spec)]
        theirs = [normalize_layer(layer, i) for i, layer in enumerate(PRESETS[preset].spec())]
    except (SpecError, TypeError):
        return False
    return mine == theirs


def check_config(assignment: Assignment, config: TrainConfig, now: float | None = None,
                 num_classes: int = 10) -> list[Violation]:
    """Every way `config` falls outside `assignment`, in form order ([] when it fits).

    A spec that cannot be built is not reported here (core.train_config.check_config says why);
    its parameters and multiply-adds are then simply not compared. `now` (UTC epoch seconds)
    is compared with the deadline."""
    b, out = assignment.bounds, []
    if config.dataset != assignment.dataset:
        out.append(Violation("dataset", "violation_dataset", {"dataset": assignment.dataset}))
    if assignment.preset is not None and not spec_matches(config.spec, assignment.preset):
        out.append(Violation("architecture", "violation_preset", {"preset": assignment.preset}))
    if b.max_epochs is not None and isinstance(config.epochs, (int, float)) and config.epochs > b.max_epochs:
        out.append(Violation("epochs", "violation_epochs", {"epochs": config.epochs, "limit": b.max_epochs}))
    if b.max_data_share is not None and isinstance(config.fraction, (int, float)) \
            and config.fraction > b.max_data_share + 1e-12:
        out.append(Violation("fraction", "violation_fraction",
                             {"share": f"{100 * config.fraction:g}", "limit": f"{100 * b.max_data_share:g}"}))
    if b.max_params is not None or b.max_madds is not None:
        try:
            s = summary(config.spec, num_classes=num_classes)
        except (SpecError, TypeError, ValueError):
            s = None
        if s is not None and b.max_params is not None and s.total_params > b.max_params:
            out.append(Violation("params", "violation_params",
                                 {"params": f"{s.total_params:,}", "limit": f"{b.max_params:,}"}))
        if s is not None and b.max_madds is not None and s.total_mult_adds > b.max_madds:
            out.append(Violation("madds", "violation_madds",
                                 {"madds": f"{s.total_mult_adds:,}", "limit": f"{b.max_madds:,}"}))
    if assignment.deadline is not None and (time.time() if now is None else now) > assignment.deadline:
        out.append(Violation("deadline", "violation_deadline", {}))
    return out


def within_budget(assignment: Assignment, dataset: str, preset: str | None, spec_matches_preset: bool,
                  epochs: int | None, fraction: float | None, params: int | None, madds: int | None,
                  submitted: float | None) -> bool:
    """Whether a finished run's recorded figures fit the assignment (the leaderboard's filter;
    the same bounds as `check_config`, on a run's record rather than a live config)."""
    b = assignment.bounds
    if dataset != assignment.dataset:
        return False
    if assignment.preset is not None and not (preset == assignment.preset and spec_matches_preset):
        return False
    checks = ((b.max_epochs, epochs), (b.max_data_share, fraction), (b.max_params, params), (b.max_madds, madds))
    for limit, value in checks:
        if limit is not None and (value is None or value > limit + 1e-12):
            return False
    if assignment.deadline is not None and (submitted is None or submitted > assignment.deadline):
        return False
    return True


def apply(assignment: Assignment, config: TrainConfig | None = None, seed: int | None = None) -> TrainConfig:
    """The Train form's defaults under `assignment`: its dataset; its preset's architecture and
    recipe (or, for any architecture, the learner's current model); epochs and data share pulled
    inside the bounds; the learner's seed when given. The result passes `check_config` unless
    the learner's own model is over a parameter or multiply-add bound (theirs to change)."""
    base = config if config is not None else TrainConfig()
    if assignment.preset is not None:
        cfg = config_from_preset(assignment.preset, seed=base.seed, device=base.device)
    else:
        cfg = replace(base, spec=[dict(layer) for layer in base.spec])
    b = assignment.bounds
    epochs = cfg.epochs if b.max_epochs is None else min(cfg.epochs, b.max_epochs)
    fraction = cfg.fraction if b.max_data_share is None else min(cfg.fraction, b.max_data_share)
    return replace(cfg, dataset=assignment.dataset, epochs=epochs, fraction=fraction,
                   seed=cfg.seed if seed is None else int(seed), classes=None, data_folder=None)


__all__ = ["Assignment", "AssignmentError", "Bounds", "FIELDS", "Violation", "apply", "check_config",
           "clean_brief", "make_assignment", "spec_matches", "within_budget"]
