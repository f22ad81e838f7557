"""The `process` training backend: every run trains in a worker process, never in the web server's.

Why a process per slot, and how:
  * A runaway run cannot take the web server down. Each worker limits its own memory
    (RLIMIT_DATA = $CNN_LAB_WORKER_MEMORY_MB), so an allocation beyond it fails in the worker —
    or kills it — and the web process, which only relays events, never sees it. The slot then
    gets a fresh worker and the learner one sentence.
  * The web server gets the CPU first: workers run at a lower priority (os.nice
    $CNN_LAB_WORKER_NICE, default 10), so pages stay responsive while the cores train.
  * Workers are forked by multiprocessing's fork server (forking the threaded web server itself is
    unsafe), which imports torch and the training code once: a fresh Python importing torch took
    5–6 s here, a worker forked from the fork server starts in a fraction of that. Workers also
    live as long as the backend: a slot's worker is reused run after run and only replaced when it
    failed. start_method="spawn" is the portable fallback (macOS, Windows).
  * Events (plain dicts) and feature snapshots (small NumPy arrays) stream back over the slot's
    pipe as they happen, and the backend's thread in the web process feeds them to the job's sink
    in order. Stop is a multiprocessing Event the thread mirrors from the sink's. At the end the
    worker sends the weights (a state_dict of NumPy arrays) and the final evaluation before the
    "done" event, so the job has its model when the page sees "done".
  * The data is not pickled per run: each dataset is known by a fingerprint of its bytes. A worker
    keeps the datasets it has (two at most) and loads a named one (MNIST, …) from the data folder
    itself; only data it cannot find there with the same fingerprint (your own classes, a test's
    toy set) is sent, once.
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import multiprocessing
import os
import secrets
import sys
import threading
import time
import traceback
import types
import weakref
from dataclasses import dataclass
from typing import Any

from core import settings
from core.data import DATASETS, Dataset, DataError
from core.jobs.backend import DEFAULT_WORKERS, RunRequest
from core.jobs.job import JobSink
from core.jobs.states import RunFailed

log = logging.getLogger("cnn_lab.process_backend")

POLL_SECONDS = 0.05       # the relay thread checks Stop and the worker's health this often
READY_SECONDS = 180.0     # a worker must be up (torch imported) within this; a busy machine is slow
CLOSE_SECONDS = 5.0
CACHED_DATASETS = 2       # datasets a worker keeps (MNIST and one more)
MEMORY_SENTENCE = ("This run needed more memory than the server gives one run; make the network "
                   "smaller (fewer channels, pooling earlier) or the batch smaller, and start it again.")
DIED_SENTENCE = ("The training process stopped unexpectedly; the run is lost — start it again "
                 "(if it happens again, make the network smaller).")
ERROR_SENTENCE = ("Training failed because of a problem on the server (reference {ref}); start it "
                  "again, and tell the teacher if it happens again.")
_MEMORY_MARKERS = ("can't allocate memory", "DefaultCPUAllocator", "alloc_cpu", "out of memory",
                   "Cannot allocate memory")


class _Failed(RunFailed):
    """A run that failed in its worker; `healthy`: the worker can train the next run."""

    def __init__(self, sentence: str, healthy: bool = False):
        super().__init__(sentence)
        self.healthy = healthy


class WorkerRun:
    """What the job keeps of a run trained in a worker: the rebuilt model and its final
    evaluation (the attributes core.jobs.job.Job reads from a TrainingRun)."""

    def __init__(self, model: Any, last_eval: Any, temperature: float = 1.0):
        self.model, self.last_eval, self.temperature = model, last_eval, temperature
        self.history: list[dict[str, Any]] = []


# --------------------------------------------------------------------------- data fingerprints

_fingerprints: dict[int, tuple[weakref.ref, str]] = {}
_fingerprint_lock = threading.Lock()


def fingerprint(data: Dataset) -> str:
    """A digest of a dataset's classes and bytes (MNIST: ≈ 0.1 s, once per dataset object)."""
    with _fingerprint_lock:
        known = _fingerprints.get(id(data))
        if known is not None and known[0]() is data:
            return known[1]
    h = hashlib.blake2b(digest_size=16)
    h.update(repr((data.info.name, data.info.classes, data.info.mean, data.info.std)).encode())
    for t in (data.train_images, data.train_labels, data.test_images, data.test_labels):
        h.update(repr((tuple(t.shape), str(t.dtype))).encode())
        h.update(t.contiguous().numpy().tobytes())
    digest = h.hexdigest()
    with _fingerprint_lock:
        for key in [k for k, (ref, _) in _fingerprints.items() if ref() is None]:
            del _fingerprints[key]
        try:
            _fingerprints[id(data)] = (weakref.ref(data), digest)
        except TypeError:   # not weak-referenceable: just not remembered
            pass
    return digest


def _pack(data: Dataset) -> dict[str, Any]:
    """A dataset as plain picklable parts (tensors as NumPy arrays)."""
    return {"info": data.info, "cls": type(data),
            "extra": {k: getattr(data, k) for k in ("train_counts", "validation_counts") if hasattr(data, k)},
            "arrays": [t.contiguous().numpy() for t in (data.train_images, data.train_labels,
                                                          data.test_images, data.test_labels)]}


def _unpack(parts: dict[str, Any]) -> Dataset:
    import torch

    tensors = [torch.from_numpy(a) for a in parts["arrays"]]
    try:
        return parts["cls"](parts["info"], *tensors, **parts["extra"])
    except TypeError:
        return Dataset(parts["info"], *tensors)


# --------------------------------------------------------------------------- in the worker

@dataclass(frozen=True)
class WorkerOptions:
    nice: int
    memory_bytes: int | None
    threads: int
    data_dir: str | None
    environ: tuple[tuple[str, str], ...] = ()   # the web server's CNN_LAB_* settings, now


# What a forkserver imports once, so each worker it forks starts with torch loaded: the app's main
# module (else every worker would import it again), torch and the training code.
PRELOAD = ["__main__", "torch", "core.train", "core.jobs.snapshots", "core.jobs.process_backend"]


def _limit_self(options: WorkerOptions) -> None:
    """Lower this process's priority and cap its memory (before torch allocates anything big)."""
    if options.nice:
        try:
            os.nice(options.nice)
        except OSError:
            pass
    if options.memory_bytes:
        import resource

        # RLIMIT_DATA counts the heap and every private writable mapping (Linux ≥ 4.7), which is
        # where torch's tensors live; unlike RLIMIT_AS it ignores the address space reserved
        # (but unused) by the libraries and thread stacks, so the limit means memory, not layout.
        soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
        cap = options.memory_bytes if hard == resource.RLIM_INFINITY else min(options.memory_bytes, hard)
        resource.setrlimit(resource.RLIMIT_DATA, (cap, hard))


def _is_memory_error(error: BaseException) -> bool:
    if isinstance(error, MemoryError):
        return True
    text = str(error)
    return isinstance(error, RuntimeError) and any(m in text for m in _MEMORY_MARKERS)


def _load_named(name: str, data_dir: str | None) -> Dataset | None:
    """The named dataset from the local data folder, or None (never downloads in a worker)."""
    from pathlib import Path

    from core.data import load_arrays, resolve_data_dir

    info = DATASETS.get(name)
    folder = resolve_data_dir(data_dir)
    if info is None or folder is None or not (Path(folder) / info.folder / "raw").is_dir():
        return None
    try:
        return load_arrays(Path(folder), info)
    except (DataError, OSError, ValueError):
        return None


class _DataCache:
    """The datasets this worker holds, by fingerprint (newest last), and what each named
    dataset on disk fingerprints to (so a mismatch is not reloaded every run)."""

    def __init__(self, data_dir: str | None):
        self.data_dir = data_dir
        self.held: dict[str, Dataset] = {}
        self.on_disk: dict[str, str | None] = {}

    def keep(self, key: str, data: Dataset) -> Dataset:
        self.held.pop(key, None)
        self.held[key] = data
        while len(self.held) > CACHED_DATASETS:
            self.held.pop(next(iter(self.held)))
        return data

    def find(self, key: str, name: str) -> Dataset | None:
        if key in self.held:
            return self.keep(key, self.held[key])
        if name in self.on_disk and self.on_disk[name] != key:
            return None
        data = _load_named(name, self.data_dir)
        self.on_disk[name] = None if data is None else fingerprint(data)
        return self.keep(key, data) if data is not None and self.on_disk[name] == key else None


def worker_main(conn, stop, options: WorkerOptions) -> None:
    """A training process: limits itself, imports torch, then trains the runs it is sent."""
    settings.adopt(options.environ)   # the server's settings now (limits are read in the run)
    _limit_self(options)
    t0 = time.perf_counter()
    import torch

    from core.jobs.snapshots import events_with_snapshots
    from core.train import TrainingRun
    from core.train_config import TrainConfig

    torch.set_num_threads(max(1, options.threads))
    cache = _DataCache(options.data_dir)
    conn.send(("ready", {"pid": os.getpid(), "startup_seconds": time.perf_counter() - t0,
                         "threads": torch.get_num_threads(), "nice": os.nice(0)}))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message[0] == "close":
            return
        if message[0] != "run":
            continue
        _, config, key, name, probe_index = message
        try:
            data = cache.find(key, name)
            if data is None:
                conn.send(("need_data",))
                reply = conn.recv()
                data = cache.keep(key, _unpack(reply[1]))
            cfg = TrainConfig(**config)
            run = TrainingRun(cfg, data, stop)
            done = None
            for event, snap in events_with_snapshots(run, data, cfg.spec, probe_index):
                if event.get("event") == "done":
                    done = event
                else:
                    conn.send(("event", event, snap))
            state = {k: v.detach().cpu().contiguous().numpy() for k, v in run.model.state_dict().items()}
            conn.send(("result", state, run.last_eval, float(getattr(run, "temperature", 1.0))))
            conn.send(("event", done, None))
            del run, state
        except BaseException as e:  # noqa: BLE001 — reported to the web process, which decides
            from core.models import SpecError
            from core.train_config import ConfigError

            kind = ("memory" if _is_memory_error(e) else
                    "people" if isinstance(e, (ConfigError, SpecError, DataError)) else "error")
            try:
                conn.send(("failed", kind, f"{type(e).__name__}: {e}", traceback.format_exc()))
            except BaseException:  # noqa: BLE001 — no memory even to report: die, the relay sees it
                os._exit(70)
            if kind == "memory":
                return           # a fresh worker is cleaner than one that just ran out of memory


# --------------------------------------------------------------------------- in the web process


_MAIN_SWAP = threading.Lock()


@contextlib.contextmanager
def _no_main_script():
    """Start a worker without multiprocessing re-running this process's __main__ in it.

    A spawn or forkserver child imports the parent's main script (spawn.get_preparation_data's
    main_path). In a Streamlit server __main__ is the page script being run (and under AppTest a
    temporary script), so the worker would run the app — or crash on it ("name '__args' is not
    defined"). The worker needs nothing from it: its target lives in this module."""
    with _MAIN_SWAP:
        saved = sys.modules.get("__main__")
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            yield
        finally:
            if saved is not None:
                sys.modules["__main__"] = saved

class _Worker:
    """One slot's worker process, its pipe and its stop flag."""

    def __init__(self, ctx, options: WorkerOptions):
        options = WorkerOptions(options.nice, options.memory_bytes, options.threads,
                                options.data_dir, settings.snapshot())
        self.conn, child = ctx.Pipe(duplex=True)
        self.stop = ctx.Event()
        self.process = ctx.Process(target=worker_main, args=(child, self.stop, options),
                                   name="cnn-lab-trainer", daemon=True)
        t0 = time.perf_counter()
        with _no_main_script():
            self.process.start()
        child.close()
        self.info: dict[str, Any] = {}
        if not self.conn.poll(READY_SECONDS):
            self.kill()
            raise RunFailed("The training process did not start in time; start the run again.")
        try:
            message = self.conn.recv()
        except (EOFError, OSError):
            self.kill()
            raise RunFailed(DIED_SENTENCE) from None
        self.info = dict(message[1], spawn_seconds=time.perf_counter() - t0)

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.is_alive()

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(CLOSE_SECONDS)
        self.conn.close()

    def close(self) -> None:
        try:
            self.conn.send(("close",))
        except (OSError, ValueError):
            pass
        self.process.join(CLOSE_SECONDS)
        self.kill()


class ProcessBackend:
    """Runs each job in a long-lived worker process of a local pool; see the module docstring."""

    name = "process"

    def __init__(self, workers: int | None = None, nice: int | None = None,
                 memory_bytes: int | None = None, threads: int | None = None,
                 data_dir: str | os.PathLike | None = None, start_method: str = "forkserver"):
        from core.data import resolve_data_dir

        # As many processes as the manager runs trainings at once (CNN_LAB_TRAINING_WORKERS), so
        # the idle pool and the torch threads per run follow the class server's setting.
        self.workers = workers or settings.training_workers() or DEFAULT_WORKERS
        per_run = max(1, (os.cpu_count() or 1) // self.workers)
        folder = resolve_data_dir(data_dir)
        self.options = WorkerOptions(
            settings.worker_nice() if nice is None else int(nice),
            settings.worker_memory_bytes() if memory_bytes is None else memory_bytes or None,
            int(threads or settings.worker_threads() or per_run),
            str(folder.resolve()) if folder else None)
        self._ctx = multiprocessing.get_context(start_method)
        if start_method == "forkserver":
            self._ctx.set_forkserver_preload(PRELOAD)
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._lock = threading.Lock()
        self._closed = False
        self.started = 0                  # workers started (replacements included)

    # ----------------------------------------------------------------- Backend interface
    def check(self) -> None:
        return None

    def suggested_workers(self) -> int:
        return self.workers

    def execute(self, request: RunRequest, sink: JobSink) -> None:
        worker = self._take()
        healthy = False
        try:
            sink.set_worker({"pid": worker.pid, "host": "local", "threads": worker.info.get("threads"),
                             "nice": worker.info.get("nice")})
            healthy = self._relay(worker, request, sink)
        except _Failed as e:
            healthy = e.healthy
            raise
        finally:
            self._give_back(worker, healthy)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers, self._idle = list(self._idle) + list(self._busy), []
        for w in workers:
            w.close()

    # ----------------------------------------------------------------- the pool
    def _take(self) -> _Worker:
        with self._lock:
            if self._closed:
                raise RunFailed("The server is shutting down; start the run again in a moment.")
            while self._idle:
                worker = self._idle.pop()
                if worker.alive():
                    self._busy.add(worker)
                    return worker
                worker.kill()
        worker = _Worker(self._ctx, self.options)   # outside the lock: takes seconds
        with self._lock:
            self.started += 1
            self._busy.add(worker)
        return worker

    def _give_back(self, worker: _Worker, healthy: bool) -> None:
        with self._lock:
            self._busy.discard(worker)
            keep = (healthy and worker.alive() and not self._closed
                    and len(self._idle) < self.workers)   # a warm-up and a run may both start one
            if keep:
                self._idle.append(worker)
        if not keep:
            worker.kill()

    def warm(self, count: int | None = None) -> None:
        """Start `count` workers (default: every slot) now, so the first runs skip the start-up."""
        workers = [self._take() for _ in range(count or self.workers)]
        for w in workers:
            self._give_back(w, True)

    def warm_in_background(self) -> None:
        """`warm` in a thread: a server's first learners should not wait for the fork server."""
        def warm() -> None:
            try:
                self.warm()
            except Exception:  # noqa: BLE001 — a run will start its worker itself and say why
                log.exception("could not start the training processes in advance")

        threading.Thread(target=warm, name="cnn-lab-warm-workers", daemon=True).start()

    # ----------------------------------------------------------------- one run
    def _relay(self, worker: _Worker, request: RunRequest, sink: JobSink) -> bool:
        """Send the run, feed its events to the sink until "done"; True when the worker is fit for
        the next run. Raises RunFailed with the sentence for people."""
        worker.stop.clear()
        data = request.data
        key = fingerprint(data)
        try:
            worker.conn.send(("run", request.config.to_dict(), key, data.info.name, request.probe_index))
        except (OSError, ValueError):
            raise RunFailed(DIED_SENTENCE) from None
        while True:
            if sink.stop_event.is_set() and not worker.stop.is_set():
                worker.stop.set()
            message = self._receive(worker, request)
            if message is None:
                continue
            kind = message[0]
            if kind == "event":
                sink.record(message[1], message[2])
                if message[1].get("event") == "done":
                    return True
            elif kind == "need_data":
                worker.conn.send(("data", _pack(data)))
            elif kind == "result":
                sink.attach(self._rebuild(request, *message[1:]))
            elif kind == "failed":
                raise _Failed(self._sentence(request, *message[1:]), healthy=message[1] == "people")

    def _receive(self, worker: _Worker, request: RunRequest):
        """The worker's next message, None when none came within POLL_SECONDS; RunFailed when
        the worker died."""
        try:
            if worker.conn.poll(POLL_SECONDS):
                return worker.conn.recv()
        except (EOFError, OSError):
            pass
        else:
            if worker.alive():
                return None
        worker.process.join(CLOSE_SECONDS)
        code = worker.process.exitcode
        ref = secrets.token_hex(4)
        log.error("training process %s for run %s ended (exit code %s) [ref %s]",
                  worker.pid, request.id, code, ref)
        raise RunFailed(DIED_SENTENCE)

    @staticmethod
    def _sentence(request: RunRequest, kind: str, summary: str, trace: str) -> str:
        if kind == "people":
            return summary.split(": ", 1)[-1]
        ref = secrets.token_hex(4)
        log.error("run %s failed in its training process [ref %s]: %s\n%s", request.id, ref, summary, trace)
        return MEMORY_SENTENCE if kind == "memory" else ERROR_SENTENCE.format(ref=ref)

    @staticmethod
    def _rebuild(request: RunRequest, state: dict, last_eval: Any, temperature: float) -> WorkerRun:
        import torch

        from core.models import INPUT_SHAPE, build_model

        model = build_model(request.config.spec, INPUT_SHAPE, len(request.data.info.classes))
        model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state.items()})
        return WorkerRun(model.eval(), last_eval, temperature)

