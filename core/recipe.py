"""A training recipe as the Train page's form holds it: typed learning rate, run size, presets.

The config itself and its checks live in core.train_config, which both this module and core.train
use; core.train uses `split_sizes` from here, and nothing here imports core.train.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from core.train_config import LR_MAX, TrainConfig, learning_rate_ok  # noqa: F401 — re-exported

BATCH_SIZES = (16, 32, 64, 100, 128, 256, 512)  # the form's choices (64 and 100: the tutorials')
# The original tutorial each preset reproduces (core.models.PRESETS; their descriptions say so).
TUTORIAL_OF: dict[str, str] = {
    "2-conv 16/32 → FC 128": "000",
    "2-conv 32/64 → FC": "001",
    "4-conv 5×5 16/32/32/64": "002",
    "2-conv 32/64 → FC 128, SGD": "003",
}


class LearningRateError(ValueError):
    """A typed learning rate that can't be used. `code` is "not_number" or "range" (pages
    translate it); the message is the English sentence."""

    def __init__(self, code: str, text: str):
        message = (f"'{text}' is not a number; type a learning rate such as 0.001." if code == "not_number"
                   else f"The learning rate must be above 0 and at most {LR_MAX:g}, not {text}.")
        super().__init__(message)
        self.code, self.text = code, text


def parse_learning_rate(text: str) -> float:
    """A learning rate typed by a person: '0.001', '1e-3', ' 0,01 ' (decimal comma) all work."""
    try:
        lr = float(str(text).strip().replace(",", "."))
    except ValueError:
        raise LearningRateError("not_number", str(text)) from None
    if not learning_rate_ok(lr):
        raise LearningRateError("range", str(text))
    return lr


@dataclass(frozen=True)
class RunSize:
    images: int           # training images used per epoch
    steps_per_epoch: int  # batches per epoch (the last one may be smaller)
    total_steps: int


def train_images(n_train: int, fraction: float) -> int:
    """How many of n_train images a run with this data fraction uses (at least one)."""
    return max(1, int(round(n_train * fraction)))


def split_sizes(n_train: int, fraction: float, holdout: int = 0) -> tuple[int, int]:
    """(images trained on, images held out for calibration) out of a training set of `n_train`.

    The hold-out is at most a tenth of the set. `fraction` is a share of the whole set, taken
    from what the hold-out leaves: a 10% run of MNIST trains on 6,000 images, a 100% run with a
    5,000-image hold-out on 55,000.
    """
    holdout = min(int(holdout), n_train // 10)
    rest = n_train - holdout
    return (min(rest, train_images(n_train, fraction)) if rest else 0), holdout


def run_size(n_train: int, fraction: float, batch_size: int, epochs: int, holdout: int = 0) -> RunSize:
    images, _ = split_sizes(n_train, fraction, holdout)
    steps = math.ceil(images / int(batch_size))
    return RunSize(images, steps, steps * int(epochs))


def form_values(config: TrainConfig, max_epochs: int) -> dict[str, Any]:
    """A preset's recipe (config_from_preset(name)) as the form's fields: the learning rate as
    text, the batch size snapped to BATCH_SIZES, epochs capped at the server's limit."""
    return {
        "optimizer": config.optimizer,
        "lr": f"{config.lr:g}",
        "batch_size": min(BATCH_SIZES, key=lambda b: abs(b - config.batch_size)),
        "epochs": max(1, min(int(config.epochs), max_epochs)),
        "scheduler": config.scheduler,
        "augment": bool(config.augment),
        "weight_decay": float(config.weight_decay),
        "label_smoothing": float(config.label_smoothing),
        "momentum": float(config.momentum),
    }


def epochs_cut(config: TrainConfig, max_epochs: int) -> int | None:
    """The recipe's epochs when this server's limit cuts them (form_values then shows the
    limit), else None: a learner following a tutorial is told the run is shorter than its."""
    return int(config.epochs) if int(config.epochs) > max_epochs else None
