"""One writer at a time in a folder, across threads and processes (two tabs of one visitor, two
app servers on one host): an exclusive `flock` on the folder's `.lock` file. Advisory, so every
writer of the folder goes through it."""
from __future__ import annotations

import fcntl
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold the folder's lock (creating the folder) for the `with` block."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
