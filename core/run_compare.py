"""Runs side by side: which runs a comparison starts with, and each run's row of settings.

A source is a run of this session (its events, a TrainConfig dict, its metrics) or a saved model
(the history, config and metrics its checkpoint metadata keeps; old or hand-edited files may
lack any of them). `compare_row` reads what is there and says None for what is not, so the page
only translates; it never guesses a number.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from core.data import DATASETS
from core.models import SpecError, summary
from core.train import OPTIMIZERS, SCHEDULERS

MAX_DEFAULT_RUNS = 6  # a comparison opens with this session's last runs, at most this many


def default_choice(keys: list[str]) -> list[str]:
    """What a comparison shows first: this session's last runs ("run:<id>" keys, at most
    MAX_DEFAULT_RUNS), else the first two saved models."""
    runs = [k for k in keys if k.startswith("run:")]
    return runs[-MAX_DEFAULT_RUNS:] or keys[:2]


@dataclass(frozen=True)
class CompareRow:
    """One source's settings and outcome; None wherever the source does not say (or says
    something this server does not know, such as an optimizer it does not offer)."""
    dataset_title: str | None
    preset: str | None          # None: a custom architecture
    params: int | None
    optimizer: str | None       # a key of core.train.OPTIMIZERS
    lr: str | None              # as written by the learner's number: "0.001", "3e-05"
    batch_size: Any
    epochs: Any
    scheduler: str | None       # a key of core.train.SCHEDULERS
    augment: bool
    fraction_percent: str       # "10", "2.5", "100"
    seed: Any
    test_accuracy: float | None
    train_seconds: float | None  # None also for 0: nothing was measured


def compare_row(config: Mapping[str, Any], metrics: Mapping[str, Any], dataset: str | None = None) -> CompareRow:
    """The row of one source; `dataset` is used when the config does not name one (a saved
    model's metadata keeps it next to the config)."""
    spec = config.get("spec") or []
    try:
        params = summary(spec, num_classes=None).total_params
    except (SpecError, TypeError, KeyError):
        params = None
    name = config.get("dataset", dataset)
    lr = config.get("lr")
    return CompareRow(
        dataset_title=DATASETS[name].title if name in DATASETS else None,
        preset=config.get("preset") or None,
        params=params,
        optimizer=config.get("optimizer") if config.get("optimizer") in OPTIMIZERS else None,
        lr=f"{lr:g}" if isinstance(lr, (int, float)) and not isinstance(lr, bool) else None,
        batch_size=config.get("batch_size"),
        epochs=config.get("epochs"),
        scheduler=config.get("scheduler") if config.get("scheduler") in SCHEDULERS else None,
        augment=bool(config.get("augment")),
        fraction_percent=f"{100 * config.get('fraction', 1):g}",
        seed=config.get("seed"),
        test_accuracy=metrics.get("test_accuracy"),
        train_seconds=metrics.get("train_seconds") or None,
    )
