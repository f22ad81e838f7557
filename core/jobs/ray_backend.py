"""The `ray` training backend: each run is a Ray task on a cluster; its events come back through
one shared progress channel.

Why these pieces:
  * One `ProgressHub` actor serves every run (an actor is a process; one per run would cost a
    process per learner). A run's worker pushes its events and feature snapshots to the hub every
    0.2 s, and the same call answers whether Stop was pressed, so Stop reaches the worker within
    a few tenths of a second without a second channel. One pump thread in the app drains the hub
    ten times a second and hands each item to its job's sink (core.jobs.job.JobSink: the backend
    records events and fails runs through it, and never holds the job itself).
  * The trained weights, the final evaluation and the "done" event come back as the task's return
    value (a state_dict of NumPy arrays — no pickled torch modules), after every earlier item has
    been delivered, so the page never sees "done" before the curves that lead to it.
  * Tasks run with max_retries=0: a worker that dies makes `ray.get` raise at once, and the run
    is marked failed with a sentence instead of being silently restarted or waited on forever.
  * `ray.init` runs in the pump thread, which lives as long as the backend: Ray's driver state
    belongs to the thread that initialised it (initialised in a short-lived thread, later calls
    hang), and Streamlit runs scripts in short-lived threads.
  * The `core` package travels to the workers with the job (runtime_env py_modules), so a cluster
    needs Python with torch and Ray, not a copy of this repository. The data does not travel:
    workers load it like the app does — from the data folder the app uses when the worker can
    read it (a shared mount), else their own $CNN_LAB_DATA_DIR, else the download cache.
Without $RAY_ADDRESS (or an explicit address) a local Ray cluster is started on 127.0.0.1, which
is how the tests and a one-machine demo use it. Ray 2.59+ turns on token authentication for such
local clusters: `ray.init` creates and uses the token itself; to reach a remote cluster that uses
tokens, set RAY_AUTH_TOKEN (see README).
"""
from __future__ import annotations

import os
import queue
import socket
import threading
import time
from pathlib import Path
from typing import Any

import torch

from core import settings
from core.data import CUSTOM, DataError, load_dataset, resolve_data_dir
from core.jobs.backend import RunRequest
from core.jobs.job import JobSink
from core.jobs.snapshots import events_with_snapshots
from core.jobs.states import BackendError, RunFailed
from core.models import INPUT_SHAPE, build_model

RAY_VERSION = "2.60.0"   # the version requirements-ray.txt pins and the tests run
INSTALL_HINT = ("Ray is not installed; install it with `pip install -r requirements-ray.txt` "
                f"(Ray {RAY_VERSION}) or use the local backend.")
THREADS_ENV = settings.RAY_THREADS   # torch threads (and Ray CPUs) per run; default: the app's
PUSH_SECONDS = 0.2       # a worker sends its events (and learns about Stop) this often
PUMP_SECONDS = 0.1       # the app drains the hub this often when it was empty
DELIVERY_SECONDS = 30.0  # how long a finished run may wait for its last events
CONNECT_SECONDS = 180.0  # starting a local cluster on a busy machine takes ~10 s; connect is bounded
LOCAL_OBJECT_STORE = 256 * 1024 ** 2
DIED = ("The Ray worker training this run stopped unexpectedly (its process or machine ended); "
        "the run is lost — start it again.")


def ray_module():
    """`import ray`, or BackendError with the one-line install hint."""
    try:
        import ray
    except ImportError:
        raise BackendError(INSTALL_HINT) from None
    return ray


class RemoteRun:
    """What the app keeps of a run trained on Ray: the rebuilt model and its final evaluation."""

    def __init__(self, model: torch.nn.Module, last_eval: Any):
        self.model, self.last_eval = model, last_eval


# --------------------------------------------------------------------------- on the cluster

class ProgressHub:
    """The one progress channel: runs append (kind, payload) items under their job id; the app
    takes everything at once. Also holds the set of runs whose Stop was pressed."""

    def __init__(self):
        self.items: dict[str, list] = {}
        self.stops: set[str] = set()

    def ping(self) -> bool:
        return True

    def push(self, job_id: str, items: list) -> bool:
        if items:
            self.items.setdefault(job_id, []).extend(items)
        return job_id in self.stops

    def take(self) -> dict[str, list]:
        out, self.items = self.items, {}
        return out

    def stop(self, job_id: str) -> None:
        self.stops.add(job_id)

    def forget(self, job_id: str) -> None:
        self.stops.discard(job_id)


class _Sender(threading.Thread):
    """On the worker: sends queued items to the hub every PUSH_SECONDS and sets the run's stop
    event when the hub says Stop was pressed."""

    def __init__(self, hub, job_id: str, stop_event: threading.Event):
        super().__init__(name="cnn-lab-sender", daemon=True)
        self.hub, self.job_id, self.stop_event = hub, job_id, stop_event
        self.outbox: queue.Queue = queue.Queue()
        self.sent = 0
        self._closing = threading.Event()

    def _flush(self) -> None:
        import ray

        batch = []
        while True:
            try:
                batch.append(self.outbox.get_nowait())
            except queue.Empty:
                break
        if ray.get(self.hub.push.remote(self.job_id, batch)):
            self.stop_event.set()
        self.sent += len(batch)

    def run(self) -> None:
        while not self._closing.wait(PUSH_SECONDS):
            self._flush()

    def close(self) -> int:
        """Stop the loop, send what is left, and return how many items were sent in all."""
        self._closing.set()
        self.join()
        self._flush()
        return self.sent


def _worker_dataset(name: str, data_dir: str | None):
    folder = data_dir if data_dir and Path(data_dir).is_dir() else None
    return load_dataset(name, folder, progress=False)


def train_on_worker(job_id: str, config: dict, data_dir: str | None, threads: int,
                    probe_index: int, hub) -> dict[str, Any]:
    """The Ray task: one training run, streaming to the hub; returns weights and the result."""
    import ray

    from core.train import TrainConfig, TrainingRun

    torch.set_num_threads(threads)
    cfg = TrainConfig(**config)
    stop = threading.Event()
    sender = _Sender(hub, job_id, stop)
    sender.outbox.put(("worker", {"pid": os.getpid(), "host": socket.gethostname(),
                                  "node": ray.get_runtime_context().get_node_id(),
                                  "threads": torch.get_num_threads()}))
    sender.start()
    done = run = None
    try:
        data = _worker_dataset(cfg.dataset, data_dir)
        run = TrainingRun(cfg, data, stop)
        for event, snap in events_with_snapshots(run, data, cfg.spec, probe_index):
            if event["event"] == "done":
                done = event          # returned with the weights, after everything else
            else:
                sender.outbox.put(("event", event, snap))
    finally:
        items = sender.close()
    state = {k: v.detach().cpu().contiguous().numpy() for k, v in run.model.state_dict().items()}
    return {"done": done, "state": state, "last_eval": run.last_eval, "items": items}


# --------------------------------------------------------------------------- in the app

class RayBackend:
    """Runs each job as a Ray task; see the module docstring."""

    name = "ray"

    def __init__(self, address: str | None = None, threads: int | None = None,
                 data_dir: str | os.PathLike | None = None, num_cpus: int | None = None):
        self.address = address if address is not None else settings.ray_address()
        self.threads = max(1, int(threads or settings.ray_threads() or torch.get_num_threads()))
        folder = resolve_data_dir(data_dir)
        self.data_dir = str(folder.resolve()) if folder else None
        self.num_cpus = num_cpus          # local cluster only (default: this machine's cores)
        self.started_cluster = False
        self.error: str | None = None     # set when the channel or the connection is gone
        self._lock = threading.Lock()
        self._sinks: dict[str, JobSink] = {}
        self._delivered: dict[str, int] = {}
        self._ready = threading.Event()
        self._closing = threading.Event()
        self._pump: threading.Thread | None = None
        self._hub = None
        self._task = None
        self._process_backend = None      # runs on your own classes (see execute)

    # ----------------------------------------------------------------- Backend interface
    def check(self) -> None:
        ray_module()
        if self.error:
            raise BackendError(self.error)

    def suggested_workers(self) -> int:
        """As many runs as the cluster's CPUs hold at `threads` each (a local cluster: this
        machine's cores); $CNN_LAB_TRAINING_WORKERS, when set, wins (core.jobs.manager)."""
        if self.address is None:
            return max(1, (self.num_cpus or os.cpu_count() or 1) // self.threads)
        self.connect()
        cpus = int(self._ray.cluster_resources().get("CPU", 1))
        return max(1, cpus // self.threads)

    def execute(self, request: RunRequest, sink: JobSink) -> None:
        if request.data.info.name == CUSTOM:
            # Ray workers load the data by name; a learner's own classes exist only here, so such
            # a run trains in this machine's worker processes instead.
            return self._local().execute(request, sink)
        self.connect()
        job_id = request.id
        with self._lock:
            self._sinks[job_id], self._delivered[job_id] = sink, 0
        try:
            ref = self._task.options(num_cpus=self.threads, max_retries=0).remote(
                job_id, request.config.to_dict(), self.data_dir, self.threads, request.probe_index,
                self._hub)
            out = self._await(job_id, sink.stop_event, ref)
            self._await_delivery(job_id, out["items"])
            model = build_model(request.config.spec, INPUT_SHAPE, len(request.data.info.classes))
            model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in out["state"].items()})
            sink.attach(RemoteRun(model.eval(), out["last_eval"]))
            sink.record(out["done"])
        finally:
            with self._lock:
                self._sinks.pop(job_id, None)
                self._delivered.pop(job_id, None)
            if self._hub is not None and not self.error:
                self._hub.forget.remote(job_id)

    def _await(self, job_id: str, stop_event: threading.Event, ref) -> dict[str, Any]:
        ray = self._ray
        stop_sent = False
        while True:
            if stop_event.is_set() and not stop_sent:
                self._hub.stop.remote(job_id)
                stop_sent = True
            ready, _ = ray.wait([ref], timeout=0.1)
            if ready:
                break
            if self.error:
                ray.cancel(ref, force=True)
                raise RunFailed(self.error)
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as e:   # the run raised on the worker
            cause = e.cause
            if isinstance(cause, DataError):
                raise RunFailed(f"The Ray worker could not load the data: {cause}") from None
            raise RunFailed(f"The run failed on the Ray cluster: {type(cause).__name__}: {cause}") from None
        except ray.exceptions.RayError:            # worker, node or object lost
            raise RunFailed(DIED) from None

    def _await_delivery(self, job_id: str, items: int) -> None:
        deadline = time.monotonic() + DELIVERY_SECONDS
        while True:
            with self._lock:
                if self._delivered.get(job_id, 0) >= items:
                    return
            if self.error or time.monotonic() > deadline:
                raise RunFailed("The run finished on the Ray cluster but its progress did not all "
                                "arrive; start it again.")
            time.sleep(0.02)

    def _local(self):
        with self._lock:
            if self._process_backend is None:
                from core.jobs.process_backend import ProcessBackend

                self._process_backend = ProcessBackend()
            return self._process_backend

    def close(self) -> None:
        if self._process_backend is not None:
            self._process_backend.close()
        self._closing.set()
        if self._pump is not None:
            self._pump.join(30)

    # ----------------------------------------------------------------- connection and pump
    def connect(self) -> None:
        """Start the pump thread (which connects) once, and wait until it is ready."""
        with self._lock:
            if self._pump is None:
                self._pump = threading.Thread(target=self._pump_loop, name="cnn-lab-ray-pump",
                                              daemon=True)
                self._pump.start()
        if not self._ready.wait(CONNECT_SECONDS):
            raise RunFailed(f"Could not reach the Ray cluster within {CONNECT_SECONDS:.0f} s.")
        if self.error:
            raise RunFailed(self.error)

    def _init(self):
        ray = ray_module()
        self._ray = ray
        if ray.is_initialized():
            return ray
        options = dict(logging_level="ERROR", log_to_driver=False,
                       runtime_env={"py_modules": [str(Path(__file__).resolve().parents[1])],  # core/
                                    "excludes": ["__pycache__"]})
        if self.address is None:
            # A one-machine cluster on loopback: nothing listens for other machines. address="local"
            # always starts a new one: without it ray.init joins whatever cluster this machine last
            # started (/tmp/ray/ray_current_cluster) and then refuses num_cpus.
            ray.init(address="local", num_cpus=self.num_cpus or os.cpu_count(), include_dashboard=False,
                     object_store_memory=LOCAL_OBJECT_STORE, _node_ip_address="127.0.0.1", **options)
            self.started_cluster = True
        else:
            ray.init(address=self.address, **options)
        return ray

    def _pump_loop(self) -> None:
        try:
            ray = self._init()
            self._hub = ray.remote(num_cpus=0, max_restarts=0)(ProgressHub).remote()
            ray.get(self._hub.ping.remote(), timeout=CONNECT_SECONDS)
            self._task = ray.remote(train_on_worker)
        except BackendError as e:
            self.error = str(e)
        except Exception as e:  # noqa: BLE001 — said in one sentence to whoever started a run
            self.error = _connect_sentence(self.address, e)
        finally:
            self._ready.set()
        if self.error:
            return
        while not self._closing.is_set():
            try:
                batch = ray.get(self._hub.take.remote(), timeout=30)
            except Exception as e:  # noqa: BLE001
                self.error = f"The Ray progress channel stopped ({type(e).__name__}); start the run again."
                return
            for job_id, items in batch.items():
                self._deliver(job_id, items)
            if not batch:
                self._closing.wait(PUMP_SECONDS)
        if self.started_cluster:
            ray.shutdown()

    def _deliver(self, job_id: str, items: list) -> None:
        with self._lock:
            sink = self._sinks.get(job_id)
        if sink is None:
            return
        for item in items:
            if item[0] == "worker":
                sink.set_worker(item[1])
            else:
                sink.record(item[1], item[2])
        with self._lock:
            self._delivered[job_id] = self._delivered.get(job_id, 0) + len(items)


def _connect_sentence(address: str | None, error: Exception) -> str:
    text = str(error)
    where = f"the Ray cluster at {address}" if address else "a local Ray cluster"
    if "auth" in text.lower() or "token" in text.lower():
        return (f"Could not connect to {where}: it requires token authentication; set "
                "RAY_AUTH_TOKEN to its token (`ray get-auth-token` on the head node).")
    first = text.strip().splitlines()[0][:200] if text.strip() else type(error).__name__
    return f"Could not start or reach {where}: {first}"
