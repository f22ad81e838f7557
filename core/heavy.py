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

import os
import threading
from contextlib import contextmanager
from typing import Iterator

SLOTS_ENV = "CNN_LAB_HEAVY_SLOTS"
DEFAULT_SLOTS = 2
WAIT_S = 60.0


class BusyError(RuntimeError):
    """Every slot stayed taken for WAIT_S seconds: the server is too busy right now."""

    def __init__(self):
        super().__init__("The server is busy reading other visitors' files; try again in a minute.")


def _slots_from_env() -> int:
    raw = os.environ.get(SLOTS_ENV, "").strip()
    if not raw:
        return DEFAULT_SLOTS
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{SLOTS_ENV}={raw!r} is not a usable setting; give a whole number of at "
                         "least 1 (or leave it unset).")
    return value


SLOTS = _slots_from_env()
_slots = threading.BoundedSemaphore(SLOTS)
_held = threading.local()   # re-entrant per thread: a checkpoint load inside a slot takes no second one


@contextmanager
def heavy_slot(wait_s: float = WAIT_S) -> Iterator[None]:
    """Hold one of the SLOTS for a decode or a model load (BusyError after `wait_s`)."""
    if getattr(_held, "depth", 0):
        _held.depth += 1
        try:
            yield
        finally:
            _held.depth -= 1
        return
    if not _slots.acquire(timeout=wait_s):
        raise BusyError()
    _held.depth = 1
    try:
        yield
    finally:
        _held.depth = 0
        _slots.release()


__all__ = ["heavy_slot", "BusyError", "SLOTS", "SLOTS_ENV"]
