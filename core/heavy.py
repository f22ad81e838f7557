"""A small shared budget for the memory-heavy steps of a page run: decoding an uploaded image
and loading a checkpoint.

Each of those briefly holds a full-size copy of its input (a 4096×4096 image decodes to 64 MB
before it is shrunk; a 32 MB checkpoint is read, then its tensors built). Three visitors uploading
the largest accepted file at once took a server from 0.45 to 1.47 GB because nothing was
serialised. `heavy_slot()` lets at most CNN_LAB_HEAVY_SLOTS (default 2) of them run at once in a
server process; the others wait their turn (a second or so), and after WAIT_S give up with one
sentence instead of piling up.

The work itself runs on `run_heavy`'s few threads, niced (HEAVY_NICE): a decode of the worst
accepted PNG is about a second of CPU, and four tabs uploading at once kept both cores of a class
server busy while another learner's prediction waited (bench/abuse_bench.py, upload flood). Linux
niceness is per thread and Pillow, OpenCV and NumPy release the GIL while they work, so the
scheduler now gives the other visitors' page runs the CPU first and the uploads what is left.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Callable, Iterator, TypeVar

from core import settings

SLOTS_ENV = settings.HEAVY_SLOTS
WAIT_S = 60.0
HEAVY_NICE = 10   # added to a heavy-work thread's niceness (as training processes, CNN_LAB_WORKER_NICE)
T = TypeVar("T")


class BusyError(RuntimeError):
    """Every slot stayed taken for WAIT_S seconds: the server is too busy right now."""

    def __init__(self):
        super().__init__("The server is busy reading other visitors' files; try again in a minute.")


_slots: threading.BoundedSemaphore | None = None   # made on first use, from the setting
_make_lock = threading.Lock()
_held = threading.local()   # re-entrant per thread: a checkpoint load inside a slot takes no second one


@contextmanager
def heavy_slot(wait_s: float | None = None) -> Iterator[None]:
    """Hold one of the slots for a decode or a model load (BusyError after `wait_s`, WAIT_S)."""
    if getattr(_held, "depth", 0):
        _held.depth += 1
        try:
            yield
        finally:
            _held.depth -= 1
        return
    slots = _semaphore()
    if not slots.acquire(timeout=WAIT_S if wait_s is None else wait_s):
        raise BusyError()
    _held.depth = 1
    try:
        yield
    finally:
        _held.depth = 0
        slots.release()


_pool: ThreadPoolExecutor | None = None
_in_pool = threading.local()


def run_heavy(fn: Callable[..., T], *args, **kwargs) -> T:
    """fn(*args, **kwargs) on one of the niced heavy-work threads (as many as there are slots);
    returns its result, exceptions propagate. Call it inside `heavy_slot()`: the slot is the
    budget, this is where the CPU goes. Calls from a heavy-work thread run directly."""
    global _pool
    if getattr(_in_pool, "active", False):
        return fn(*args, **kwargs)
    with _make_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(settings.heavy_slots(), thread_name_prefix="cnn-lab-heavy",
                                       initializer=_lower_priority)
    return _pool.submit(fn, *args, **kwargs).result()


def _lower_priority() -> None:
    _in_pool.active = True
    try:   # Linux: PRIO_PROCESS with a thread id renices that thread only
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + HEAVY_NICE))
    except (AttributeError, OSError):   # elsewhere the work just runs at normal priority
        pass


def _semaphore() -> threading.BoundedSemaphore:
    global _slots
    with _make_lock:
        if _slots is None:
            _slots = threading.BoundedSemaphore(settings.heavy_slots())
        return _slots


__all__ = ["heavy_slot", "run_heavy", "BusyError", "SLOTS_ENV", "HEAVY_NICE"]
