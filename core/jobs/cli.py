"""The command line's bridge to the job manager: `python -m core train --backend ray` prints the
same events as a local run."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator

from core.data import Dataset
from core.jobs.backend import Backend
from core.jobs.job import Job
from core.jobs.manager import JobManager
from core.jobs.states import RunFailed
from core.train_config import TrainConfig

if TYPE_CHECKING:
    import torch

    from core.train import EvalResult


class BackendRun:
    """A run through a backend with TrainingRun's interface (`events()`, `model`, `history`), for
    the command line: `python -m core train --backend ray` prints the same events as a local run.
    A run that fails raises RunFailed; leaving the loop early (Ctrl-C) stops the run."""

    def __init__(self, config: TrainConfig, data: Dataset, backend: Backend | str):
        self.config, self.data = config, data
        self.manager = JobManager(workers=1, max_epochs=max(int(config.epochs), 1),
                                  backend=backend, initial_rate=1.0)  # no probe: nothing waits
        self.history: list[dict[str, Any]] = []
        self.job: Job | None = None

    @property
    def model(self) -> "torch.nn.Module | None":
        return None if self.job is None else self.job.model

    @property
    def last_eval(self) -> "EvalResult | None":
        return None if self.job is None else self.job.result

    def events(self) -> Iterator[dict[str, Any]]:
        self.job = self.manager.start("command-line", self.config, self.data)
        try:
            for event in self.job.follow():
                if event["event"] == "error":
                    raise RunFailed(event["message"])
                event = {k: v for k, v in event.items() if k != "elapsed"}
                self.history.append(event)
                yield event
        finally:
            self.manager.shutdown()
