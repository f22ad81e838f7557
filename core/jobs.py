"""Server-wide training jobs: one background thread per run, polled by the web page.

A `JobManager` (one per server process; the Train page keeps it in `st.cache_resource`) starts
`TrainingRun`s in daemon threads. Each thread consumes `TrainingRun.events()` and appends every
event, stamped with "elapsed" wall seconds, to the job's lock-protected buffer; the page polls
`job.events()` about once a second, so training never waits for the browser. Between two events
— while the generator is paused and the model is not mid-update — the thread also records the
feature maps of one fixed test image after every epoch (and before the first), so the learner
can watch features form.

Limits for a shared hosted demo:
  * at most $CNN_LAB_MAX_TRAINING_JOBS runs at once on the server (default 1) and one per owner;
    a refused start raises `JobLimitError` saying roughly when a slot frees up;
  * at most $CNN_LAB_MAX_EPOCHS epochs per run (default 20).
Jobs belong to an owner id (one per browser session); `get` only hands a job to its owner.
Stopping sets the run's stop event: training ends before its next step and the job reports
"stopped" at once; the kept model is then measured on the test set.
No Streamlit here: the bench and the tests drive the same code.
"""
from __future__ import annotations

import math
import os
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

from core import metrics
from core.data import Dataset
from core.train import ConfigError, EvalResult, TrainConfig, TrainingRun, check_config

MAX_JOBS_ENV = "CNN_LAB_MAX_TRAINING_JOBS"
MAX_EPOCHS_ENV = "CNN_LAB_MAX_EPOCHS"
DEFAULT_MAX_JOBS = 1
DEFAULT_MAX_EPOCHS = 20
PROBE_INDEX = 0  # the fixed test image whose feature maps are recorded (MNIST: a 7)

STARTING, RUNNING, STOPPING, STOPPED, FINISHED, FAILED = (
    "starting", "running", "stopping", "stopped", "finished", "failed")
ACTIVE_STATES = (STARTING, RUNNING, STOPPING, STOPPED)  # STOPPED: evaluating the kept model

RunFactory = Callable[[TrainConfig, Dataset, threading.Event], Any]


def env_int(name: str, default: int, minimum: int = 1) -> int:
    """A positive integer from the environment; a missing or unusable value gives `default`."""
    raw = os.environ.get(name, "").strip()
    try:
        value = int(raw)
    except ValueError:
        return default
    return value if value >= minimum else default


class JobLimitError(RuntimeError):
    """A start refused because of the demo limits; `seconds_left` estimates when a slot frees
    (None when the running job has not reported progress yet); `own` means the caller's own
    run is the one in progress."""

    def __init__(self, message: str, seconds_left: float | None = None, own: bool = False):
        super().__init__(message)
        self.seconds_left, self.own = seconds_left, own


@dataclass
class LayerMaps:
    index: int            # spec position
    name: str             # "conv1", "relu1", "pool1", …
    kind: str
    maps: np.ndarray      # float16 [C, H, W]


@dataclass
class FeatureSnapshot:
    """Feature maps of the probe image at the end of an epoch (epoch 0: before training)."""
    epoch: int
    step: int
    layers: list[LayerMaps]
    probabilities: np.ndarray   # softmax of the model's output for the probe image


def capture_features(model: torch.nn.Module, spec: list, image: torch.Tensor, epoch: int,
                     step: int) -> FeatureSnapshot:
    """Every spatial layer's output for one normalized image [1, 1, H, W], copied off the model.

    Leaves the model in eval mode; TrainingRun puts it back into train mode at each epoch start.
    """
    from core.features import layer_outputs

    outs = layer_outputs(model, spec, image)
    layers = [LayerMaps(o.index, o.name, o.kind, o.output.detach().cpu().numpy().astype(np.float16))
              for o in outs if o.output.dim() == 3]
    probs = torch.softmax(outs[-1].output.detach().double().cpu(), 0).numpy()
    return FeatureSnapshot(epoch, step, layers, probs)


def _fmt_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "a moment"
    seconds = max(1, int(math.ceil(seconds)))
    return f"{seconds} s" if seconds < 90 else f"{round(seconds / 60)} min"


class Job:
    """One training run in a background thread. Read it from any thread; only the consumer
    thread writes its events and snapshots (under `_lock`)."""

    def __init__(self, job_id: str, owner: str, number: int, config: TrainConfig, data: Dataset,
                 probe_index: int = PROBE_INDEX):
        self.id, self.owner, self.number = job_id, owner, number
        self.config, self.data = config, data
        self.stop_event = threading.Event()
        self.run: Any = None                 # the TrainingRun, once built
        self.state = STARTING
        self.error: str | None = None
        self.result: EvalResult | None = None
        self.created = time.time()
        self.t0 = time.perf_counter()
        self.stop_requested_at: float | None = None  # perf_counter times
        self.stopped_at: float | None = None
        self.finished_at: float | None = None
        self.probe_index = min(probe_index, len(data.test_labels) - 1)
        self.thread: threading.Thread | None = None
        self._events: list[dict[str, Any]] = []
        self._snapshots: list[FeatureSnapshot] = []
        self._lock = threading.Lock()
        self._done = threading.Event()

    # ----------------------------------------------------------------- reading (any thread)
    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def stopped(self) -> bool:
        """Training was ended early by Stop (the model trained so far is kept)."""
        return self.stopped_at is not None

    @property
    def model(self) -> torch.nn.Module | None:
        return None if self.run is None else self.run.model

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
        end = self.finished_at if self.finished_at is not None else time.perf_counter()
        return end - self.t0

    def progress(self) -> metrics.Progress:
        return metrics.progress(self.events(), self.elapsed())

    def seconds_left(self) -> float | None:
        return self.progress().seconds_left if self.active else 0.0

    def done_event(self) -> dict[str, Any] | None:
        with self._lock:
            last = self._events[-1] if self._events else None
        return last if last and last.get("event") == "done" else None

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has finished (or failed); False on timeout."""
        return self._done.wait(timeout)

    def stop(self) -> None:
        """Ask the run to end before its next step; the model trained so far is kept."""
        if self.stop_event.is_set():
            return
        self.stop_requested_at = time.perf_counter()
        self.stop_event.set()
        if self.state in (STARTING, RUNNING):
            self.state = STOPPING

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

    # ----------------------------------------------------------------- the consumer thread
    def _consume(self, on_exit: Callable[["Job"], None]) -> None:
        try:
            probe = self.data.normalized(
                self.data.test_images[self.probe_index:self.probe_index + 1])
            if self.state == STARTING:
                self.state = RUNNING
            for event in self.run.events():
                event = dict(event, elapsed=round(time.perf_counter() - self.t0, 4))
                kind = event.get("event")
                snap = None
                if kind in ("start", "epoch"):
                    snap = self._capture(probe, 0 if kind == "start" else int(event["epoch"]),
                                         int(event.get("step", 0)))
                elif kind == "stopped":
                    self.stopped_at = time.perf_counter()
                    self.state = STOPPED
                elif kind == "done":
                    self.result = getattr(self.run, "last_eval", None)
                with self._lock:
                    if snap is not None:
                        self._snapshots.append(snap)
                    self._events.append(event)
            self.state = FINISHED
        except Exception as e:  # noqa: BLE001 — a failed run is reported, never kills the server
            self.error = f"{type(e).__name__}: {e}"
            self.state = FAILED
            with self._lock:
                self._events.append({"event": "error", "message": self.error,
                                     "elapsed": round(time.perf_counter() - self.t0, 4)})
        finally:
            self.finished_at = time.perf_counter()
            self._done.set()
            on_exit(self)

    def _capture(self, probe: torch.Tensor, epoch: int, step: int) -> FeatureSnapshot | None:
        model = self.model
        if not isinstance(model, torch.nn.Sequential):
            return None
        try:
            device = next(model.parameters()).device
            return capture_features(model, self.config.spec, probe.to(device), epoch, step)
        except Exception:  # noqa: BLE001 — pictures are a bonus; never fail the run for them
            return None


class JobManager:
    """All training jobs of one server process."""

    def __init__(self, max_jobs: int | None = None, max_epochs: int | None = None,
                 run_factory: RunFactory | None = None, keep_per_owner: int = 12,
                 keep_seconds: float = 12 * 3600, keep_total: int = 200):
        self.max_jobs = max_jobs if max_jobs is not None else env_int(MAX_JOBS_ENV, DEFAULT_MAX_JOBS)
        self.max_epochs = (max_epochs if max_epochs is not None
                           else env_int(MAX_EPOCHS_ENV, DEFAULT_MAX_EPOCHS))
        self.run_factory: RunFactory = run_factory or (
            lambda config, data, stop_event: TrainingRun(config, data, stop_event))
        self.keep_per_owner, self.keep_seconds, self.keep_total = keep_per_owner, keep_seconds, keep_total
        self._jobs: dict[str, Job] = {}
        self._numbers: dict[str, int] = {}
        self._lock = threading.Lock()

    # ----------------------------------------------------------------- starting
    def start(self, owner: str, config: TrainConfig, data: Dataset,
              probe_index: int = PROBE_INDEX) -> Job:
        """Start a run in the background, or raise ConfigError / SpecError (bad settings) or
        JobLimitError (the server or this owner already has a run in progress)."""
        if not owner:
            raise ValueError("a job needs an owner id")
        if config.dataset != data.info.name:
            raise ConfigError(f"The settings name dataset '{config.dataset}' but the data is "
                              f"'{data.info.name}'.")
        if int(config.epochs) > self.max_epochs:
            raise ConfigError(f"This server allows at most {self.max_epochs} epochs per run "
                              f"({MAX_EPOCHS_ENV}); choose {self.max_epochs} or fewer.")
        check_config(config, len(data.info.classes))
        with self._lock:
            self._prune()
            active = [j for j in self._jobs.values() if j.active]
            mine = [j for j in active if j.owner == owner]
            if mine:
                left = mine[0].seconds_left()
                raise JobLimitError("Your previous run is still in progress; stop it or wait "
                                    f"about {_fmt_seconds(left)} for it to finish.", left, own=True)
            if len(active) >= self.max_jobs:
                lefts = [j.seconds_left() for j in active]
                known = [s for s in lefts if s is not None]
                left = min(known) if len(known) == len(lefts) else None
                raise JobLimitError(
                    f"A training run is already in progress on this server (at most "
                    f"{self.max_jobs} at once); it should end in about {_fmt_seconds(left)}. "
                    "You can use the other pages meanwhile.", left)
            self._numbers[owner] = number = self._numbers.get(owner, 0) + 1
            job = Job(secrets.token_urlsafe(12), owner, number, config, data, probe_index)
            self._jobs[job.id] = job  # reserves the slot before the (unlocked) model build
        try:
            job.run = self.run_factory(config, data, job.stop_event)
        except BaseException:
            with self._lock:
                self._jobs.pop(job.id, None)
            raise
        job.thread = threading.Thread(target=job._consume, args=(self._on_exit,),
                                      name=f"cnn-lab-train-{job.id[:6]}", daemon=True)
        job.thread.start()
        return job

    def _on_exit(self, job: Job) -> None:
        with self._lock:
            self._prune()

    def _prune(self) -> None:
        """Forget finished jobs beyond `keep_per_owner` per owner, beyond `keep_total` on the
        server, or older than `keep_seconds`, oldest first (call with the lock held). Active jobs
        are never dropped. A finished job holds its model, curves and feature maps (a few MB)."""
        now = time.time()
        per_owner: dict[str, list[Job]] = {}
        for job in self._jobs.values():
            per_owner.setdefault(job.owner, []).append(job)
        for jobs in per_owner.values():
            finished = [j for j in jobs if not j.active]
            extra = len(jobs) - self.keep_per_owner
            for j in finished:
                if extra > 0 or now - j.created > self.keep_seconds:
                    self._jobs.pop(j.id, None)
                    extra -= 1
        finished = [j for j in self._jobs.values() if not j.active]  # oldest first
        for j in finished[:max(0, len(self._jobs) - self.keep_total)]:
            self._jobs.pop(j.id, None)

    # ----------------------------------------------------------------- reading
    def get(self, job_id: str | None, owner: str) -> Job | None:
        """The job, only for its owner (None for unknown ids and other users' jobs)."""
        with self._lock:
            job = self._jobs.get(job_id or "")
        return job if job is not None and job.owner == owner else None

    def owner_of(self, job_id: str | None) -> str | None:
        """Who owns a job id: lets a reloaded page that kept the (unguessable) id in its URL
        reclaim its runs."""
        with self._lock:
            job = self._jobs.get(job_id or "")
        return job.owner if job else None

    def jobs(self, owner: str) -> list[Job]:
        """The owner's jobs, oldest first."""
        with self._lock:
            return [j for j in self._jobs.values() if j.owner == owner]

    def active(self) -> list[Job]:
        with self._lock:
            return [j for j in self._jobs.values() if j.active]

    def busy(self, owner: str | None = None) -> tuple[bool, float | None]:
        """Whether a new start would be refused now for lack of a server slot (ignoring the
        owner's own runs), and roughly how many seconds until one frees."""
        active = [j for j in self.active() if j.owner != owner]
        if len(active) < self.max_jobs:
            return False, 0.0
        lefts = [j.seconds_left() for j in active]
        return True, (min(lefts) if all(s is not None for s in lefts) else None)

    # ----------------------------------------------------------------- control
    def stop(self, job_id: str, owner: str) -> bool:
        job = self.get(job_id, owner)
        if job is None:
            return False
        job.stop()
        return True

    def forget(self, job_id: str, owner: str) -> bool:
        """Drop a finished job (an active one must be stopped first)."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.owner != owner or job.active:
                return False
            del self._jobs[job_id]
            return True

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop every job and wait for the threads (tests, server shutdown)."""
        with self._lock:
            jobs = list(self._jobs.values())
        for j in jobs:
            j.stop()
        for j in jobs:
            j.wait(timeout)
