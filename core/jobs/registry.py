"""The durable run registry: every run's record written through to disk as it changes, so a server
restart (a crash, a redeploy, a reboot during a lesson) loses nothing a learner did.

Store: the standard library's sqlite3 in WAL mode with `synchronous=NORMAL` — every write is one
small atomic transaction appended to the write-ahead log (no fsync per commit; a power cut may lose
the last few commits but never corrupts the file, and a killed process loses nothing committed).
One connection shared by the worker threads behind a lock (writes are tens of microseconds:
bench/registry_bench.py). The schema is versioned (`PRAGMA user_version`).

What is kept, per run: owner, number, nickname, watch token, config, state, queue order,
timestamps, error, the event stream (every event: about 25 per MNIST epoch, a few hundred bytes
each — small enough to keep whole, so the live curves come back exactly), and once done the final
weights (a safetensors file, core.checkpoint) and the final evaluation (confusion matrix, mistakes,
logits for the calibration diagram: an .npz read without pickle). Both files are written atomically
(temporary file + os.replace). Feature-map snapshots are not kept: they are a few MB of float16 per
run, a bonus view of features forming, and the final model's maps are recomputed on the Predict
page from the kept weights.

Files live in `<folder>/` (by default $CNN_LAB_CHECKPOINT_DIR/runs): registry.sqlite3,
<run id>.safetensors, <run id>.eval.npz and, while a run trains, <run id>.epoch.pt (its epoch
checkpoint, core.train_state; removed once the run is over).
"""
from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.atomic_files import write_atomic

SCHEMA_VERSION = 1
DB_NAME = "registry.sqlite3"
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")   # secrets.token_urlsafe ids: safe as file names

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,              -- queue order (start order)
    owner TEXT NOT NULL,
    number INTEGER NOT NULL,
    nickname TEXT,
    watch_token TEXT NOT NULL,
    config TEXT NOT NULL,              -- TrainConfig.to_dict() as JSON
    work REAL NOT NULL,
    probe_index INTEGER NOT NULL,
    state TEXT NOT NULL,
    error TEXT,
    stopped INTEGER NOT NULL DEFAULT 0,  -- 1: Stop pressed; 2: the teacher stopped it
    created REAL NOT NULL,
    started REAL,
    ended REAL,
    has_model INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS runs_owner ON runs(owner);
CREATE TABLE IF NOT EXISTS events (
    run_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (run_id, idx)
) WITHOUT ROWID;
"""


@dataclass
class StoredRun:
    """One run as read back from the registry."""
    id: str
    seq: int
    owner: str
    number: int
    nickname: str | None
    watch_token: str
    config: dict[str, Any]
    work: float
    probe_index: int
    state: str
    error: str | None
    stopped: bool
    created: float
    started: float | None
    ended: float | None
    has_model: bool
    events: list[dict[str, Any]]
    stopped_by_teacher: bool = False


def _stopped(job) -> int:
    """The `stopped` column: 0, 1 (Stop pressed) or 2 (the teacher stopped it: the learner's page
    says so, also after a restart)."""
    return 2 if getattr(job, "stopped_by_teacher", False) else int(job.stopped)


class RunRegistry:
    """The runs of one server, on disk. Thread-safe; every method is one short transaction."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / DB_NAME
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None,
                                   timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise RuntimeError(f"The run registry {self.path.name} was written by a newer CNN Lab.")
        with self._lock:
            self._db.executescript(_SCHEMA)
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        self._seq = (self._db.execute("SELECT MAX(seq) FROM runs").fetchone()[0] or 0)

    # ----------------------------------------------------------------- files of a run
    def _file(self, run_id: str, suffix: str) -> Path:
        if not _ID.match(run_id):
            raise ValueError("not a run id")
        return self.folder / f"{run_id}{suffix}"

    def weights_path(self, run_id: str) -> Path:
        return self._file(run_id, ".safetensors")

    def eval_path(self, run_id: str) -> Path:
        return self._file(run_id, ".eval.npz")

    def epoch_state_path(self, run_id: str) -> Path:
        return self._file(run_id, ".epoch.pt")

    # ----------------------------------------------------------------- writing
    def add(self, job) -> None:
        """A new run (state queued)."""
        with self._lock:
            self._seq += 1
            self._db.execute(
                "INSERT OR REPLACE INTO runs (id, seq, owner, number, nickname, watch_token, config,"
                " work, probe_index, state, error, stopped, created, started, ended, has_model)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,0)",
                (job.id, self._seq, job.owner, job.number, job.nickname, job.watch_token,
                 json.dumps(job.config.to_dict()), float(job.work or 0.0), int(job.probe_index),
                 job.state, job.error, _stopped(job), job.created, job.started, job.ended))

    def update(self, job) -> None:
        """The run's state, times, nickname and error as they are now."""
        with self._lock:
            self._db.execute(
                "UPDATE runs SET state=?, error=?, stopped=?, started=?, ended=?, nickname=? WHERE id=?",
                (job.state, job.error, _stopped(job), job.started, job.ended, job.nickname, job.id))

    def add_event(self, run_id: str, index: int, event: dict[str, Any]) -> None:
        """One event at its index in the run's stream (a repeated index replaces: no duplicates)."""
        body = json.dumps(event, separators=(",", ":"), allow_nan=True)
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO events (run_id, idx, body) VALUES (?,?,?)",
                             (run_id, index, body))

    def truncate_events(self, run_id: str, keep: int) -> None:
        """Keep only the first `keep` events (a resumed run drops what follows its checkpoint)."""
        with self._lock:
            self._db.execute("DELETE FROM events WHERE run_id=? AND idx>=?", (run_id, keep))

    def save_results(self, job) -> None:
        """The finished run's weights and final evaluation, atomically, then its record says so."""
        from core.checkpoint import to_bytes

        model, result = job.model, job.result
        if model is None:
            return
        meta = job.checkpoint_metadata(name=f"run-{job.number}")
        write_atomic(self.weights_path(job.id), to_bytes(model, meta))
        if result is not None:
            arrays = {k: np.asarray(getattr(result, k)) for k in
                      ("confusion", "wrong_indices", "wrong_predicted", "wrong_confidence",
                       "per_class_accuracy")}
            for k in ("logits", "labels"):
                if getattr(result, k) is not None:
                    arrays[k] = np.asarray(getattr(result, k))
            arrays["scalars"] = np.array([result.accuracy, result.loss, result.n], dtype=np.float64)
            from io import BytesIO

            buf = BytesIO()
            np.savez(buf, **arrays)
            write_atomic(self.eval_path(job.id), buf.getvalue())
        with self._lock:
            self._db.execute("UPDATE runs SET has_model=1 WHERE id=?", (job.id,))
        self.epoch_state_path(job.id).unlink(missing_ok=True)

    def delete(self, run_id: str) -> None:
        """Forget a run: its record, events and files."""
        with self._lock:
            self._db.execute("DELETE FROM events WHERE run_id=?", (run_id,))
            self._db.execute("DELETE FROM runs WHERE id=?", (run_id,))
        for suffix in (".safetensors", ".eval.npz", ".epoch.pt"):
            try:
                self._file(run_id, suffix).unlink(missing_ok=True)
            except (OSError, ValueError):
                pass

    def expire(self, older_than_s: float) -> int:
        """Delete runs created more than `older_than_s` seconds ago; how many."""
        cutoff = time.time() - older_than_s
        with self._lock:
            ids = [r[0] for r in self._db.execute("SELECT id FROM runs WHERE created < ?", (cutoff,))]
        for run_id in ids:
            self.delete(run_id)
        return len(ids)

    # ----------------------------------------------------------------- reading
    def load(self) -> list[StoredRun]:
        """Every stored run in queue order, with its events."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, seq, owner, number, nickname, watch_token, config, work, probe_index,"
                " state, error, stopped, created, started, ended, has_model FROM runs ORDER BY seq"
            ).fetchall()
            events: dict[str, list[dict[str, Any]]] = {}
            for run_id, body in self._db.execute("SELECT run_id, body FROM events ORDER BY run_id, idx"):
                events.setdefault(run_id, []).append(json.loads(body))
        return [StoredRun(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]), r[7], r[8], r[9],
                          r[10], bool(r[11]), r[12], r[13], r[14], bool(r[15]), events.get(r[0], []),
                          stopped_by_teacher=r[11] == 2)
                for r in rows]

    def load_model(self, run_id: str):
        """The finished run's model (CPU, eval mode), or None when its file is gone or unusable."""
        from core.checkpoint import CheckpointError, load_checkpoint

        try:
            return load_checkpoint(self.weights_path(run_id)).model
        except (CheckpointError, OSError):
            return None

    def load_eval(self, run_id: str):
        """The finished run's final evaluation (core.train.EvalResult), or None."""
        from core.train import EvalResult

        try:
            with np.load(self.eval_path(run_id), allow_pickle=False) as z:
                acc, loss, n = z["scalars"]
                return EvalResult(float(acc), float(loss), int(n), z["confusion"], z["wrong_indices"],
                                  z["wrong_predicted"], z["wrong_confidence"], z["per_class_accuracy"],
                                  z["logits"] if "logits" in z else None,
                                  z["labels"] if "labels" in z else None)
        except (OSError, ValueError, KeyError):
            return None

    def integrity_ok(self) -> bool:
        with self._lock:
            return self._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    def close(self) -> None:
        with self._lock:
            self._db.close()
