"""One SQLite file shared by threads and by every app server on the checkpoint folder: WAL mode
(readers never wait for the writer), one connection per thread, and IMMEDIATE transactions so a
check-then-write is atomic across threads and processes. core.budgets' ledger and core.lesson's
store build on it."""
from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


class SqliteFile:
    """Give a subclass `self._db()` (this thread's connection) and `with self._tx() as db:`."""

    def __init__(self, path: Path):
        self.path = path
        self._local = threading.local()

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction: its check-then-write is atomic across threads and servers."""
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        """Close this thread's connection (tests reopen the file to check durability)."""
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None
