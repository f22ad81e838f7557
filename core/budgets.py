"""Per-client and per-server budgets, and the ledger that counts against them.

A client is one network identity (core.clients). Per-workspace limits (core.limits) alone do not
hold a visitor who opens a new tab per workspace, so the costs a person can multiply are counted
per client, and the disk for the whole server has a cap:

    workspaces_per_hour   new workspaces one client may start per hour
    client_disk_bytes     saved models over all workspaces a client started
    server_disk_bytes     saved models and gallery entries on the whole server
    gallery_per_client    gallery entries one client may publish (over all their workspaces)
    runs_per_client       training runs waiting or running for one client (over all workspaces)
    queue_share_percent   the share of the server's queue (CNN_LAB_MAX_QUEUE) one client may fill

Defaults suit one person per address; a school behind one NAT is one client, so each budget is a
setting (CNN_LAB_WORKSPACES_PER_HOUR, CNN_LAB_CLIENT_DISK_MB, CNN_LAB_SERVER_DISK_MB,
CNN_LAB_GALLERY_PER_CLIENT, CNN_LAB_RUNS_PER_CLIENT, CNN_LAB_QUEUE_SHARE_PERCENT) and the teacher can raise any of them at runtime for the lesson
(`ClientLedger.set_budget`); a raised budget is stored in the ledger, so every app server sharing
the checkpoint folder sees it and it survives a restart.

The ledger is an SQLite database in the checkpoint folder (WAL mode: page runs read while another
server writes): which client started which workspace and when. That record is what lets a client's
disk be summed over their workspaces, durably and across servers. Checks that must not race
(claim a workspace under the hourly budget) run in one IMMEDIATE transaction.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Callable, Mapping

from core import settings
from core.sqlite_file import SqliteFile

MB = 1024 * 1024
LEDGER_FILE = ".ledger.sqlite3"
HOUR = 3600.0

ENV_VARS = settings.BUDGET_VARS   # the settings (core.settings reads them)


BudgetConfigError = settings.SettingsError   # a budget setting that cannot be used


class BudgetError(ValueError):
    """A request over a client's or the server's budget: one sentence; `code` and `details` for
    translations (i18n key `budget.<code>`)."""

    def __init__(self, message: str, code: str, **details):
        self.code, self.details = code, details
        super().__init__(message)


@dataclass(frozen=True)
class Budgets:
    workspaces_per_hour: int = 20
    client_disk_bytes: int = 300 * MB       # three workspaces' worth of the per-workspace quota
    server_disk_bytes: int = 4096 * MB
    gallery_per_client: int = 6
    runs_per_client: int = 4                # core.client_runs: a household or a pair per address
    queue_share_percent: int = 25           # core.client_runs: of CNN_LAB_MAX_QUEUE, at least 2 runs

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Budgets":
        """The defaults, overridden by the CNN_LAB_* budget settings (core.settings)."""
        return replace(cls(), **settings.budget_overrides(environ))


BUDGET_NAMES = tuple(f.name for f in fields(Budgets))


class ClientLedger(SqliteFile):
    """Counts what each client started, against `Budgets` (the settings, raised by the teacher).

    Thread-safe; one connection per thread (sqlite3 objects stay in their thread)."""

    def __init__(self, root: str | os.PathLike, budgets: Budgets | None = None,
                 clock: Callable[[], float] = time.time):
        self.root = Path(root)
        self.base = Budgets.from_env() if budgets is None else budgets
        self.clock = clock
        SqliteFile.__init__(self, self.root / LEDGER_FILE)
        self.root.mkdir(parents=True, exist_ok=True)
        with self._tx() as db:
            db.execute("CREATE TABLE IF NOT EXISTS workspaces (id TEXT PRIMARY KEY, client TEXT NOT NULL, "
                       "created REAL NOT NULL)")
            db.execute("CREATE INDEX IF NOT EXISTS workspaces_client ON workspaces (client, created)")
            db.execute("CREATE TABLE IF NOT EXISTS budgets (name TEXT PRIMARY KEY, value INTEGER NOT NULL)")

    # ------------------------------------------------------------------ budgets
    def budgets(self) -> Budgets:
        """The settings with the teacher's runtime changes applied."""
        rows = self._db().execute("SELECT name, value FROM budgets").fetchall()
        return replace(self.base, **{n: int(v) for n, v in rows if n in BUDGET_NAMES})

    def set_budget(self, name: str, value: int) -> Budgets:
        """Teacher only (the page checks): set one budget for every server sharing this folder."""
        if name not in BUDGET_NAMES:
            raise ValueError(f"No budget named {name!r}.")
        if not isinstance(value, int) or value < 1:
            raise ValueError("A budget is a whole number of at least 1.")
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO budgets (name, value) VALUES (?, ?)", (name, value))
        return self.budgets()

    def reset_budgets(self) -> Budgets:
        """Back to the settings (after the lesson)."""
        with self._tx() as db:
            db.execute("DELETE FROM budgets")
        return self.budgets()

    # ------------------------------------------------------------------ workspaces
    def claim_workspace(self, client: str, workspace_id: str) -> None:
        """Record that `client` starts `workspace_id`, or BudgetError when the client started
        `workspaces_per_hour` already in the last hour."""
        now = self.clock()
        limit = self.budgets().workspaces_per_hour
        with self._tx() as db:
            rows = db.execute("SELECT created FROM workspaces WHERE client = ? AND created > ? "
                              "ORDER BY created", (client, now - HOUR)).fetchall()
            if len(rows) >= limit:
                wait_min = max(1, math.ceil((rows[0][0] + HOUR - now) / 60))
                raise BudgetError(f"This network has started {len(rows)} workspaces in the last hour, "
                                  f"the most this server allows; open your private link to go on "
                                  f"in your own, or try again in {wait_min} minutes.",
                                  code="workspaces_per_hour", count=len(rows), limit=limit, minutes=wait_min)
            db.execute("INSERT OR IGNORE INTO workspaces (id, client, created) VALUES (?, ?, ?)",
                       (workspace_id, client, now))

    def creator_of(self, workspace_id: str) -> str | None:
        row = self._db().execute("SELECT client FROM workspaces WHERE id = ?", (workspace_id,)).fetchone()
        return row[0] if row else None

    def workspaces_of(self, client: str) -> list[str]:
        """The workspaces `client` started, newest first."""
        rows = self._db().execute("SELECT id FROM workspaces WHERE client = ? ORDER BY created DESC",
                                  (client,)).fetchall()
        return [r[0] for r in rows]

    # ------------------------------------------------------------------ disk
    def client_disk_bytes(self, client: str) -> int:
        """Bytes of saved models in every workspace `client` started."""
        return sum(folder_bytes(self.root / "workspaces" / w) for w in self.workspaces_of(client))

    def server_disk_bytes(self) -> int:
        """Bytes of saved models in every workspace and the gallery."""
        return folder_bytes(self.root / "workspaces", recursive=True) + folder_bytes(self.root / "gallery")


def folder_bytes(folder: Path, recursive: bool = False) -> int:
    """Bytes of the model and sidecar files in `folder` (0 when it does not exist)."""
    total = 0
    pattern = "**/*" if recursive else "*"
    try:
        for p in folder.glob(pattern):
            if p.suffix in (".safetensors", ".json", ".tmp") and not p.is_symlink():
                try:
                    total += p.stat().st_size
                except OSError:
                    pass
    except OSError:
        return total
    return total


__all__ = ["Budgets", "BudgetError", "BudgetConfigError", "ClientLedger", "BUDGET_NAMES", "ENV_VARS",
           "folder_bytes", "LEDGER_FILE"]
