"""Before and at Start: what a visitor is told will happen, and how often a run reports.

The Train page asks this module, not the job manager directly, so the rules ("start now" or
"wait in place n", how many points a curve gets) are plain functions a test can check with
hand-computed numbers, without a browser session.
"""
from __future__ import annotations

from dataclasses import dataclass

from core import metrics
from core.models import SpecError
from core.recipe import run_size
from core.train import ConfigError, TrainConfig


def log_interval(n_train: int, config: TrainConfig) -> int:
    """Steps between a run's step events: about 300 points on its curves, whatever its length
    (the images a run holds out for calibration are not trained on, so they are not counted)."""
    size = run_size(n_train, config.fraction, config.batch_size, config.epochs, config.calibration_holdout)
    return metrics.suggest_log_every(size.total_steps)


@dataclass(frozen=True)
class StartPreview:
    """What pressing Start would do now.

    queued: False when a worker is free (the run starts at once), else it waits at `position`
    (1 = next). start / finish: estimated seconds until it starts / finishes, None when not
    known yet (no run has been measured on this server, or the settings cannot run)."""
    queued: bool
    position: int | None
    start: float | None
    finish: float | None


def start_preview(manager, owner: str, config: TrainConfig | None, data) -> StartPreview:
    """Ask `manager` (a core.jobs.JobManager) what Start would do for `owner` with `config` on
    `data`; settings that cannot run (None, or an error in the estimate) give no estimate."""
    busy, _ = manager.busy(owner)
    start = finish = None
    if config is not None and data is not None:
        try:
            start, finish = manager.preview(config, data)
        except (ConfigError, SpecError, ValueError):
            start = finish = None
    if not busy:
        return StartPreview(queued=False, position=None, start=None, finish=finish)
    return StartPreview(queued=True, position=len(manager.waiting()) + 1, start=start, finish=finish)
