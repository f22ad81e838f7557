"""The class hub: one detached, named Ray actor that owns the class's queue and run registry, so
several app servers (behind one address) share one queue, one Class page and every run's link.

Each app server talks to it through core.jobs.hub_proxy.HubManager, which looks like a JobManager
to the pages. The hub itself is an ordinary JobManager (core.jobs.manager) on the Ray backend,
with the durable sqlite registry (core.jobs.registry) in a folder on the hub's node:

  * Why an actor and not the registry on a shared folder: the registry is sqlite in WAL mode,
    whose readers and writers coordinate through a shared-memory index (the -shm file) that only
    works between processes of ONE host; on NFS/SMB that file is unsafe (sqlite's own docs: WAL
    "does not work over a network filesystem") and a plain rollback journal relies on network
    file locks that are often broken. And the queue is more than rows: workers, fair order,
    estimates and the live event stream are in one process's memory. One actor keeps all of that
    in one process (one writer, one host for the sqlite file), and every app server reaches it
    over Ray's own RPC, wherever it runs.
  * Detached and named (get_if_exists): the first app server creates it, the others (and a
    restarted first one) find it by name; it outlives every app server. It restarts on its own
    when its process dies (max_restarts=-1) and reads the registry back (resume from the last
    epoch, as a restarted single server does). It is pinned to the head node so a restart finds
    the same disk.
  * Threaded (max_concurrency): a slow call (the first load of a dataset) never holds up the
    pages' reads; JobManager is thread-safe.
  * What crosses the boundary is plain data: a job's scalar fields, the events and feature
    snapshots *after* the count the caller already has, JobStatus/BoardRow dataclasses, a finished
    model as checkpoint bytes (safetensors, core.checkpoint) fetched once — never a whole history
    per page tick.

Nothing here imports Ray at module import (the actor class is wrapped with ray.remote on use).
"""
from __future__ import annotations

import os
import threading
import time
from typing import Any

from core import settings
from core.jobs.job import Job
from core.jobs.states import TRAINING_STATES

NAMESPACE_PREFIX = "cnn-lab-"
MAX_CONCURRENCY = 16


def job_fields(job: Job) -> dict[str, Any]:
    """The scalar facts of a job that a page reads, copied (no events, no model, no data)."""
    with job._lock:
        n_events, n_snapshots = len(job._events), len(job._snapshots)
    return dict(
        id=job.id, owner=job.owner, number=job.number, watch_token=job.watch_token,
        nickname=job.nickname, config=job.config, work=job.work, state=job.state, error=job.error,
        error_id=job.error_id, worker=dict(job.worker), created=job.created, started=job.started,
        ended=job.ended, stopped=job.stopped, stopped_by_teacher=job.stopped_by_teacher,
        stop_set=job.stop_event.is_set(), interrupted=job.interrupted, probe_index=job.probe_index,
        client=job.client, serial=job.serial, elapsed=job.elapsed(), has_model=job.run is not None,
        dataset=job.data.info.name, n_events=n_events, n_snapshots=n_snapshots,
        estimate_at_submit=job.estimate_at_submit)


class ClassHub:
    """The actor: a JobManager on the Ray backend with the durable registry (see the module doc).
    Methods take and return plain data; a refusal (ConfigError, JobLimitError, …) is raised as
    the manager raises it and the proxy raises it again in the app server."""

    def __init__(self, settings_now: tuple[tuple[str, str], ...] | None = None, manager=None):
        """`manager`: a JobManager to serve (tests drive the hub's methods in one process with a
        local one); by default a Ray-backend manager with the durable registry is built."""
        self._datasets: dict[str, Any] = {}
        self._data_lock = threading.Lock()
        self.started = time.time()
        if manager is not None:
            self.manager = manager
            return
        # The creating app server's CNN_LAB_* settings (limits, workers, data and registry
        # folders): the hub enforces one class's limits whichever server a learner is on.
        settings.adopt(settings_now or ())
        from core.jobs.manager import JobManager, default_registry
        from core.jobs.ray_backend import RayBackend

        registry = default_registry()
        # address="auto": the cluster this actor runs on (its CPUs size the workers).
        backend = RayBackend(address="auto")
        self.manager = JobManager(backend=backend, registry=registry,
                                  keep_seconds=settings.run_retention_days() * 86400,
                                  resume=settings.resume_runs())

    # ----------------------------------------------------------------- facts
    def ping(self) -> dict[str, Any]:
        m = self.manager
        return dict(workers=m.workers, max_epochs=m.max_epochs, max_waiting=m.max_waiting,
                    per_owner=m.per_owner, started=self.started, restored=m.restored, pid=os.getpid())

    def _dataset(self, name: str):
        from core.jobs.manager import _load_named_dataset
        from core.train_config import TrainConfig

        with self._data_lock:
            if name not in self._datasets:
                self._datasets[name] = _load_named_dataset(TrainConfig(dataset=name))
            return self._datasets[name]

    # ----------------------------------------------------------------- starting
    def start(self, owner: str, config, data, probe_index: int, nickname: str | None,
              client: str | None, budgets) -> dict[str, Any]:
        """`data` is a dataset's name (the hub loads it once) or the Dataset itself (a learner's own
        classes, which exist only in their app server)."""
        if isinstance(data, str):
            data = self._dataset(data)
        job = self.manager.start(owner, config, data, probe_index, nickname, client=client,
                                 budgets=budgets)
        return job_fields(job)

    def restart(self, job_id: str, owner: str) -> bool:
        return self.manager.restart(job_id, owner)

    # ----------------------------------------------------------------- reading
    def _job(self, job_id: str, owner: str | None) -> Job | None:
        if owner is None:        # the proxy's own lookups by id (watch, board): trusted callers
            with self.manager._lock:
                return self.manager._jobs.get(job_id or "")
        return self.manager.get(job_id, owner)

    def sync(self, job_id: str, owner: str | None, have_events: int, last_event: dict | None,
             have_snapshots: int):
        """The job's fields and what the caller lacks: (fields, first event index, events, first
        snapshot index, snapshots), or None (unknown id, or not the owner's). When the caller's
        copy no longer matches (the run was restarted or resumed and its history cut back), the
        whole history comes again from 0."""
        job = self._job(job_id, owner)
        if job is None:
            return None
        with job._lock:
            events, snaps = job._events, job._snapshots
            if (have_events > len(events) or have_snapshots > len(snaps)
                    or (have_events and events[have_events - 1] != last_event)):
                have_events = have_snapshots = 0
            new_events = list(events[have_events:])
            new_snaps = list(snaps[have_snapshots:])
        return job_fields(job), have_events, new_events, have_snapshots, new_snaps

    def jobs(self, owner: str) -> list[dict]:
        return [job_fields(j) for j in self.manager.jobs(owner)]

    def all_jobs(self) -> list[dict]:
        return [job_fields(j) for j in self.manager.all_jobs()]

    def active(self) -> list[dict]:
        return [job_fields(j) for j in self.manager.active()]

    def training(self) -> list[dict]:
        return [job_fields(j) for j in self.manager.all_jobs() if j.state in TRAINING_STATES]

    def waiting(self) -> list[dict]:
        return [job_fields(j) for j in self.manager.waiting()]

    def watch(self, token: str) -> str | None:
        """The id of the run with this watch token (the proxy keeps it server-side, never shown)."""
        view = self.manager.watch(token)
        if view is None:
            return None
        with self.manager._lock:
            return next((j.id for j in self.manager._jobs.values() if j.watch_token == token), None)

    def status(self, job_id: str):
        job = self._job(job_id, None)
        return None if job is None else self.manager.status(job)

    def busy(self, owner: str | None):
        return self.manager.busy(owner)

    def preview(self, config, data):
        if isinstance(data, str):
            data = self._dataset(data)
        return self.manager.preview(config, data)

    def board(self):
        return self.manager.board()

    def estimate_report(self) -> list[dict]:
        return self.manager.estimate_report()

    def rate(self) -> tuple[float | None, str, float]:
        m = self.manager
        return m.rate, m.rate_source, m.startup_seconds

    def result(self, job_id: str):
        job = self._job(job_id, None)
        return None if job is None else job.result

    def model_bytes(self, job_id: str) -> bytes | None:
        """The finished run's model as a checkpoint file's bytes (safetensors + metadata)."""
        from core.checkpoint import to_bytes

        job = self._job(job_id, None)
        if job is None or job.run is None or job.model is None:
            return None
        return to_bytes(job.model, job.checkpoint_metadata(f"run-{job.number}"))

    def data(self, job_id: str):
        job = self._job(job_id, None)
        return None if job is None else job.data

    # ----------------------------------------------------------------- control
    def stop(self, job_id: str, owner: str) -> bool:
        return self.manager.stop(job_id, owner)

    def teacher_stop(self, job_id: str) -> bool:
        return self.manager.teacher_stop(job_id)

    def stop_waiting(self) -> int:
        return self.manager.stop_waiting()

    def stop_client(self, client: str) -> int:
        return self.manager.stop_client(client)

    def set_nickname(self, job_id: str, owner: str, nickname: str | None) -> bool:
        return self.manager.set_nickname(job_id, owner, nickname)

    def forget(self, job_id: str, owner: str) -> bool:
        return self.manager.forget(job_id, owner)

    def shutdown(self, timeout: float = 10.0) -> None:
        self.manager.shutdown(timeout)


def hub_options(name: str) -> dict[str, Any]:
    """How the hub actor is created or found: detached, named, restarted when it dies, on the head
    node (its registry folder is there), threaded, taking no CPU from training."""
    # The `core` package reaches the actor (and the training tasks it starts) through the
    # creating app server's job-level runtime_env (HubManager passes it to ray.init); Ray keeps
    # that package for as long as the detached actor lives.
    return dict(name=name, namespace=NAMESPACE_PREFIX + name, lifetime="detached", get_if_exists=True,
                max_restarts=-1, max_concurrency=MAX_CONCURRENCY, num_cpus=0,
                resources={"node:__internal_head__": 0.001})


def get_or_create(ray, name: str | None = None):
    """The class's hub actor handle: found by name, or created with this server's settings."""
    name = name or settings.class_hub()
    actor = ray.remote(ClassHub).options(**hub_options(name))
    return actor.remote(settings.snapshot())
