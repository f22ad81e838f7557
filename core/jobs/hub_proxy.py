"""An app server's side of the class hub (core.jobs.class_hub): `HubManager` answers the pages as a
JobManager does, by calling the one hub actor every app server of the class shares.

What the pages use of a JobManager is its reading calls (get, watch, jobs, all_jobs, waiting,
training, status, busy, preview, board), its control calls (start, stop/cancel, teacher_stop,
stop_waiting, stop_client, set_nickname, forget, restart) and a few figures (workers,
max_epochs, max_waiting); of a Job, its fields, `events(since)`, `snapshots()`, `progress()`,
`result`, `model`, `data` and `checkpoint_metadata`. `RemoteJob` is that Job, kept in step with
the hub incrementally:

  * one `sync` call per job per SYNC_SECONDS at most brings its fields and only the events and
    feature snapshots after the ones this server already holds (a live view polled once a second
    moves a few events, not the whole history); a run that is over and fully copied is never
    asked about again;
  * the final evaluation and the model (as checkpoint bytes, rebuilt here without unpickling) are
    fetched once, when first asked for;
  * the test images come from this server's own copy of a named dataset (every app server has the
    data folder), from the Dataset it started the run with, or from the hub for a learner's own
    classes started on another server.

A RemoteJob object lives as long as the proxy (one per server process), so the counts it holds
carry over page reruns and visitors. Calls run from Streamlit's short-lived script threads; Ray
is initialised once, in a long-lived thread of the proxy's own (Ray's driver state belongs to the
thread that initialised it, see core.jobs.ray_backend).
"""
from __future__ import annotations

import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator

from core import settings
from core.data import CUSTOM
from core.jobs.job import Job, JobView
from core.jobs.states import ACTIVE_STATES, TRAINING_STATES, BackendError

SYNC_SECONDS = 0.25       # a job's fields and new events are asked for at most this often
CONNECT_SECONDS = 120.0
UNREACHABLE = ("The class's training hub cannot be reached right now; wait a moment and try again "
               "(nothing saved is lost).")


class RemoteJob:
    """A run owned by the class hub, as the pages read a core.jobs.Job (see the module doc)."""

    def __init__(self, proxy: "HubManager", fields: dict[str, Any], data=None):
        self._proxy = proxy
        self._events: list[dict[str, Any]] = []
        self._snapshots: list = []
        self._lock = threading.Lock()
        self._synced_at = 0.0
        self._result = self._model = None
        self._result_done = self._model_done = False
        self._data = data
        self.stop_event = threading.Event()
        self._apply(fields)

    # ----------------------------------------------------------------- keeping in step
    def _apply(self, fields: dict[str, Any]) -> None:
        self.__dict__.update({k: v for k, v in fields.items() if k not in ("elapsed", "stop_set")})
        self._elapsed, self._fields_at = fields["elapsed"], time.perf_counter()
        if fields["stop_set"]:
            self.stop_event.set()
        elif self.stop_event.is_set():      # restarted: a fresh stop flag, as Job._requeue does
            self.stop_event = threading.Event()
        if fields["state"] in ACTIVE_STATES:  # a restarted run gets new results
            self._result = self._model = None
            self._result_done = self._model_done = False

    def _complete(self) -> bool:
        return self.state not in ACTIVE_STATES and len(self._events) >= self.n_events \
            and len(self._snapshots) >= self.n_snapshots

    def _sync(self, force: bool = False) -> None:
        with self._lock:
            if not force and (self._complete() or time.perf_counter() - self._synced_at < SYNC_SECONDS):
                return
            have, last = len(self._events), (self._events[-1] if self._events else None)
            got = self._proxy._call("sync", self.id, None, have, last, len(self._snapshots))
            self._synced_at = time.perf_counter()
            if got is None:                 # forgotten on the hub: what is held here stays
                return
            fields, first_event, events, first_snap, snaps = got
            del self._events[first_event:]
            self._events.extend(events)
            del self._snapshots[first_snap:]
            self._snapshots.extend(snaps)
            self._apply(fields)

    # ----------------------------------------------------------------- Job's reading API
    active = Job.active
    queued = Job.queued
    preset = Job.preset
    progress = Job.progress
    seconds_left = Job.seconds_left
    live_accuracy = Job.live_accuracy
    metrics = Job.metrics
    checkpoint_metadata = Job.checkpoint_metadata

    def events(self, since: int = 0) -> list[dict[str, Any]]:
        self._sync()
        with self._lock:
            return list(self._events[since:])

    def event_count(self) -> int:
        self._sync()
        return len(self._events)

    def snapshots(self) -> list:
        self._sync()
        with self._lock:
            return list(self._snapshots)

    def done_event(self) -> dict[str, Any] | None:
        self._sync()
        with self._lock:
            last = self._events[-1] if self._events else None
        return last if last and last.get("event") == "done" else None

    def elapsed(self) -> float:
        """The hub's figure, moved on by the time since it came (while the run trains)."""
        if self.state in TRAINING_STATES:
            return self._elapsed + time.perf_counter() - self._fields_at
        return self._elapsed

    @property
    def result(self):
        if not self._result_done and self.state not in ACTIVE_STATES:
            self._result = self._proxy._call("result", self.id)
            self._result_done = True
        return self._result

    @property
    def model(self):
        if not self.has_model:
            return None
        if not self._model_done:
            from core.checkpoint import CheckpointError, load_checkpoint_bytes

            data = self._proxy._call("model_bytes", self.id)
            try:
                self._model = None if data is None else load_checkpoint_bytes(data, "the run").model
            except CheckpointError:
                self._model = None
            self._model_done = True
        return self._model

    @property
    def run(self):
        """What Job.run answers about: whether a model is held (the model itself: `model`)."""
        return SimpleNamespace(model=self.model, last_eval=self.result) if self.has_model else None

    @property
    def data(self):
        if self._data is None:
            self._data = self._proxy._dataset_of(self)
        return self._data

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the run is over (polled); False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self._sync(force=True)
            if self.state not in ACTIVE_STATES:
                return True
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(SYNC_SECONDS)

    def follow(self, poll: float = SYNC_SECONDS, timeout: float | None = None) -> Iterator[dict[str, Any]]:
        deadline = None if timeout is None else time.monotonic() + timeout
        seen = 0
        while True:
            self._sync(force=True)
            over = self.state not in ACTIVE_STATES
            new = self.events(seen)
            seen += len(new)
            yield from new
            if over and seen >= self.n_events:
                return
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"job {self.number} did not end within {timeout} s")
            time.sleep(poll)

    def stop(self) -> None:
        self._proxy._call("stop", self.id, self.owner)
        self._synced_at = 0.0

    cancel = stop


class HubManager:
    """A JobManager's page-facing API, answered by the class hub (see the module doc)."""

    shared = True   # the Class page may say that several servers share this queue

    def __init__(self, hub=None, ray=None, *, name: str | None = None,
                 address: str | None = None, connect_seconds: float = CONNECT_SECONDS):
        self.name = name or settings.class_hub()
        self._hub, self._ray = hub, ray
        self._jobs: dict[str, RemoteJob] = {}
        self._lock = threading.Lock()
        self._datasets: dict[str, Any] = {}
        self._closing = threading.Event()
        if hub is None:
            self._connect(address if address is not None else settings.ray_address(), connect_seconds)
        self._facts = self._call("ping")

    # ----------------------------------------------------------------- connection
    def _connect(self, address: str | None, seconds: float) -> None:
        ready, error = threading.Event(), []

        def hold() -> None:
            try:
                from core.jobs.class_hub import get_or_create
                from core.jobs.ray_backend import ray_module

                ray = ray_module()
                if not ray.is_initialized():
                    core_dir = str(Path(__file__).resolve().parents[1])
                    ray.init(address=address or "auto", logging_level="ERROR", log_to_driver=False,
                             runtime_env={"py_modules": [core_dir], "excludes": ["__pycache__"]})
                self._ray, self._hub = ray, get_or_create(ray, self.name)
            except Exception as e:  # noqa: BLE001 — said in one sentence below
                error.append(e)
            finally:
                ready.set()
            self._closing.wait()   # Ray's driver state stays with this thread (module doc)

        threading.Thread(target=hold, name="cnn-lab-hub-proxy", daemon=True).start()
        if not ready.wait(seconds):
            raise BackendError(f"Could not reach the Ray cluster within {seconds:.0f} s.")
        if error:
            if isinstance(error[0], BackendError):
                raise error[0]
            text = str(error[0]).strip()
            first = text.splitlines()[0][:200] if text else type(error[0]).__name__
            raise BackendError(f"Could not reach the class hub on the Ray cluster: {first}")

    def _call(self, method: str, *args, timeout: float = 60.0):
        """One call on the hub; the refusals the manager raises come back as themselves, a hub
        that cannot be reached as one BackendError sentence."""
        ray = self._ray
        try:
            return ray.get(getattr(self._hub, method).remote(*args), timeout=timeout)
        except ray.exceptions.RayTaskError as e:
            cause = getattr(e, "cause", None)
            if isinstance(cause, Exception):
                raise cause from None
            raise BackendError(UNREACHABLE) from None
        except (ray.exceptions.RayError, TimeoutError):
            raise BackendError(UNREACHABLE) from None

    # ----------------------------------------------------------------- figures
    workers = property(lambda self: self._facts["workers"])
    max_jobs = workers
    max_epochs = property(lambda self: self._facts["max_epochs"])
    max_waiting = property(lambda self: self._facts["max_waiting"])
    per_owner = property(lambda self: self._facts["per_owner"])

    @property
    def rate(self) -> float | None:
        return self._call("rate")[0]

    @property
    def startup_seconds(self) -> float:
        return self._call("rate")[2]

    # ----------------------------------------------------------------- jobs here
    def _job(self, fields: dict[str, Any] | None, data=None) -> RemoteJob | None:
        """The one RemoteJob of this server for a run, its fields brought up to date."""
        if fields is None:
            return None
        with self._lock:
            job = self._jobs.get(fields["id"])
            if job is None:
                job = self._jobs[fields["id"]] = RemoteJob(self, fields, data)
                return job
        with job._lock:
            job._apply(fields)
        return job

    def _jobs_of(self, rows: list[dict]) -> list[RemoteJob]:
        return [self._job(f) for f in rows]

    def _dataset_of(self, job: RemoteJob):
        """The run's test images: this server's copy of the named dataset, else the hub's."""
        if job.dataset != CUSTOM:
            with self._lock:
                if job.dataset not in self._datasets:
                    from core.jobs.manager import _load_named_dataset

                    try:
                        self._datasets[job.dataset] = _load_named_dataset(job.config)
                    except Exception:  # noqa: BLE001 — then the hub's copy
                        self._datasets[job.dataset] = None
                data = self._datasets[job.dataset]
            if data is not None:
                return data
        return self._call("data", job.id, timeout=300)

    # ----------------------------------------------------------------- starting
    def start(self, owner: str, config, data, probe_index: int = 0, nickname: str | None = None, *,
              client: str | None = None, budgets=None) -> RemoteJob:
        """As JobManager.start (same refusals); a named dataset travels by name."""
        if not owner:
            raise ValueError("a job needs an owner id")
        sent = data.info.name if self._by_name(data) else data
        fields = self._call("start", owner, config, sent, probe_index, nickname, client, budgets,
                            timeout=300)
        return self._job(fields, data)

    def _by_name(self, data) -> bool:
        """Whether the hub can load this data itself: a built-in dataset, whole (not a custom or
        cut-down one)."""
        if data.info.name == CUSTOM:
            return False
        from core.data import get_info

        try:
            get_info(data.info.name)
        except Exception:  # noqa: BLE001 — not a named dataset: send it
            return False
        return True

    def restart(self, job_id: str, owner: str) -> bool:
        done = self._call("restart", job_id, owner)
        self._refresh(job_id)
        return done

    # ----------------------------------------------------------------- reading
    def _refresh(self, job_id: str) -> None:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is not None:
            job._sync(force=True)

    def get(self, job_id: str | None, owner: str) -> RemoteJob | None:
        """The owner's run (None for unknown ids and other people's runs), its events brought up
        to date incrementally."""
        if not job_id or not owner:
            return None
        with self._lock:
            job = self._jobs.get(job_id)
        if job is not None:
            if job.owner != owner:
                return None
            job._sync()
            return job
        got = self._call("sync", job_id, owner, 0, None, 0)
        if got is None:
            return None
        job = self._job(got[0])
        with job._lock:
            job._events[:] = got[2]
            job._snapshots[:] = got[4]
            job._synced_at = time.perf_counter()
        return job

    def watch(self, token: str | None) -> JobView | None:
        if not token:
            return None
        job_id = self._call("watch", str(token))
        if job_id is None:
            return None
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            got = self._call("sync", job_id, None, 0, None, 0)
            if got is None:
                return None
            job = self._job(got[0])
            with job._lock:
                job._events[:], job._snapshots[:] = got[2], got[4]
                job._synced_at = time.perf_counter()
        else:
            job._sync()
        return JobView(job, lambda: self.status(job))

    def jobs(self, owner: str) -> list[RemoteJob]:
        return self._jobs_of(self._call("jobs", owner))

    def all_jobs(self) -> list[RemoteJob]:
        """Every run of the class; runs the hub has forgotten (pruned, expired) are dropped here
        too, so this server's copies stay as few as the hub's runs."""
        jobs = self._jobs_of(self._call("all_jobs"))
        alive = {j.id for j in jobs}
        with self._lock:
            for gone in [i for i, j in self._jobs.items() if i not in alive and not j.active]:
                del self._jobs[gone]
        return jobs

    def active(self) -> list[RemoteJob]:
        return self._jobs_of(self._call("active"))

    def training(self) -> list[RemoteJob]:
        return self._jobs_of(self._call("training"))

    def waiting(self) -> list[RemoteJob]:
        return self._jobs_of(self._call("waiting"))

    def status(self, job):
        status = self._call("status", job.id)
        if status is None:       # forgotten on the hub meanwhile: what this server last knew
            from core.jobs.job import JobStatus

            return JobStatus(job.state, 0, 0, None, None, None, None, 1.0 if not job.active else 0.0)
        return status

    def busy(self, owner: str | None = None):
        return self._call("busy", owner)

    def preview(self, config, data):
        if self._by_name(data):
            return self._call("preview", config, data.info.name)
        sizes = SimpleNamespace(train_labels=range(len(data.train_labels)),
                                test_labels=range(len(data.test_labels)),
                                info=SimpleNamespace(classes=list(data.info.classes), name=data.info.name))
        return self._call("preview", config, sizes)

    def board(self):
        return self._call("board")

    def estimate_report(self) -> list[dict]:
        return self._call("estimate_report")

    # ----------------------------------------------------------------- control
    def _then_refresh(self, job_id: str, done: bool) -> bool:
        if done:
            self._refresh(job_id)
        return done

    def stop(self, job_id: str, owner: str) -> bool:
        return self._then_refresh(job_id, self._call("stop", job_id, owner))

    cancel = stop

    def teacher_stop(self, job_id: str) -> bool:
        return self._then_refresh(job_id, self._call("teacher_stop", job_id))

    def stop_waiting(self) -> int:
        return self._call("stop_waiting")

    def stop_client(self, client: str) -> int:
        return self._call("stop_client", client) if client else 0

    def set_nickname(self, job_id: str, owner: str, nickname: str | None) -> bool:
        return self._then_refresh(job_id, self._call("set_nickname", job_id, owner, nickname))

    def forget(self, job_id: str, owner: str) -> bool:
        done = self._call("forget", job_id, owner)
        if done:
            with self._lock:
                self._jobs.pop(job_id, None)
        return done

    def shutdown(self, timeout: float = 10.0) -> None:
        """This app server leaves; the hub, the queue and every run stay (other servers serve
        them). Ending the hub is `end_hub`."""
        self._closing.set()

    def end_hub(self, timeout: float = 10.0) -> None:
        """Stop every run and end the hub actor (a class is over; tests)."""
        try:
            self._call("shutdown", timeout, timeout=timeout + 30)
        finally:
            self._ray.kill(self._hub, no_restart=True)


def connect() -> HubManager:
    """This app server's proxy to the class hub named by the settings (created on first use)."""
    return HubManager()
