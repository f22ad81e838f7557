"""The backend interface — what runs one dispatched job to its end — and the local backend.

A backend is given what to train (`RunRequest`) and a narrow `JobSink` to report through; it never
sees the job, the queue or the manager. `LocalBackend` trains in the worker thread itself;
core.jobs.ray_backend.RayBackend runs the same loop as a Ray task. core.jobs.manager.make_backend
picks one by name.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from core.data import Dataset
from core.jobs.job import JobSink
from core.jobs.snapshots import events_with_snapshots
from core.train import TrainingRun
from core.train_config import TrainConfig

# Runs trained at once by default: 2, or 1 on a one-core machine. One small run does not keep two
# cores busy — torch's intra-op threads scale poorly on 28×28 batches, and the epoch-end evaluation,
# feature maps and Python between steps are serial — so on 2 cores two runs at once halved a
# class's makespan and median wait against one at a time (bench/class_bench.py: 30 runs, 88 s
# against 188 s). More workers than cores only time-slices them.
DEFAULT_WORKERS = max(1, min(2, os.cpu_count() or 1))

RunFactory = Callable[[TrainConfig, Dataset, threading.Event], Any]


@dataclass(frozen=True)
class RunRequest:
    """What a backend trains: the job's id (Ray keys its progress by it), the config, the data and
    the test image whose feature maps are recorded."""
    id: str
    config: TrainConfig
    data: Dataset
    probe_index: int


class Backend(Protocol):
    """Runs one dispatched job to its end, in the calling worker thread.

    `execute` builds the run, feeds `sink.record(event, snapshot)` in order, attaches the run
    (with .model and .last_eval) before the "done" event, honours `sink.stop_event`, and raises
    RunFailed (or any exception) when the run cannot finish. `check` raises BackendError when the
    backend cannot work at all; `suggested_workers` is how many runs it can train at once."""

    name: str

    def check(self) -> None: ...

    def execute(self, request: RunRequest, sink: JobSink) -> None: ...

    def suggested_workers(self) -> int: ...

    def close(self) -> None: ...


def train_locally(config: TrainConfig, data: Dataset, stop_event: threading.Event) -> TrainingRun:
    """The local backend's default run factory: a real TrainingRun."""
    return TrainingRun(config, data, stop_event)


class LocalBackend:
    """Trains in the worker thread, in this process: torch's intra-op threads share the cores.
    `run_factory` builds the run (tests give a scripted one)."""

    name = "local"

    def __init__(self, run_factory: RunFactory | None = None):
        self.run_factory: RunFactory = run_factory or train_locally

    def check(self) -> None:
        return None

    def suggested_workers(self) -> int:
        return DEFAULT_WORKERS

    def execute(self, request: RunRequest, sink: JobSink) -> None:
        run = self.run_factory(request.config, request.data, sink.stop_event)
        sink.attach(run)
        for event, snap in events_with_snapshots(run, request.data, request.config.spec,
                                                 request.probe_index):
            sink.record(event, snap)

    def close(self) -> None:
        return None
