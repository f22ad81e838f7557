"""A small shared budget for the memory-heavy steps of a page run: decoding an uploaded image
and loading a checkpoint.

Each of those briefly holds a full-size copy of its input (a 4096×4096 image decodes to 64 MB
before it is shrunk; a 32 MB checkpoint is read, then its tensors built). Three visitors uploading
the largest accepted file at once took a server from 0.45 to 1.47 GB because nothing was
serialised. `heavy_slot()` lets at most CNN_LAB_HEAVY_SLOTS (default 2) of them run at once in a
server process; the others wait their turn (a second or so), and after WAIT_S give up with one
sentence instead of piling up.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

from core import settings

SLOTS_ENV = settings.HEAVY_SLOTS
WAIT_S = 60.0


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


def _semaphore() -> threading.BoundedSemaphore:
    global _slots
    with _make_lock:
        if _slots is None:
            _slots = threading.BoundedSemaphore(settings.heavy_slots())
        return _slots


__all__ = ["heavy_slot", "BusyError", "SLOTS_ENV"]
