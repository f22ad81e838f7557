"""Server-wide training jobs: a fair queue in front of a fixed number of workers, one backend
interface (local threads or a Ray cluster), polled by the web page.

A `JobManager` (one per server process; the Train page keeps it in `st.cache_resource`) owns:
  * a FIFO `queue.Queue` of waiting jobs and `workers` daemon threads that take the next job
    when they are free. Pressing Start never gets a refusal because the server is busy: the job
    waits in state "queued" with a position and an estimated start and finish time, and can be
    cancelled while it waits;
  * a backend that runs one dispatched job to its end: `LocalBackend` trains in the worker thread
    itself (today's behaviour), `core.ray_backend.RayBackend` runs it as a Ray task and streams
    its events back through one shared progress channel.
Each event, stamped with "elapsed" wall seconds since the job was dispatched, goes to the job's
lock-protected buffer; the page polls `job.events()` about once a second, so training never waits
for the browser. Between two events the feature maps of one fixed test image are recorded after
every epoch (and before the first), so the learner can watch features form.

Estimates come from measured work: a run costs multiply-adds per image × images (a training image
counts three passes — forward and backward —, a test image one) and the server's rate, in
multiply-adds per second per run, is measured from runs that finished (work ÷ wall time from the
run's "start" event to its end; the start-up before it is measured apart) and, until one has, from
the step events of the running ones; before any run, a short probe of the fast preset's
forward+backward on this machine gives a first figure. A waiting run's duration is then
start-up + work ÷ rate, and a running one's time left comes from its own pace.

Limits for a shared hosted demo (all checked before anything is allocated):
  * $CNN_LAB_TRAINING_WORKERS runs train at once (default: 2, or 1 on a one-core machine). One
    small run does not keep two cores busy — torch's intra-op threads scale poorly on 28×28
    batches, and the epoch-end evaluation, feature maps and Python between steps are serial — so
    on 2 cores two runs at once halved a class's makespan and median wait against one at a time
    (bench/class_bench.py: 30 runs, 88 s against 188 s). More workers than cores only
    time-slices them. $CNN_LAB_MAX_TRAINING_JOBS is its old name, still read;
  * $CNN_LAB_RUNS_PER_VISITOR running-or-waiting runs per owner (default 1), refused with
    `JobLimitError(own=True)`; $CNN_LAB_MAX_QUEUE waiting runs on the server (default 60);
  * at most $CNN_LAB_MAX_EPOCHS epochs per run (default 20).
Owners are opaque workspace ids; `get` only hands a job to its owner. A job's id is its owner's
capability (a reloaded page reclaims its runs with it); its `watch_token` is a second, distinct
secret that `watch()` turns into a read-only `JobView` (curves and results: no stop, no model),
for links a learner may share. `board()` and `teacher_stop()` are the teacher's view of every run.
Stopping sets the run's stop event: training ends before its next step and the job reports
"stopped" at once; the kept model is then measured on the test set.
No Streamlit here: the bench and the tests drive the same code.
"""
from __future__ import annotations

import heapq
import math
import os
import queue
import secrets
import threading
import time
import unicodedata
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Protocol

import numpy as np
import torch

from core import metrics
from core.data import Dataset
from core.models import summary
from core.train import ConfigError, EvalResult, TrainConfig, TrainingRun, check_config

WORKERS_ENV = "CNN_LAB_TRAINING_WORKERS"
MAX_JOBS_ENV = "CNN_LAB_MAX_TRAINING_JOBS"   # deprecated name of WORKERS_ENV, still honoured
PER_OWNER_ENV = "CNN_LAB_RUNS_PER_VISITOR"
MAX_QUEUE_ENV = "CNN_LAB_MAX_QUEUE"
MAX_EPOCHS_ENV = "CNN_LAB_MAX_EPOCHS"
BACKEND_ENV = "CNN_LAB_BACKEND"              # "local" (default) or "ray"; RAY_ADDRESS implies ray
DEFAULT_WORKERS = max(1, min(2, os.cpu_count() or 1))  # see the module docstring
DEFAULT_MAX_JOBS = DEFAULT_WORKERS
DEFAULT_PER_OWNER = 1
DEFAULT_MAX_QUEUE = 60
DEFAULT_MAX_EPOCHS = 20
MAX_NICKNAME = 24
PROBE_INDEX = 0  # the fixed test image whose feature maps are recorded (MNIST: a 7)
TRAIN_PASSES = 3  # a training image costs a forward and a backward pass (≈ 2 forwards)

QUEUED, STARTING, RUNNING, STOPPING, STOPPED, FINISHED, FAILED, CANCELLED = (
    "queued", "starting", "running", "stopping", "stopped", "finished", "failed", "cancelled")
ACTIVE_STATES = (QUEUED, STARTING, RUNNING, STOPPING, STOPPED)  # STOPPED: evaluating the kept model
TRAINING_STATES = (STARTING, RUNNING, STOPPING, STOPPED)        # holding a worker

RunFactory = Callable[[TrainConfig, Dataset, threading.Event], Any]


def env_int(name: str, default: int, minimum: int = 1) -> int:
    """A positive integer from the environment; a missing or unusable value gives `default`."""
    raw = os.environ.get(name, "").strip()
    try:
        value = int(raw)
    except ValueError:
        return default
    return value if value >= minimum else default


def default_workers() -> int:
    """$CNN_LAB_TRAINING_WORKERS, else the deprecated $CNN_LAB_MAX_TRAINING_JOBS, else 2 (1 on a
    one-core machine)."""
    if os.environ.get(WORKERS_ENV, "").strip():
        return env_int(WORKERS_ENV, DEFAULT_WORKERS)
    return env_int(MAX_JOBS_ENV, DEFAULT_WORKERS)


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


# --------------------------------------------------------------------------- feature snapshots

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


def _snapshot(model: Any, spec: list, probe: torch.Tensor, epoch: int, step: int) -> FeatureSnapshot | None:
    if not isinstance(model, torch.nn.Sequential):
        return None
    try:
        device = next(model.parameters()).device
        return capture_features(model, spec, probe.to(device), epoch, step)
    except Exception:  # noqa: BLE001 — pictures are a bonus; never fail the run for them
        return None


def events_with_snapshots(run: Any, data: Dataset, spec: list, probe_index: int
                          ) -> Iterator[tuple[dict[str, Any], FeatureSnapshot | None]]:
    """(event, snapshot or None) pairs from a run: a snapshot is taken at "start" and after each
    "epoch", while the generator is paused and the model is not mid-update, so the pictures never
    change training. Both backends use this one loop."""
    probe = data.normalized(data.test_images[probe_index:probe_index + 1])
    for event in run.events():
        kind = event.get("event")
        snap = None
        if kind in ("start", "epoch"):
            snap = _snapshot(run.model, spec, probe, 0 if kind == "start" else int(event["epoch"]),
                             int(event.get("step", 0)))
        yield event, snap


# --------------------------------------------------------------------------- measured work

def run_work(config: TrainConfig, train_size: int, test_size: int, num_classes: int = 10) -> float:
    """The multiply-adds a run costs: per-image work × images × epochs, training images counting
    a forward and a backward pass, plus one forward of the test set per epoch-end evaluation."""
    macs = summary(config.spec, num_classes=num_classes).total_mult_adds
    images = max(1, int(round(train_size * float(config.fraction))))
    evals = int(config.epochs) if config.eval_each_epoch else 1
    return float(macs) * (TRAIN_PASSES * images * int(config.epochs) + test_size * evals)


def probe_rate(batch: int = 64, repeats: int = 3) -> float:
    """Multiply-adds per second of the fast preset's forward+backward on this machine, measured in
    a fraction of a second: the first estimate, before any run has been measured."""
    from core.models import PRESETS, build_model

    spec = PRESETS["fast"].spec()
    model = build_model(spec)
    x, y = torch.randn(batch, 1, 28, 28), torch.randint(0, 10, (batch,))
    macs = summary(spec).total_mult_adds * TRAIN_PASSES * batch
    torch.nn.functional.cross_entropy(model(x), y).backward()  # warm-up: first-call allocations
    t0 = time.perf_counter()
    for _ in range(repeats):
        model.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
    return macs * repeats / max(time.perf_counter() - t0, 1e-6)


def schedule(workers: int, busy_seconds: list[float], waiting_seconds: list[float]
             ) -> list[tuple[float, float]]:
    """(start, finish) offsets in seconds from now for each waiting run, in queue order.

    `busy_seconds`: the time each training run still needs; `waiting_seconds`: each waiting run's
    expected duration. First come, first served: a waiting run starts when the earliest of the
    `workers` workers frees up.
    """
    free = sorted(list(busy_seconds)[:workers] + [0.0] * max(0, workers - len(busy_seconds)))
    heapq.heapify(free)
    out = []
    for duration in waiting_seconds:
        start = heapq.heappop(free)
        out.append((start, start + duration))
        heapq.heappush(free, start + duration)
    return out


def clean_nickname(raw: str | None) -> str | None:
    """A nickname fit to show on a shared screen: printable, single-line, at most 24 characters."""
    if raw is None:
        return None
    text = "".join(ch for ch in str(raw) if unicodedata.category(ch)[0] != "C").strip()
    text = " ".join(text.split())[:MAX_NICKNAME].strip()
    return text or None


# --------------------------------------------------------------------------- jobs

class Job:
    """One training run, waiting or on a worker. Read it from any thread; only its worker thread
    writes events and snapshots (under `_lock`)."""

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
        self.result: EvalResult | None = None
        self.worker: dict[str, Any] = {}      # where it runs (Ray: node and pid)
        self.created = time.time()            # wall-clock times, for display
        self.started: float | None = None
        self.ended: float | None = None
        self.t0 = time.perf_counter()         # reset when a worker takes the job
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
        with self._lock:
            if snapshot is not None:
                self._snapshots.append(snapshot)
            self._events.append(event)

    def _fail(self, message: str) -> None:
        self.error, self.state = message, FAILED
        with self._lock:
            self._events.append({"event": "error", "message": message,
                                 "elapsed": round(time.perf_counter() - self.t0, 4)})

    def _end(self) -> None:
        if self.state not in (FAILED, CANCELLED):
            self.state = FINISHED
        self.finished_at, self.ended = time.perf_counter(), time.time()
        self._done.set()


class JobView:
    """What a watch link shows of a job: its curves, feature maps and results, read-only.
    No stop, no model, no owner, no id (the id is the owner's key to the run)."""

    def __init__(self, job: Job, status: Callable[[], "JobStatus"]):
        self.__job, self.__status = job, status

    number = property(lambda self: self.__job.number)
    nickname = property(lambda self: self.__job.nickname)
    state = property(lambda self: self.__job.state)
    error = property(lambda self: self.__job.error)
    preset = property(lambda self: self.__job.preset)
    result = property(lambda self: self.__job.result)
    stopped = property(lambda self: self.__job.stopped)
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


# --------------------------------------------------------------------------- backends

class Backend(Protocol):
    """Runs one dispatched job to its end, in the calling worker thread.

    `execute` builds the run, feeds `job._record(event, snapshot)` in order, sets `job.run` (with
    .model and .last_eval) before the "done" event, honours `job.stop_event`, and raises RunFailed
    (or any exception) when the run cannot finish. `check` raises BackendError when the backend
    cannot work at all; `suggested_workers` is how many runs it can train at once."""

    name: str

    def check(self) -> None: ...

    def execute(self, job: Job) -> None: ...

    def suggested_workers(self) -> int: ...

    def close(self) -> None: ...


def _local_run(config: TrainConfig, data: Dataset, stop_event: threading.Event) -> Any:
    # Looked up at call time, so tests can replace core.jobs.TrainingRun with a scripted run.
    return TrainingRun(config, data, stop_event)


class LocalBackend:
    """Trains in the worker thread, in this process: torch's intra-op threads share the cores."""

    name = "local"

    def __init__(self, run_factory: RunFactory | None = None):
        self.run_factory: RunFactory = run_factory or _local_run

    def check(self) -> None:
        return None

    def suggested_workers(self) -> int:
        return default_workers()

    def execute(self, job: Job) -> None:
        job.run = self.run_factory(job.config, job.data, job.stop_event)
        for event, snap in events_with_snapshots(job.run, job.data, job.config.spec, job.probe_index):
            job._record(event, snap)

    def close(self) -> None:
        return None


def backend_name_from_env() -> str:
    """$CNN_LAB_BACKEND when set, else "ray" when $RAY_ADDRESS is set, else "local"."""
    chosen = os.environ.get(BACKEND_ENV, "").strip().lower()
    if chosen:
        return chosen
    return "ray" if os.environ.get("RAY_ADDRESS", "").strip() else "local"


def make_backend(name: str | None = None, **options) -> Backend:
    """"local" or "ray" (default: from the environment, see backend_name_from_env)."""
    name = (name or backend_name_from_env()).lower()
    if name == "local":
        return LocalBackend(options.get("run_factory"))
    if name == "ray":
        from core.ray_backend import RayBackend

        return RayBackend(**{k: v for k, v in options.items() if k != "run_factory"})
    raise BackendError(f"Unknown training backend '{name}'; use 'local' or 'ray' ({BACKEND_ENV}).")


# --------------------------------------------------------------------------- the manager

class JobManager:
    """All training jobs of one server process: the queue, the workers, the estimates."""

    def __init__(self, max_jobs: int | None = None, max_epochs: int | None = None,
                 run_factory: RunFactory | None = None, keep_per_owner: int = 12,
                 keep_seconds: float = 12 * 3600, keep_total: int = 200, *,
                 workers: int | None = None, per_owner: int | None = None,
                 max_waiting: int | None = None, backend: Backend | str | None = None,
                 initial_rate: float | None = None):
        if run_factory is not None:
            if backend is not None and backend != "local":
                raise ValueError("run_factory applies to the local backend only")
            backend = LocalBackend(run_factory)
        elif backend is None or isinstance(backend, str):
            backend = make_backend(backend)
        self.backend: Backend = backend
        chosen = workers if workers is not None else max_jobs  # max_jobs: the old name
        self.workers = max(1, int(chosen)) if chosen is not None else self.backend.suggested_workers()
        self.max_epochs = (max_epochs if max_epochs is not None
                           else env_int(MAX_EPOCHS_ENV, DEFAULT_MAX_EPOCHS))
        self.per_owner = per_owner if per_owner is not None else env_int(PER_OWNER_ENV, DEFAULT_PER_OWNER)
        self.max_waiting = (max_waiting if max_waiting is not None
                            else env_int(MAX_QUEUE_ENV, DEFAULT_MAX_QUEUE))
        self.keep_per_owner, self.keep_seconds, self.keep_total = keep_per_owner, keep_seconds, keep_total
        self._rate = initial_rate          # multiply-adds per second per run
        self.rate_source = "given" if initial_rate else "none"
        self._measured_runs = 0
        self._startups: list[float] = []
        self._jobs: dict[str, Job] = {}
        self._waiting: list[Job] = []      # queue order, for positions (the Queue dispatches)
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._numbers: dict[str, int] = {}
        self._lock = threading.Lock()
        self._closed = False

    @property
    def max_jobs(self) -> int:
        """Old name of `workers` (runs that train at once)."""
        return self.workers

    @property
    def run_factory(self) -> RunFactory | None:
        return getattr(self.backend, "run_factory", None)

    @run_factory.setter
    def run_factory(self, factory: RunFactory) -> None:
        if not isinstance(self.backend, LocalBackend):
            raise ValueError("run_factory applies to the local backend only")
        self.backend.run_factory = factory

    # ----------------------------------------------------------------- starting
    def start(self, owner: str, config: TrainConfig, data: Dataset,
              probe_index: int = PROBE_INDEX, nickname: str | None = None) -> Job:
        """Queue a run (it starts at once when a worker is free) and return its job, or raise
        ConfigError / SpecError (bad settings), BackendError (backend unusable) or JobLimitError
        (this owner already has `per_owner` runs running or waiting, or the queue is full)."""
        if not owner:
            raise ValueError("a job needs an owner id")
        if config.dataset != data.info.name:
            raise ConfigError(f"The settings name dataset '{config.dataset}' but the data is "
                              f"'{data.info.name}'.")
        if int(config.epochs) > self.max_epochs:
            raise ConfigError(f"This server allows at most {self.max_epochs} epochs per run "
                              f"({MAX_EPOCHS_ENV}); choose {self.max_epochs} or fewer.")
        check_config(config, len(data.info.classes))
        self.backend.check()
        work = run_work(config, len(data.train_labels), len(data.test_labels), len(data.info.classes))
        if self._rate is None:
            self._set_rate(probe_rate(), "probe")
        with self._lock:
            if self._closed:
                raise BackendError("The server is shutting down; start the run again in a moment.")
            self._prune()
            mine = [j for j in self._jobs.values() if j.owner == owner and j.active]
            if len(mine) >= self.per_owner:
                left = self._estimates().get(mine[0].id, (None, None))[1]
                raise JobLimitError(
                    "Your previous run is still in progress or waiting; stop or cancel it, or wait "
                    f"about {_fmt_seconds(left)} for it to finish.", left, own=True)
            waiting = [j for j in self._waiting if j.state == QUEUED]
            if len(waiting) >= self.max_waiting:
                left = self._estimates().get(waiting[0].id, (None, None))[0]
                raise JobLimitError(
                    f"The training queue on this server is full ({self.max_waiting} runs waiting); "
                    f"try again in about {_fmt_seconds(left)}. You can use the other pages meanwhile.",
                    left)
            self._numbers[owner] = number = self._numbers.get(owner, 0) + 1
            job = Job(secrets.token_urlsafe(12), owner, number, config, data, probe_index,
                      clean_nickname(nickname), work)
            self._jobs[job.id] = job
            self._waiting.append(job)
            self._queue.put(job)         # under the lock: queue order == positions order
            self._ensure_workers()
        return job

    def _ensure_workers(self) -> None:
        """Start the worker threads on first use (call with the lock held)."""
        while len(self._threads) < self.workers:
            t = threading.Thread(target=self._work, name=f"cnn-lab-worker-{len(self._threads)}",
                                 daemon=True)
            self._threads.append(t)
            t.start()

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:          # shutdown
                return
            with self._lock:
                if job in self._waiting:
                    self._waiting.remove(job)
                taken = job._take()
            if taken:
                job.thread = threading.current_thread()
                self._execute(job)

    def _execute(self, job: Job) -> None:
        try:
            self.backend.execute(job)
        except RunFailed as e:
            job._fail(str(e))
        except Exception as e:  # noqa: BLE001 — a failed run is reported, never kills the server
            job._fail(f"{type(e).__name__}: {e}")
        finally:
            job._end()
            self._measure(job)
            with self._lock:
                self._prune()

    # ----------------------------------------------------------------- measured rate
    @property
    def rate(self) -> float | None:
        """Multiply-adds per second one run gets on this server now (see the module doc)."""
        return self._rate

    def _set_rate(self, rate: float, source: str) -> None:
        if rate > 0 and math.isfinite(rate):
            self._rate, self.rate_source = rate, source

    def _measure(self, job: Job) -> None:
        """A run that trained to its end gives the truest figures, split in two: its start-up
        (dispatch to its "start" event: building the model, a Ray worker's data loading) and its
        rate (work ÷ the wall time from "start" to the end, evaluations included). A cold Ray
        worker's start-up (≈ 40 s: a new process imports torch and loads the data) happens once
        per worker and would otherwise make every later estimate far too long, so the start-up
        used is the smallest of the last five (a warm worker's). The rate is averaged with
        weight ½ for the newest run."""
        if job.state != FINISHED or job.stopped or not job.work or job.started is None:
            return
        start = next((e for e in job.events() if e.get("event") == "start"), None)
        seconds = job.elapsed()
        startup = float(start["elapsed"]) if start is not None else 0.0
        if seconds - startup <= 0:
            return
        sample = job.work / (seconds - startup)
        with self._lock:
            self._measured_runs += 1
            self._startups = (self._startups + [startup])[-5:]
            blended = sample if self.rate_source != "measured" else 0.5 * (self._rate + sample)
            self._set_rate(blended, "measured")

    @property
    def startup_seconds(self) -> float:
        """A run's measured start-up on a warm worker (0 until a run has finished)."""
        return min(self._startups) if self._startups else 0.0

    def _live_rate(self, training: list[Job]) -> float | None:
        """Until a run has finished: the pace of the running ones, from their step events."""
        rates = []
        for job in training:
            p = job.progress()
            start = next((e for e in job.events() if e.get("event") == "start"), None)
            running = job.elapsed() - (float(start["elapsed"]) if start is not None else 0.0)
            if p.total_steps and p.step and running > 0:
                rates.append(job.work * (p.step / p.total_steps) / running)
        return sum(rates) / len(rates) if rates else None

    # ----------------------------------------------------------------- estimates
    def _duration(self, job: Job, rate: float | None) -> float | None:
        return self.startup_seconds + job.work / rate if rate and job.work else None

    def _estimates(self) -> dict[str, tuple[float | None, float | None]]:
        """job id → (seconds to start, seconds to finish) for every active job (lock held)."""
        training = [j for j in self._jobs.values() if j.state in TRAINING_STATES]
        waiting = [j for j in self._waiting if j.state == QUEUED]
        rate = self._rate
        if self.rate_source != "measured":
            rate = self._live_rate(training) or rate
        out: dict[str, tuple[float | None, float | None]] = {}
        busy = []
        for j in training:
            # a stopping run only has its final evaluation left: count it as free now
            left = 0.0 if j.state in (STOPPING, STOPPED) else j.seconds_left()
            if left is None:
                total = self._duration(j, rate)
                left = None if total is None else max(0.0, total - j.elapsed())
            busy.append(left)
            out[j.id] = (0.0, left)
        if rate is None or any(b is None for b in busy):
            for j in waiting:
                out[j.id] = (None, None)
            return out
        durations = [self._duration(j, rate) or 0.0 for j in waiting]
        for j, (start, finish) in zip(waiting, schedule(self.workers, busy, durations)):
            out[j.id] = (start, finish)
        return out

    def status(self, job: Job) -> JobStatus:
        """Position and estimated times of one job, computed now (cheap: a few dozen jobs)."""
        with self._lock:
            waiting = [j for j in self._waiting if j.state == QUEUED]
            est = self._estimates().get(job.id, (None, None)) if job.active else (None, None)
        position = waiting.index(job) + 1 if job in waiting else 0
        now = time.time()
        to_start, to_finish = est
        p = job.progress()
        return JobStatus(job.state, position, len(waiting),
                         None if to_start is None else now + to_start,
                         None if to_finish is None else now + to_finish,
                         to_start, to_finish, p.fraction)

    def preview(self, config: TrainConfig, data: Dataset) -> tuple[float | None, float | None]:
        """(seconds to start, seconds to finish) a run started now would get (None: unknown)."""
        work = run_work(config, len(data.train_labels), len(data.test_labels), len(data.info.classes))
        with self._lock:
            est = self._estimates()
            training = [j for j in self._jobs.values() if j.state in TRAINING_STATES]
            waiting = [j for j in self._waiting if j.state == QUEUED]
            rate = self._rate if self.rate_source == "measured" else (self._live_rate(training) or self._rate)
        busy = [est[j.id][1] for j in training]
        if rate is None or any(b is None for b in busy) or any(est[j.id][1] is None for j in waiting):
            return None, None
        durations = [est[j.id][1] - est[j.id][0] for j in waiting] + [self.startup_seconds + work / rate]
        start, finish = schedule(self.workers, busy, durations)[-1]
        return start, finish

    # ----------------------------------------------------------------- pruning
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
        self._waiting = [j for j in self._waiting if j.state == QUEUED]

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

    def watch(self, token: str | None) -> JobView | None:
        """A read-only view of the job with this watch token (None for unknown tokens)."""
        if not token:
            return None
        with self._lock:
            job = next((j for j in self._jobs.values()
                        if secrets.compare_digest(j.watch_token, str(token))), None)
        return None if job is None else JobView(job, lambda: self.status(job))

    def jobs(self, owner: str) -> list[Job]:
        """The owner's jobs, oldest first."""
        with self._lock:
            return [j for j in self._jobs.values() if j.owner == owner]

    def all_jobs(self) -> list[Job]:
        """Every job on the server, oldest first (the teacher's view)."""
        with self._lock:
            return list(self._jobs.values())

    def active(self) -> list[Job]:
        """Jobs waiting or training."""
        with self._lock:
            return [j for j in self._jobs.values() if j.active]

    def training(self) -> list[Job]:
        """Jobs on a worker now."""
        with self._lock:
            return [j for j in self._jobs.values() if j.state in TRAINING_STATES]

    def waiting(self) -> list[Job]:
        """Jobs in the queue, next first."""
        with self._lock:
            return [j for j in self._waiting if j.state == QUEUED]

    def busy(self, owner: str | None = None) -> tuple[bool, float | None]:
        """Whether a run started now would wait (ignoring the owner's own runs), and roughly how
        many seconds until it would start (None: unknown)."""
        with self._lock:
            others = [j for j in self._jobs.values() if j.active and j.owner != owner]
            if len(others) < self.workers:
                return False, 0.0
            est = self._estimates()
        training = [est[j.id][1] for j in others if j.state in TRAINING_STATES]
        waiting = [est[j.id] for j in others if j.state == QUEUED]
        if any(t is None for t in training) or any(w[1] is None for w in waiting):
            return True, None
        durations = [w[1] - w[0] for w in waiting] + [0.0]
        return True, schedule(self.workers, training, durations)[-1][0]

    def set_nickname(self, job_id: str, owner: str, nickname: str | None) -> bool:
        job = self.get(job_id, owner)
        if job is None:
            return False
        job.nickname = clean_nickname(nickname)
        return True

    def board(self) -> list[BoardRow]:
        """Every run on the server for the teacher: waiting ones in queue order first, then the
        training ones, then the finished ones (newest first)."""
        with self._lock:
            jobs = list(self._jobs.values())
            waiting = [j for j in self._waiting if j.state == QUEUED]
            est = self._estimates()
        rank = {STARTING: 0, RUNNING: 0, STOPPING: 0, STOPPED: 0}
        training = [j for j in jobs if j.state in rank]
        over = sorted((j for j in jobs if not j.active), key=lambda j: -(j.ended or j.created))
        rows = []
        for j in waiting + training + over:
            c = j.config
            rows.append(BoardRow(
                j.id, j.nickname, j.number, c.preset or "custom",
                {"dataset": c.dataset, "epochs": c.epochs, "batch_size": c.batch_size, "lr": c.lr,
                 "optimizer": c.optimizer, "fraction": c.fraction, "augment": c.augment},
                j.state, waiting.index(j) + 1 if j in waiting else 0, j.live_accuracy(),
                j.progress().fraction, est.get(j.id, (None, None))[1], j.created))
        return rows

    # ----------------------------------------------------------------- control
    def stop(self, job_id: str, owner: str) -> bool:
        """Stop the owner's run (cancel it while it waits)."""
        job = self.get(job_id, owner)
        if job is None:
            return False
        self._stop(job)
        return True

    cancel = stop

    def teacher_stop(self, job_id: str) -> bool:
        """Stop (or cancel) any run on the server; the page checks the teacher key first."""
        with self._lock:
            job = self._jobs.get(job_id or "")
        if job is None:
            return False
        self._stop(job)
        return True

    def _stop(self, job: Job) -> None:
        job.stop()
        if job.state == CANCELLED:
            with self._lock:
                if job in self._waiting:
                    self._waiting.remove(job)

    def forget(self, job_id: str, owner: str) -> bool:
        """Drop a finished job (an active one must be stopped first)."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.owner != owner or job.active:
                return False
            del self._jobs[job_id]
            return True

    def shutdown(self, timeout: float = 10.0) -> None:
        """Cancel the queue, stop every run, wait for them and end the workers (tests, server
        shutdown). The manager takes no new runs afterwards."""
        with self._lock:
            self._closed = True
            jobs = list(self._jobs.values())
        for j in jobs:
            self._stop(j)
        deadline = time.monotonic() + timeout
        for j in jobs:
            j.wait(max(0.0, deadline - time.monotonic()))
        for _ in self._threads:
            self._queue.put(None)
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self.backend.close()


def _fmt_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "a moment"
    seconds = max(1, int(math.ceil(seconds)))
    return f"{seconds} s" if seconds < 90 else f"{round(seconds / 60)} min"


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
    def model(self) -> torch.nn.Module | None:
        return None if self.job is None else self.job.model

    @property
    def last_eval(self) -> EvalResult | None:
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
