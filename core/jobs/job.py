"""One training job: its state, its events and snapshots, and the views of it others get.

`Job` is read from any thread; only its worker thread writes to it, through the narrow `JobSink`
a backend is given (record an event, attach the run that holds the model, say where it runs, fail)
— a backend never touches the job itself. `JobView` is what a watch link shows (read-only: no
stop, no model, no id); `JobStatus` and `BoardRow` are the page's and the teacher's figures.
"""
from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterator

from core import metrics
from core.data import Dataset
from core.jobs.snapshots import PROBE_INDEX, FeatureSnapshot
from core.jobs.states import (ACTIVE_STATES, CANCELLED, FAILED, FINISHED, QUEUED, RUNNING, STARTING,
                              STOPPED, STOPPING, TRAINING_STATES)
from core.names import clean_name
from core.train_config import TrainConfig

if TYPE_CHECKING:
    import torch

    from core.train import EvalResult

MAX_NICKNAME = 24


def clean_nickname(raw: str | None) -> str | None:
    """A nickname fit to show on a shared screen: plain words on one line, no markup (a nickname
    like `![](//host/x)` must not become an image on every watcher's screen), at most 24
    characters (core.names.clean_name); None when nothing is left."""
    return clean_name(raw, MAX_NICKNAME) or None



class Job:
    """One training run, waiting or on a worker. Read it from any thread; only its worker thread
    writes events and snapshots (under `_lock`)."""

    client: str | None = None   # the network that started it (core.clients), set by the manager
    serial: int = 0             # its number among every run on the server (the teacher's label)
    error_id: str | None = None  # a failure's id in the server log (the page shows the id, not the error)

    def __init__(self, job_id: str, owner: str, number: int, config: TrainConfig, data: Dataset,
                 probe_index: int = PROBE_INDEX, nickname: str | None = None, work: float = 0.0):
        self.id, self.owner, self.number = job_id, owner, number
        self.watch_token = secrets.token_urlsafe(16)   # unguessable and unrelated to the id
        self.nickname = nickname
        self.config, self.data = config, data
        self.work = work                      # multiply-adds, see run_work
        self.stop_event = threading.Event()
        self.run: Any = None                  # the TrainingRun (or the Ray result holder), once built
        self.state = QUEUED
        self.error: str | None = None
        self.result: "EvalResult | None" = None
        self.worker: dict[str, Any] = {}      # where it runs (Ray: node and pid)
        self.created = time.time()            # wall-clock times, for display
        self.started: float | None = None
        self.ended: float | None = None
        self.t0 = time.perf_counter()         # reset when a worker takes the job
        self.stop_requested_at: float | None = None  # perf_counter times
        self.stopped_at: float | None = None
        self.finished_at: float | None = None
        self.stopped_by_teacher = False       # Stop came from the Class page (live branch)
        # (seconds to start, seconds to finish) the page promised when the run was submitted
        # (None: unknown), to compare with what happened (JobManager.estimate_report).
        self.estimate_at_submit: tuple[float | None, float | None] = (None, None)
        self.probe_index = min(probe_index, len(data.test_labels) - 1)
        self.thread: threading.Thread | None = None
        # Durable runs (core.jobs.registry): where every change is written through, or None; and
        # whether the run was cut off by a server restart and waits for its owner to start it again.
        self.journal: Any = None
        self.interrupted = False
        self._result_loader: Callable[[], Any] | None = None
        self._events: list[dict[str, Any]] = []
        self._snapshots: list[FeatureSnapshot] = []
        self._lock = threading.Lock()
        self._done = threading.Event()

    # ----------------------------------------------------------------- reading (any thread)
    @property
    def active(self) -> bool:
        """Waiting or training: the job still counts against its owner's limit."""
        return self.state in ACTIVE_STATES

    @property
    def queued(self) -> bool:
        return self.state == QUEUED

    @property
    def stopped(self) -> bool:
        """Training was ended early by Stop (the model trained so far is kept)."""
        return self.stopped_at is not None

    @property
    def model(self) -> "torch.nn.Module | None":
        return None if self.run is None else self.run.model

    @property
    def result(self) -> "EvalResult | None":
        """The final evaluation (a run restored after a restart reads it from disk when first asked)."""
        if self._result is None and self._result_loader is not None:
            loader, self._result_loader = self._result_loader, None
            self._result = loader()
        return self._result

    @result.setter
    def result(self, value: "EvalResult | None") -> None:
        self._result, self._result_loader = value, None

    @property
    def preset(self) -> str | None:
        return self.config.preset

    def events(self, since: int = 0) -> list[dict[str, Any]]:
        """A copy of the events from index `since` on (poll with the count you already have)."""
        with self._lock:
            return list(self._events[since:])

    def event_count(self) -> int:
        with self._lock:
            return len(self._events)

    def snapshots(self) -> list[FeatureSnapshot]:
        with self._lock:
            return list(self._snapshots)

    def elapsed(self) -> float:
        """Seconds since a worker took the job (0 while it waits)."""
        if self.state == QUEUED or (self.state == CANCELLED and self.started is None):
            return 0.0
        end = self.finished_at if self.finished_at is not None else time.perf_counter()
        return end - self.t0

    def progress(self) -> metrics.Progress:
        return metrics.progress(self.events(), self.elapsed())

    def seconds_left(self) -> float | None:
        """Training time left by the run's own pace (None before its first step; 0 when over)."""
        if self.state in TRAINING_STATES:
            return self.progress().seconds_left
        return None if self.state == QUEUED else 0.0

    def live_accuracy(self) -> float | None:
        """The newest test accuracy (final, else the last epoch's), else the running training
        accuracy of the current epoch — what a leaderboard shows while runs go."""
        done = self.done_event()
        if done is not None:
            return float(done["test_accuracy"])
        events = self.events()
        last_epoch = next((e for e in reversed(events) if e.get("event") == "epoch"), None)
        if last_epoch is not None:
            return float(last_epoch["test_accuracy"])
        last_step = next((e for e in reversed(events) if e.get("event") == "step"), None)
        return float(last_step["accuracy"]) if last_step is not None else None

    def done_event(self) -> dict[str, Any] | None:
        with self._lock:
            last = self._events[-1] if self._events else None
        return last if last and last.get("event") == "done" else None

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has finished, failed or been cancelled; False on timeout."""
        return self._done.wait(timeout)

    def follow(self, poll: float = 0.1, timeout: float | None = None) -> Iterator[dict[str, Any]]:
        """Every event as it arrives, until the job is over (the CLI and the bench print these).
        Raises TimeoutError after `timeout` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        seen = 0
        while True:
            over = self._done.wait(poll)
            new = self.events(seen)
            seen += len(new)
            yield from new
            if over and seen == self.event_count():
                return
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"job {self.number} did not end within {timeout} s")

    def stop(self) -> None:
        """Cancel a waiting run; ask a training run to end before its next step (the model
        trained so far is kept)."""
        with self._lock:
            if self.state == QUEUED:
                self.state, self.ended = CANCELLED, time.time()
                self.finished_at = time.perf_counter()
                self._done.set()
                cancelled = True
            else:
                cancelled = False
        if cancelled:
            self._write("update")
            return
        if self.stop_event.is_set():
            return
        self.stop_requested_at = time.perf_counter()
        self.stop_event.set()
        if self.state in (STARTING, RUNNING):
            self.state = STOPPING

    cancel = stop

    def metrics(self) -> dict[str, Any]:
        """The final metrics (the "done" event without its name), {} until finished."""
        done = self.done_event()
        return {k: v for k, v in done.items() if k != "event"} if done else {}

    def checkpoint_metadata(self, name: str) -> dict[str, Any]:
        """Metadata for core.checkpoint: spec, dataset, config, final metrics, compact curves."""
        from core.checkpoint import make_metadata

        m = self.metrics()
        if self.result is not None:
            m["per_class_accuracy"] = [round(float(a), 5) for a in self.result.per_class_accuracy]
        return make_metadata(self.config.spec, self.config.dataset, self.config.to_dict(), m,
                             metrics.compact_history(self.events()), name=name,
                             run_id=self.id, source="train-page")

    # ----------------------------------------------------------------- writing (its worker thread)
    def _take(self) -> bool:
        """A worker picks this job: False when it was cancelled while it waited."""
        with self._lock:
            if self.state != QUEUED:
                return False
            self.state, self.started, self.t0 = STARTING, time.time(), time.perf_counter()
            if self.stop_event.is_set():   # Stop pressed in the instant between
                self.state = STOPPING
        self._write("update")
        return True

    def _record(self, event: dict[str, Any], snapshot: FeatureSnapshot | None = None) -> None:
        """Keep one event (stamped with its elapsed time) and its snapshot, in order."""
        event = dict(event, elapsed=round(time.perf_counter() - self.t0, 4))
        kind = event.get("event")
        if kind == "stopped":
            self.stopped_at = time.perf_counter()
            self.state = STOPPED
        elif kind == "done":
            self.result = getattr(self.run, "last_eval", None)
        elif self.state == STARTING:
            self.state = RUNNING
        before = self.state
        with self._lock:
            if snapshot is not None:
                self._snapshots.append(snapshot)
            self._events.append(event)
            index = len(self._events) - 1
        self._write("event", index, event)
        if self.state != before:
            self._write("update")

    def _fail(self, message: str) -> None:
        self.error, self.state = message, FAILED
        event = {"event": "error", "message": message, "elapsed": round(time.perf_counter() - self.t0, 4)}
        with self._lock:
            self._events.append(event)
            index = len(self._events) - 1
        self._write("event", index, event)
        self._write("update")

    def _end(self) -> None:
        if self.state not in (FAILED, CANCELLED):
            if self.run is not None:
                self._write("results")   # weights and evaluation on disk before the record says done
            self.state = FINISHED
        self.finished_at, self.ended = time.perf_counter(), time.time()
        self._write("update")
        self._done.set()

    def _write(self, what: str, *args: Any) -> None:
        """Write a change through to the registry. A full disk or a locked file must never fail
        the run: the learner still has it in memory, only a restart would lose it."""
        journal = self.journal
        if journal is None:
            return
        try:
            if what == "event":
                journal.add_event(self.id, *args)
            elif what == "results":
                journal.save_results(self)
            else:
                journal.update(self)
        except Exception:  # noqa: BLE001 — see the docstring
            import logging

            logging.getLogger(__name__).warning("run registry: could not write %s of a run", what,
                                                exc_info=True)

    def _requeue(self, keep_events: int) -> None:
        """Waiting again (after a server restart, or its owner's restart button), keeping the
        first `keep_events` events (what its epoch checkpoint already covers)."""
        with self._lock:
            del self._events[keep_events:]
            self._snapshots.clear()
            self.state, self.error, self.interrupted = QUEUED, None, False
            self.started = self.ended = self.finished_at = self.stopped_at = None
            self.stop_requested_at = None
            self.run, self._result, self._result_loader = None, None, None
            self.stop_event = threading.Event()
            self._done = threading.Event()


class JobView:
    """What a watch link shows of a job: its curves, feature maps and results, read-only.
    No stop, no model, no owner, no id (the id is the owner's key to the run)."""

    def __init__(self, job: Job, status: Callable[[], "JobStatus"]):
        self.__job, self.__status = job, status

    number = property(lambda self: self.__job.number)
    nickname = property(lambda self: self.__job.nickname)
    state = property(lambda self: self.__job.state)
    error = property(lambda self: self.__job.error)
    error_id = property(lambda self: self.__job.error_id)
    preset = property(lambda self: self.__job.preset)
    result = property(lambda self: self.__job.result)
    stopped = property(lambda self: self.__job.stopped)
    stopped_by_teacher = property(lambda self: self.__job.stopped_by_teacher)
    active = property(lambda self: self.__job.active)
    probe_index = property(lambda self: self.__job.probe_index)
    data = property(lambda self: self.__job.data)   # the server's shared dataset (test images)

    @property
    def config(self) -> dict[str, Any]:
        return self.__job.config.to_dict()          # a copy: the view cannot change the run

    def events(self, since: int = 0) -> list[dict[str, Any]]:
        return self.__job.events(since)

    def snapshots(self) -> list[FeatureSnapshot]:
        return self.__job.snapshots()

    def progress(self) -> metrics.Progress:
        return self.__job.progress()

    def metrics(self) -> dict[str, Any]:
        return self.__job.metrics()

    def live_accuracy(self) -> float | None:
        return self.__job.live_accuracy()

    def status(self) -> "JobStatus":
        return self.__status()


@dataclass
class JobStatus:
    """Where a job stands, for the page: its queue position and the estimated times.

    position: 1 for the next run to start, … (0 once it trains or is over); start_at and
    finish_at are wall-clock (time.time()) estimates, None when over or unknown;
    seconds_to_start / seconds_to_finish count from now.
    """
    state: str
    position: int
    waiting: int                  # runs waiting on the server, this one included
    start_at: float | None
    finish_at: float | None
    seconds_to_start: float | None
    seconds_to_finish: float | None
    progress: float               # 0..1 of the training steps


@dataclass
class BoardRow:
    """One run on the teacher's board."""
    job_id: str
    nickname: str | None
    number: int
    architecture: str             # the preset name, or "custom"
    settings: dict[str, Any]      # epochs, batch size, lr, optimizer, data fraction, dataset
    state: str
    position: int
    accuracy: float | None        # live_accuracy
    progress: float
    seconds_to_finish: float | None
    created: float
    serial: int = 0               # the run's number on the server: labels stay unique
    client: str = ""              # the network that started it (a hash: never shown)


class JobSink:
    """What a backend may do to the job it runs, and nothing more: read the stop flag, record
    events (with their feature snapshots) in order, attach the run that holds the model and its
    final evaluation (before the "done" event), say where it runs, or fail with a sentence."""

    def __init__(self, job: Job):
        self._job = job

    @property
    def stop_event(self) -> threading.Event:
        """Set when Stop was pressed: the run ends before its next step."""
        return self._job.stop_event

    def record(self, event: dict[str, Any], snapshot: FeatureSnapshot | None = None) -> None:
        self._job._record(event, snapshot)

    def attach(self, run: Any) -> None:
        """The object with `.model` and `.last_eval` (a TrainingRun, or a Ray run's result)."""
        self._job.run = run

    def set_worker(self, where: dict[str, Any]) -> None:
        """Where the run trains (Ray: node, host and pid), for the teacher's view."""
        self._job.worker = dict(where)

    def fail(self, message: str) -> None:
        self._job._fail(message)
