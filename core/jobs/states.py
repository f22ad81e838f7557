"""A job's states and the errors the job manager raises, in one place every other part reads."""
from __future__ import annotations

from core.train_config import ConfigError


QUEUED, STARTING, RUNNING, STOPPING, STOPPED, FINISHED, FAILED, CANCELLED = (
    "queued", "starting", "running", "stopping", "stopped", "finished", "failed", "cancelled")
ACTIVE_STATES = (QUEUED, STARTING, RUNNING, STOPPING, STOPPED)  # STOPPED: evaluating the kept model
TRAINING_STATES = (STARTING, RUNNING, STOPPING, STOPPED)        # holding a worker


class JobLimitError(RuntimeError):
    """A start refused because of the demo limits. `own` means the caller already has as many
    runs running or waiting as allowed; otherwise the server's queue is full. `seconds_left`
    estimates when that changes (None when unknown)."""

    def __init__(self, message: str, seconds_left: float | None = None, own: bool = False):
        super().__init__(message)
        self.seconds_left, self.own = seconds_left, own


class BackendError(ConfigError):
    """The chosen backend cannot run here (e.g. Ray not installed), said in one sentence."""


class RunFailed(RuntimeError):
    """A run ended without a result; the message is the sentence the learner sees."""
