"""Atomic file writes and the clean-up of the ones a crash cut off.

Every durable file CNN Lab writes (checkpoints, epoch checkpoints, registry side files) is written
to a temporary file in its own folder, fsync'd, then renamed or linked into place. A kill -9 in
the middle leaves a `.cnn-lab-save-*.tmp` file behind; the next start removes it.

Whether such a file is stale is told by a lock, not by its age: the writer holds an exclusive
`flock` on it until the rename is done, and the kernel drops that lock the moment the writer's
process dies. So a restart a few seconds after a crash removes the dead write's file at once, and
a slow write in another live process is never touched, however long it takes.
"""
from __future__ import annotations

import fcntl
import os
import secrets
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TEMP_PREFIX = ".cnn-lab-save-"
TEMP_SUFFIX = ".tmp"
# A file is created under this name, locked, then renamed to TEMP_PREFIX…: a file under the name
# the clean-up reads is always locked while its writer lives. Only a crash in the microseconds
# between creating and renaming leaves one of these (empty); they go once an hour old.
_NEW_PREFIX = ".cnn-lab-new-"
_NEW_MAX_AGE_S = 3600.0
OWN_TEMP_PREFIX = ".cnn-lab-"   # both names: what other clean-up rules must leave to this module


@contextmanager
def locked_temp_file(folder: str | os.PathLike) -> Iterator[tuple[int, str]]:
    """A new temporary file in `folder` as (fd, path), locked until the block ends and removed
    then if it is still there (the block renames it into place when the write succeeded).

    The caller owns `fd` (it may close it, e.g. through os.fdopen); the lock is held by a
    duplicate of it, so closing `fd` before the rename does not release it.
    """
    fd, tmp = tempfile.mkstemp(prefix=_NEW_PREFIX, suffix=TEMP_SUFFIX, dir=folder)
    lock_fd = -1
    try:
        lock_fd = os.dup(fd)
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        locked = os.path.join(folder, f"{TEMP_PREFIX}{secrets.token_hex(8)}{TEMP_SUFFIX}")
        os.rename(tmp, locked)
        tmp = locked
    except BaseException:
        os.close(fd)
        if lock_fd >= 0:
            os.close(lock_fd)
        os.unlink(tmp)
        raise
    try:
        yield fd, tmp
    finally:
        try:
            if os.path.exists(tmp):
                os.unlink(tmp)
        finally:
            os.close(lock_fd)


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Replace `path` with `data`: readers see the old file or the new one, never a torn one."""
    path = Path(path)
    with locked_temp_file(path.parent) as (fd, tmp):
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)


def _is_abandoned(tmp: Path) -> bool:
    """Lock `tmp` without waiting and, if that works, check it is still the file at that name."""
    try:
        fd = os.open(tmp, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False                      # a live process is writing it
        st = os.fstat(fd)
        same = os.stat(tmp, follow_symlinks=False)
        return (st.st_dev, st.st_ino) == (same.st_dev, same.st_ino)
    except OSError:
        return False
    finally:
        os.close(fd)


def remove_abandoned_temp_files(folder: str | os.PathLike) -> int:
    """Remove the temporary files under `folder` whose writer is gone. Returns how many."""
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    removed, now = 0, time.time()
    for tmp in folder.rglob(f"{TEMP_PREFIX}*{TEMP_SUFFIX}"):
        try:
            if tmp.is_file() and not tmp.is_symlink() and _is_abandoned(tmp):
                tmp.unlink()
                removed += 1
        except OSError:
            continue
    for new in folder.rglob(f"{_NEW_PREFIX}*{TEMP_SUFFIX}"):
        try:
            if new.is_file() and not new.is_symlink() and now - new.stat().st_mtime >= _NEW_MAX_AGE_S:
                new.unlink()
                removed += 1
        except OSError:
            continue
    return removed
