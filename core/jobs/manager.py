"""The queue manager: a fair queue in front of a fixed number of workers, one per server process.

A `JobManager` owns a FIFO `queue.Queue` of waiting jobs and `workers` daemon threads that take
the next job when they are free. Pressing Start never gets a refusal because the server is busy:
the job waits in state "queued" with a position and an estimated start and finish time, and can
be cancelled while it waits. A worker hands the job to the backend (core.jobs.backend) with a
narrow sink to report through; each event, stamped with "elapsed" wall seconds since dispatch,
lands in the job's lock-protected buffer, which the page polls about once a second, so training
never waits for the browser.

Estimates (core.jobs.estimates): the server's rate, in multiply-adds per second per run, is
measured from runs that finished (work ÷ wall time from the run's "start" event to its end; the
start-up before it is measured apart) and, until one has, from the step events of the running
ones; before any run, `machine_rate` (a probe, taken once) gives a first figure.

Limits for a shared hosted demo (core.settings reads them; all checked before anything is
allocated): $CNN_LAB_TRAINING_WORKERS runs train at once (default: the backend's suggestion, see
core.jobs.backend.DEFAULT_WORKERS; $CNN_LAB_MAX_TRAINING_JOBS is its old name, still read);
$CNN_LAB_RUNS_PER_VISITOR running-or-waiting runs per owner (default 1), refused with
`JobLimitError(own=True)`; $CNN_LAB_MAX_QUEUE waiting runs on the server (default 60); at most
$CNN_LAB_MAX_EPOCHS epochs per run (default 20). A workspace is free, so runs are also counted
per *client* (one network, all its tabs and workspaces: core.clients): `start(client=...)` refuses
with a `ClientLimitError` (core.jobs.client_runs) over the client's runs or its share of the
queue, budgets the teacher can raise (core.budgets). `stop_waiting()` and `stop_client()` clear a
flood from the Class page. Waiting runs are taken round robin over clients
(`client_runs.fair_order`): a learner who presses Start behind one client's flood is next in line.

A run that fails shows its owner one sentence; an unexpected exception goes to the server's log
under a short id that the sentence carries (the traceback is never shown to a visitor).

Owners are opaque workspace ids; `get` only hands a job to its owner, and a job's id is its
owner's handle to it (a reloaded page finds its runs through its workspace, core.workspace). Its
`watch_token` is a second, distinct secret that `watch()` turns into a read-only `JobView`, for
links a learner may share. `board()` and `teacher_stop()` are the teacher's view of every run.
Stopping sets the run's stop event: training ends before its next step and the job reports
"stopped" at once; the kept model is then measured on the test set.

The app gets its one manager from `make_job_manager()`; tests and benches choose what it builds
with `set_factory` (e.g. a manager whose local backend trains a scripted run) instead of patching.
"""
from __future__ import annotations

import dataclasses
import logging
import math
import queue
import secrets
import sys
import threading
import time
from typing import Callable

from core import settings
from core.budgets import Budgets
from core.data import Dataset
from core.jobs import caps
from core.jobs import client_runs
from core.jobs.backend import Backend, LocalBackend, RunFactory, RunRequest
from core.jobs.estimates import (estimate_vs_actual, format_seconds, machine_rate, pace_rate, rate_per_run,
                                 run_work, schedule, time_left, usable_cores)
from core.jobs.job import BoardRow, Job, JobSink, JobStatus, JobView, clean_nickname
from core.jobs.snapshots import PROBE_INDEX
from core.jobs.states import (CANCELLED, FAILED, FINISHED, QUEUED, RUNNING, STARTING, STOPPED, STOPPING,
                              TRAINING_STATES, BackendError, JobLimitError, RunFailed)
from core.train_config import ConfigError, TrainConfig, check_config

if False:  # typing only (no import cycle at run time)
    from core.jobs.registry import RunRegistry
log = logging.getLogger("cnn_lab.jobs")


def backend_name_from_env() -> str:
    """$CNN_LAB_BACKEND when set, else "ray" when $RAY_ADDRESS is set, else "local"."""
    return settings.backend()


def make_backend(name: str | None = None, **options) -> Backend:
    """"local", "process" or "ray" (default: from the environment, see backend_name_from_env)."""
    name = (name or backend_name_from_env()).lower()
    if name == "local":
        return LocalBackend(options.get("run_factory"))
    if name == "process":
        from core.jobs.process_backend import ProcessBackend

        backend = ProcessBackend()
        backend.warm_in_background()
        return backend
    if name == "ray":
        from core.jobs.ray_backend import RayBackend

        return RayBackend(**{k: v for k, v in options.items() if k != "run_factory"})
    raise BackendError(f"Unknown training backend '{name}'; use 'local', 'process' or 'ray' ({settings.BACKEND}).")


class JobManager:
    """All training jobs of one server process: the queue, the workers, the estimates."""

    def __init__(self, max_jobs: int | None = None, max_epochs: int | None = None,
                 run_factory: RunFactory | None = None, keep_per_owner: int = 12,
                 keep_seconds: float = 12 * 3600, keep_total: int = 200, *,
                 workers: int | None = None, per_owner: int | None = None,
                 max_waiting: int | None = None, backend: Backend | str | None = None,
                 initial_rate: float | None = None, registry: "RunRegistry | None" = None,
                 data_loader: Callable[[TrainConfig], Dataset | None] | None = None,
                 resume: bool = True):
        if run_factory is not None:
            if backend is not None and backend != "local":
                raise ValueError("run_factory applies to the local backend only")
            backend = LocalBackend(run_factory)
        elif backend is None or isinstance(backend, str):
            backend = make_backend(backend)
        self.backend: Backend = backend
        chosen = workers if workers is not None else max_jobs  # max_jobs: the old name
        if chosen is None:
            chosen = settings.training_workers() or self.backend.suggested_workers()
        self.workers = max(1, int(chosen))
        self.max_epochs = max_epochs if max_epochs is not None else settings.max_epochs()
        self.per_owner = per_owner if per_owner is not None else settings.runs_per_visitor()
        self.max_waiting = max_waiting if max_waiting is not None else settings.max_queue()
        self.keep_per_owner, self.keep_seconds, self.keep_total = keep_per_owner, keep_seconds, keep_total
        self._rate = initial_rate          # multiply-adds per second per run
        self.rate_source = "given" if initial_rate else "none"
        self._measured_runs = 0
        self._startups: list[float] = []
        self._jobs: dict[str, Job] = {}
        self._waiting: list[Job] = []      # queue order (fair over clients), for positions and dispatch
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._numbers: dict[str, int] = {}
        self._serial = 0                   # runs started on this server: a run's number for the teacher
        self._lock = threading.Lock()
        self._closed = False
        # Durable runs (branch durable, core.jobs.registry): every run written through to disk and
        # read back here, so a restart loses nothing; `data_loader` gives a stored run's data back
        # (default: the named dataset, core.data); without `resume`, runs cut off while training
        # are shown as interrupted with a restart button instead of continuing on their own.
        self.registry = registry
        self._data_loader = data_loader or _load_named_dataset
        self.resume = resume
        self.restored = 0
        if registry is not None:
            self._restore()

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
              probe_index: int = PROBE_INDEX, nickname: str | None = None, *,
              client: str | None = None, budgets: Budgets | None = None) -> Job:
        """Queue a run (it starts at once when a worker is free) and return its job, or raise
        ConfigError / SpecError (bad settings), BackendError (backend unusable) or JobLimitError
        (this owner already has `per_owner` runs running or waiting, or the queue is full; a
        ClientLimitError when `client` — the network, over all its workspaces — holds its share:
        `budgets`, default the settings, name how much)."""
        if not owner:
            raise ValueError("a job needs an owner id")
        if config.dataset != data.info.name:
            raise ConfigError(f"The settings name dataset '{config.dataset}' but the data is "
                              f"'{data.info.name}'.")
        if int(config.epochs) > self.max_epochs:
            raise ConfigError(f"This server allows at most {self.max_epochs} epochs per run "
                              f"({settings.MAX_EPOCHS}); choose {self.max_epochs} or fewer.")
        check_config(config, len(data.info.classes))
        self.backend.check()
        work = run_work(config, len(data.train_labels), len(data.test_labels), len(data.info.classes))
        if self._rate is None:
            self._set_rate(self._first_rate(), "probe")
        caps.check_duration(self, config, work, len(data.info.classes))  # RunTooLong: what to shrink
        with self._lock:
            if self._closed:
                raise BackendError("The server is shutting down; start the run again in a moment.")
            self._prune()
            mine = [j for j in self._jobs.values() if j.owner == owner and j.active]
            if len(mine) >= self.per_owner:
                left = self._estimates().get(mine[0].id, (None, None))[1]
                raise JobLimitError(
                    "Your previous run is still in progress or waiting; stop or cancel it, or wait "
                    f"about {format_seconds(left)} for it to finish.", left, own=True)
            limits = client_runs.ClientRunLimits.of(budgets or Budgets.from_env())
            refused = client_runs.refusal(client, self._jobs.values(), limits, self.max_waiting)
            if refused is not None:
                ends = [self._estimates().get(j.id, (None, None))[1] for j in self._jobs.values()
                        if j.client == client and j.active]
                refused.seconds_left = min((e for e in ends if e is not None), default=None)
                raise refused
            waiting = [j for j in self._waiting if j.state == QUEUED]
            if len(waiting) >= self.max_waiting:
                left = self._estimates().get(waiting[0].id, (None, None))[0]
                raise JobLimitError(
                    f"The training queue on this server is full ({self.max_waiting} runs waiting); "
                    f"try again in about {format_seconds(left)}. You can use the other pages meanwhile.",
                    left)
            self._numbers[owner] = number = self._numbers.get(owner, 0) + 1
            job = Job(secrets.token_urlsafe(12), owner, number, config, data, probe_index,
                      clean_nickname(nickname), work)
            self._serial += 1
            job.client, job.serial = client, self._serial
            self._jobs[job.id] = job
            if self.registry is not None:
                job.journal = self.registry
                self.registry.add(job)
            self._waiting.append(job)
            self._refair()
            self._queue.put(job)         # one token per waiting run; workers take _waiting[0]
            self._ensure_workers()
            job.estimate_at_submit = self._estimates().get(job.id, (None, None))
        return job

    def _ensure_workers(self) -> None:
        """Start the worker threads on first use (call with the lock held)."""
        while len(self._threads) < self.workers:
            t = threading.Thread(target=self._work, name=f"cnn-lab-worker-{len(self._threads)}",
                                 daemon=True)
            self._threads.append(t)
            t.start()

    def _refair(self) -> None:
        """Put the waiting runs in the order workers take them (lock held): round robin over
        clients, first come first within (core.jobs.client_runs.fair_order)."""
        training = [j for j in self._jobs.values() if j.state in TRAINING_STATES]
        self._waiting = client_runs.fair_order([j for j in self._waiting if j.state == QUEUED], training)

    def _work(self) -> None:
        # Each queued token stands for one waiting run; the worker takes whichever run is first
        # in the fair order now (tokens never run short: a run leaves _waiting only by being taken
        # or cancelled, and every start put one token).
        while True:
            token = self._queue.get()
            if token is None:          # shutdown
                return
            with self._lock:
                self._refair()
                job = self._waiting.pop(0) if self._waiting else None
                taken = job is not None and job._take()
            if taken:
                job.thread = threading.current_thread()
                self._execute(job)

    def _execute(self, job: Job) -> None:
        sink = caps.guard(JobSink(job), job, self)   # stops a run that overruns its estimate
        config = job.config
        if self.registry is not None:   # the run writes its epoch checkpoint there (and resumes)
            config = dataclasses.replace(config, epoch_state=str(self.registry.epoch_state_path(job.id)))
        try:
            while True:
                try:
                    self.backend.execute(RunRequest(job.id, config, job.data, job.probe_index), sink)
                    break
                except RunFailed as e:
                    if not self._continue_after_worker_died(job, e):
                        raise
        except RunFailed as e:
            sink.fail(str(e))
        except Exception as e:  # noqa: BLE001 — a failed run is reported, never kills the server
            job.error_id = error_id = secrets.token_hex(4)
            log.error("CNN Lab error %s: run %s failed", error_id, job.serial, exc_info=e)
            sink.fail(f"Something went wrong on the server (error {error_id}); start the run again, "
                      f"and if it fails again tell the teacher this id.")
        finally:
            sink.close()
            job._end()
            self._measure(job)
            with self._lock:
                self._prune()

    # ----------------------------------------------------------------- measured rate
    @property
    def rate(self) -> float | None:
        """Multiply-adds per second one run gets on this server now (see the module doc)."""
        return self._rate

    def _first_rate(self) -> float:
        """Before any run was measured: the probe, shared among the runs that train on this
        machine's cores at once (2 workers on 1 core: half each; measured in a 30-learner lesson,
        the unshared probe promised starts 2–2.5 times too early). A Ray cluster's workers have
        cores of their own."""
        machine = machine_rate()
        if getattr(self.backend, "name", "") not in ("local", "process"):
            return machine
        return rate_per_run(machine, usable_cores(), self.workers)

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
        rate = pace_rate(self._rate, self._live_rate(training))
        out: dict[str, tuple[float | None, float | None]] = {}
        busy = []
        for j in training:
            # a stopping run only has its final evaluation left: count it as free now
            left = 0.0 if j.state in (STOPPING, STOPPED) else time_left(
                j.seconds_left(), self._duration(j, rate), j.elapsed())
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
            rate = pace_rate(self._rate, self._live_rate(training))
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
                    self._drop(j)
                    extra -= 1
        finished = [j for j in self._jobs.values() if not j.active]  # oldest first
        for j in finished[:max(0, len(self._jobs) - self.keep_total)]:
            self._drop(j)
        self._refair()

    def _drop(self, job: Job) -> None:
        """Forget a finished job, on disk too (what the pages cannot show is not kept)."""
        self._jobs.pop(job.id, None)
        if self.registry is not None:
            self.registry.delete(job.id)

    # ----------------------------------------------------------------- restoring (durable runs)
    def _restore(self) -> None:
        """Read the registry back: finished runs as they ended, waiting runs queued again in their
        order, runs cut off while training continued from their last completed epoch (first, in
        their order) — or, without `resume`, shown as interrupted with a restart button."""
        from core.checkpoint import clean_stale_temp_files
        from core.train_state import load_epoch_state

        registry = self.registry
        registry.expire(self.keep_seconds)
        clean_stale_temp_files(registry.folder)
        fields = {f.name for f in dataclasses.fields(TrainConfig)}
        datasets: dict[tuple, Dataset | None] = {}
        resumed: list[Job] = []
        queued: list[Job] = []
        for stored in registry.load():
            config = TrainConfig(**{k: v for k, v in stored.config.items() if k in fields})
            key = (config.dataset, tuple(config.classes or ()), config.data_folder, config.validation_share)
            if key not in datasets:
                try:
                    datasets[key] = self._data_loader(config)
                except Exception:  # noqa: BLE001 — its data is gone: the run cannot be shown
                    datasets[key] = None
            data = datasets[key]
            if data is None:
                continue               # kept on disk until it expires
            job = Job(stored.id, stored.owner, stored.number, config, data, stored.probe_index,
                      stored.nickname, stored.work)
            job.watch_token, job.created = stored.watch_token, stored.created
            job.started, job.ended, job.error = stored.started, stored.ended, stored.error
            job.stopped_by_teacher = stored.stopped_by_teacher
            job._events = list(stored.events)
            job.journal = registry
            self._numbers[job.owner] = max(self._numbers.get(job.owner, 0), job.number)
            self._jobs[job.id] = job
            if stored.has_model and stored.events and stored.events[-1].get("event") == "done":
                stored.state = FINISHED   # killed after its results were written, before its state
            if stored.state in (FINISHED, FAILED, CANCELLED):
                job.state = stored.state
                now = time.perf_counter()
                job.t0 = now - max(0.0, (stored.ended or 0) - (stored.started or stored.ended or 0))
                job.finished_at = now
                job.stopped_at = now if stored.stopped else None
                if stored.has_model:
                    job.run = _StoredModel(registry, job.id)
                    job._result_loader = lambda rid=job.id: registry.load_eval(rid)
                job._done.set()
            elif stored.state == QUEUED:
                job._requeue(0)
                queued.append(job)
            elif self.resume:
                state = load_epoch_state(registry.epoch_state_path(job.id))
                done_epochs = state["epoch"] if state else 0
                keep = _events_through_epoch(stored.events, done_epochs)
                job._requeue(keep)
                registry.truncate_events(job.id, keep)
                if stored.state in (STOPPING, STOPPED):
                    job.stop_event.set()   # Stop was pressed: end at once and keep the model
                resumed.append(job)
            else:
                job.state, job.interrupted, job.error = FAILED, True, INTERRUPTED_MESSAGE
                job.ended = time.time()
                job.finished_at = time.perf_counter()
                job._done.set()
            registry.update(job)
            self.restored += 1
        with self._lock:
            for job in resumed + queued:
                self._waiting.append(job)
                self._queue.put(job)
            if resumed or queued:
                self._ensure_workers()

    def _continue_after_worker_died(self, job: Job, error: RunFailed) -> bool:
        """A run whose worker process died (kill -9, the host's OOM killer) continues once from
        its last epoch checkpoint instead of failing; True when it will. A run that failed for
        itself (out of its memory, a bad setting) fails as before."""
        from core.train_state import load_epoch_state

        died = sys.modules.get("core.jobs.process_backend")
        if (self.registry is None or not self.resume or job.stop_event.is_set() or died is None
                or str(error) != died.DIED_SENTENCE or getattr(job, "_worker_resumes", 0) >= 1):
            return False
        job._worker_resumes = getattr(job, "_worker_resumes", 0) + 1
        state = load_epoch_state(self.registry.epoch_state_path(job.id))
        keep = _events_through_epoch(job.events(), state["epoch"] if state else 0)
        with job._lock:
            del job._events[keep:]
        self.registry.truncate_events(job.id, keep)
        return True

    def restart(self, job_id: str, owner: str) -> bool:
        """Start again, from the beginning, the owner's run that a server restart interrupted."""
        job = self.get(job_id, owner)
        if job is None or not job.interrupted:
            return False
        with self._lock:
            if self._closed:
                return False
            job._requeue(0)
            if self.registry is not None:
                self.registry.truncate_events(job.id, 0)
                self.registry.epoch_state_path(job.id).unlink(missing_ok=True)
                self.registry.update(job)
            self._waiting.append(job)
            self._queue.put(job)
            self._ensure_workers()
        return True

    # ----------------------------------------------------------------- reading
    def get(self, job_id: str | None, owner: str) -> Job | None:
        """The job, only for its owner (None for unknown ids and other users' jobs)."""
        with self._lock:
            job = self._jobs.get(job_id or "")
        return job if job is not None and job.owner == owner else None

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
        job._write("update")
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
                j.progress().fraction, est.get(j.id, (None, None))[1], j.created, j.serial, j.client or ""))
        return rows

    def estimate_report(self) -> list[dict]:
        """Every run on the server, oldest first: its number, nickname and state, and what the
        page promised at submit time against what happened (estimates.estimate_vs_actual), for the
        Class page and bench/class_load.py."""
        with self._lock:
            jobs = list(self._jobs.values())
        return [dict(number=j.number, nickname=j.nickname, state=j.state,
                     **estimate_vs_actual(j.created, j.started, j.ended, j.estimate_at_submit))
                for j in jobs]

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
        if job.active and not job.queued:
            job.stopped_by_teacher = True   # the learner's page says who stopped it
        self._stop(job)
        return True

    def stop_waiting(self) -> int:
        """Teacher: cancel every run waiting in the queue (a flood); returns how many."""
        with self._lock:
            waiting = [j for j in self._waiting if j.state == QUEUED]
        for j in waiting:
            self._stop(j)
        return sum(j.state == CANCELLED for j in waiting)

    def stop_client(self, client: str) -> int:
        """Teacher: stop (or cancel) every active run of one client, over all its workspaces;
        returns how many."""
        if not client:
            return 0
        with self._lock:
            theirs = [j for j in self._jobs.values() if j.client == client and j.active]
        for j in theirs:
            self._stop(j)
        return len(theirs)

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
            self._drop(job)
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


INTERRUPTED_MESSAGE = "This run was interrupted by a server restart; start it again."


def _events_through_epoch(events: list[dict], epoch: int) -> int:
    """How many leading events an epoch checkpoint after `epoch` epochs covers: everything up to
    and including that epoch's "epoch" event (0 epochs: none — the run starts over)."""
    if epoch <= 0:
        return 0
    for i, e in enumerate(events):
        if e.get("event") == "epoch" and int(e.get("epoch", -1)) == epoch:
            return i + 1
    return 0


def _load_named_dataset(config: TrainConfig) -> Dataset | None:
    """A stored run's data: the named built-in dataset (runs on your own classes are not kept:
    their images lived in the visitor's session)."""
    if config.dataset == "custom":
        return None
    from core.data import load_dataset

    return load_dataset(config.dataset, progress=False)


class _StoredModel:
    """A restored run's model holder: the weights are read from disk the first time they are asked
    for (a restart with a thousand stored runs reads none of them)."""

    def __init__(self, registry: "RunRegistry", run_id: str):
        self._registry, self._id = registry, run_id
        self._model = None
        self._lock = threading.Lock()

    @property
    def model(self):
        with self._lock:
            if self._model is None:
                self._model = self._registry.load_model(self._id)
            return self._model

    @property
    def last_eval(self):
        return self._registry.load_eval(self._id)


def default_registry() -> "RunRegistry | None":
    """The server's run registry: $CNN_LAB_CHECKPOINT_DIR/runs (or $CNN_LAB_RUN_REGISTRY), or None
    when neither is set or $CNN_LAB_RUN_REGISTRY is 0 (tests and a local user's one-off server keep
    runs in memory only)."""
    from core.jobs.registry import RunRegistry

    folder = settings.run_registry_dir()
    return None if folder is None else RunRegistry(folder)


def durable_job_manager() -> JobManager:
    """A JobManager with the server's registry (the default `make_job_manager` builds)."""
    registry = default_registry()
    if registry is None:
        return JobManager()
    return JobManager(registry=registry, keep_seconds=settings.run_retention_days() * 86400,
                      resume=settings.resume_runs())


_factory: Callable[[], JobManager] = durable_job_manager


def set_factory(factory: Callable[[], JobManager] | None) -> Callable[[], JobManager]:
    """Choose what `make_job_manager` builds (None: a plain `JobManager()` again); returns the
    factory it replaces, so a test can put it back."""
    global _factory
    previous, _factory = _factory, (factory or durable_job_manager)
    return previous


def make_job_manager() -> JobManager:
    """The server's job manager, as the app builds it (once per process): every setting is
    checked first, so a bad CNN_LAB_* value stops the server with its sentence."""
    settings.check()
    return _factory()
