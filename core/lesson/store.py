"""The lesson's durable record: an SQLite database (WAL) in the checkpoint folder.

What a lesson must not lose when a server restarts, or that every server sharing the checkpoint
folder must see: the lesson and its class code, the rounds ("new exercise"), the assignments and
which one is current, the roster (one entry per workspace that opened the app, with nickname,
PIN hash and default seed), the runs learners submitted with their figures and results (the job
manager keeps runs in memory and forgets old ones; the export and the leaderboard read these),
which nicknames the teacher features, and the recovery attempts (core.lesson.recovery).

    <checkpoint root>/.lesson.sqlite3

Runs are keyed by a hash of the job id: nothing in this file, and nothing read from it, can be
turned back into a run id (the owner's handle to a run). Check-then-write steps (a unique
nickname, a recovery attempt) run in one IMMEDIATE transaction, so two servers cannot race.
One connection per thread (sqlite3 objects stay in their thread), as in core.budgets.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from core import link_signing
from core.jobs.job import MAX_NICKNAME
from core.lesson import recovery
from core.lesson.assignments import Assignment, spec_matches
from core.lesson.seeds import SEED_RANGE, learner_seed
from core.names import clean_name
from core.sqlite_file import SqliteFile

LESSON_FILE = ".lesson.sqlite3"
FORGET_AFTER_S = 24 * 3600.0
SEEN_EVERY_S = 15.0   # last_seen is refreshed at most this often per learner
_PENDING = "\0pending"   # gallery_entry while a publication is under way
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS lessons (id TEXT PRIMARY KEY, code TEXT NOT NULL, started REAL NOT NULL, "
    "round INTEGER NOT NULL DEFAULT 1, current_assignment TEXT)",
    "CREATE TABLE IF NOT EXISTS assignments (id TEXT PRIMARY KEY, lesson TEXT NOT NULL, round INTEGER NOT NULL, "
    "created REAL NOT NULL, data TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS roster (lesson TEXT NOT NULL, workspace TEXT NOT NULL, nickname TEXT, "
    "nick_key TEXT, pin_hash TEXT, salt BLOB, sealed BLOB, seed INTEGER NOT NULL, joined REAL NOT NULL, "
    "last_seen REAL NOT NULL, editing INTEGER NOT NULL DEFAULT 0, featured INTEGER NOT NULL DEFAULT 0, "
    "PRIMARY KEY (lesson, workspace), UNIQUE (lesson, nick_key))",
    "CREATE TABLE IF NOT EXISTS runs (key TEXT PRIMARY KEY, lesson TEXT NOT NULL, round INTEGER NOT NULL, "
    "workspace TEXT NOT NULL, assignment TEXT, dataset TEXT, architecture TEXT, preset_match INTEGER, "
    "params INTEGER, madds INTEGER, epochs INTEGER, fraction REAL, seed INTEGER, submitted REAL, "
    "finished REAL, state TEXT NOT NULL, test_accuracy REAL, ece REAL, train_seconds REAL, error TEXT, "
    "gallery_entry TEXT)",
    "CREATE INDEX IF NOT EXISTS runs_workspace ON runs (lesson, workspace)",
    "CREATE TABLE IF NOT EXISTS attempts (subject TEXT PRIMARY KEY, failures INTEGER NOT NULL, "
    "locked_until REAL NOT NULL)",
)


class LessonError(ValueError):
    """A lesson request that cannot be served, in one sentence (`code`: i18n key lesson.<code>)."""

    def __init__(self, message: str, code: str, **details):
        self.code, self.details = code, details
        super().__init__(message)


@dataclass(frozen=True)
class Lesson:
    id: str
    code: str            # the class code the teacher shows (core.lesson.recovery)
    started: float
    round: int
    current_assignment: str | None


@dataclass(frozen=True)
class RosterEntry:
    """One workspace that opened the app in this lesson."""
    workspace_id: str
    nickname: str | None       # cleaned: safe anywhere; None until the learner gives one
    seed: int                  # the learner's default seed
    joined: float
    last_seen: float
    editing: bool              # changed the Train form since their last run
    featured: bool             # highlighted on the projector
    has_pin: bool


@dataclass(frozen=True)
class RunRecord:
    """One submitted run, as the export and the leaderboard read it (no run id)."""
    key: str                   # hash of the job id
    round: int
    workspace_id: str
    nickname: str | None
    assignment_id: str | None
    dataset: str
    architecture: str          # preset name or "custom"
    preset_match: bool         # the spec is exactly the preset's
    params: int | None
    madds: int | None
    epochs: int | None
    fraction: float | None
    seed: int | None
    submitted: float | None    # UTC epoch seconds
    finished: float | None
    state: str                 # a core.jobs state
    test_accuracy: float | None
    ece: float | None          # calibrated expected calibration error on the test set
    train_seconds: float | None
    error: str | None
    gallery_entry: str | None


def run_key(job_id: str) -> str:
    """The store's name for a run: a hash, so the store never holds the id itself."""
    return hashlib.sha256(b"cnn-lab-run\0" + str(job_id).encode()).hexdigest()[:32]


def nick_key(nickname: str) -> str:
    return " ".join(nickname.casefold().split())


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


class LessonStore(SqliteFile):
    """The lesson's record. Thread-safe; every server sharing the checkpoint folder sees it."""

    def __init__(self, root: str | os.PathLike, clock: Callable[[], float] = time.time):
        self.root = Path(root)
        self.clock = clock
        SqliteFile.__init__(self, self.root / LESSON_FILE)
        self.root.mkdir(parents=True, exist_ok=True)
        with self._tx() as db:
            for statement in _SCHEMA:
                db.execute(statement)

    @classmethod
    def at_server(cls) -> "LessonStore":
        """The store of this server's checkpoint folder ($CNN_LAB_CHECKPOINT_DIR or the repo's)."""
        from core.checkpoint import checkpoint_dir

        return cls(checkpoint_dir())


    # ------------------------------------------------------------------ lesson and rounds
    def lesson(self) -> Lesson:
        """The lesson under way; the first call on a fresh folder starts one."""
        row = self._current_row(self._db())
        if row is None:
            with self._tx() as db:
                row = self._current_row(db) or self._start(db)
        return Lesson(*row)

    def _current_row(self, db: sqlite3.Connection) -> tuple | None:
        got = db.execute("SELECT value FROM meta WHERE key = 'lesson'").fetchone()
        if got is None:
            return None
        return db.execute("SELECT id, code, started, round, current_assignment FROM lessons WHERE id = ?",
                          (got[0],)).fetchone()

    def _start(self, db: sqlite3.Connection) -> tuple:
        row = ("L" + secrets.token_hex(6), recovery.new_class_code(), self.clock(), 1, None)
        db.execute("INSERT INTO lessons (id, code, started, round, current_assignment) VALUES (?, ?, ?, ?, ?)", row)
        db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('lesson', ?)", (row[0],))
        return row

    def start_lesson(self) -> Lesson:
        """Teacher only: a new lesson with a new class code and an empty roster (the old one's
        records stay, for its export)."""
        with self._tx() as db:
            self._start(db)
        return self.lesson()

    def new_round(self) -> Lesson:
        """Teacher only ("new exercise"): the board starts empty; earlier rounds' runs are
        archived (still exported, no longer on the board or the leaderboard)."""
        with self._tx() as db:
            lesson = self._current_row(db) or self._start(db)
            db.execute("UPDATE lessons SET round = round + 1, current_assignment = NULL WHERE id = ?", (lesson[0],))
            db.execute("UPDATE roster SET editing = 0 WHERE lesson = ?", (lesson[0],))
        return self.lesson()

    # ------------------------------------------------------------------ assignments
    def add_assignment(self, assignment: Assignment, make_current: bool = True) -> Assignment:
        """Teacher only: keep `assignment` (core.lesson.assignments.make_assignment) in this
        lesson's current round; it becomes the current one unless told otherwise."""
        lesson = self.lesson()
        stored = Assignment.from_dict({**assignment.to_dict(), "round": lesson.round})
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO assignments (id, lesson, round, created, data) VALUES (?, ?, ?, ?, ?)",
                       (stored.id, lesson.id, stored.round, stored.created_at,
                        json.dumps(stored.to_dict(), ensure_ascii=False)))
            if make_current:
                db.execute("UPDATE lessons SET current_assignment = ? WHERE id = ?", (stored.id, lesson.id))
        return stored

    def assignments(self, all_rounds: bool = False) -> list[Assignment]:
        """This lesson's assignments (this round's unless `all_rounds`), oldest first."""
        lesson = self.lesson()
        rows = self._db().execute("SELECT data, round FROM assignments WHERE lesson = ? ORDER BY created",
                                  (lesson.id,)).fetchall()
        return [Assignment.from_dict(json.loads(d)) for d, r in rows if all_rounds or r == lesson.round]

    def assignment(self, assignment_id: str | None) -> Assignment | None:
        if not assignment_id:
            return None
        row = self._db().execute("SELECT data FROM assignments WHERE id = ?", (assignment_id,)).fetchone()
        return Assignment.from_dict(json.loads(row[0])) if row else None

    def current_assignment(self) -> Assignment | None:
        """The assignment learners get by default (None: free practice)."""
        return self.assignment(self.lesson().current_assignment)

    def set_current(self, assignment_id: str | None) -> None:
        """Teacher only: make another of this lesson's assignments current (None: none)."""
        lesson = self.lesson()
        if assignment_id is not None:
            row = self._db().execute("SELECT 1 FROM assignments WHERE id = ? AND lesson = ?",
                                     (assignment_id, lesson.id)).fetchone()
            if row is None:
                raise LessonError("That assignment is not part of this lesson.", code="no_assignment")
        with self._tx() as db:
            db.execute("UPDATE lessons SET current_assignment = ? WHERE id = ?", (assignment_id, lesson.id))

    # ------------------------------------------------------------------ roster
    def seen(self, workspace_id: str) -> RosterEntry:
        """A workspace opened the app: it is on the roster from now on (with its default seed).
        Call on each page run; cheap when already there."""
        lesson, now = self.lesson(), self.clock()
        entry = self.entry(workspace_id)
        if entry is not None and now - entry.last_seen < SEEN_EVERY_S:
            return entry     # seen a moment ago: no write (pages rerun every second or two)
        with self._tx() as db:
            row = db.execute("SELECT 1 FROM roster WHERE lesson = ? AND workspace = ?",
                             (lesson.id, workspace_id)).fetchone()
            if row is None:
                taken = {s for (s,) in db.execute("SELECT seed FROM roster WHERE lesson = ?", (lesson.id,))}
                seed = learner_seed(lesson.id, workspace_id)
                while seed in taken:           # a rare collision: the next free seed
                    seed = (seed + 1) % SEED_RANGE
                db.execute("INSERT INTO roster (lesson, workspace, seed, joined, last_seen) VALUES (?, ?, ?, ?, ?)",
                           (lesson.id, workspace_id, seed, now, now))
            else:
                db.execute("UPDATE roster SET last_seen = ? WHERE lesson = ? AND workspace = ?",
                           (now, lesson.id, workspace_id))
        entry = self.entry(workspace_id)
        assert entry is not None
        return entry

    def join(self, workspace_id: str, nickname: Any, pin: str | None, secret: str | None) -> RosterEntry:
        """A learner gives their nickname (once per workspace; they may change it) and a PIN.

        The nickname is cleaned (core.names) and must be free in this lesson (compared without
        case), so the board and recovery name one learner each. With a PIN and the workspace's
        `secret`, the secret is sealed for recovery (core.lesson.recovery); without, the learner
        can only come back through their private link. LessonError says what is wrong."""
        nick = clean_name(nickname, MAX_NICKNAME)
        if not nick:
            raise LessonError("Choose a nickname of letters or digits (at most 24).", code="no_nickname")
        if pin is not None and not recovery.valid_pin(pin):
            raise LessonError("A PIN is 4 to 8 digits.", code="bad_pin")
        if pin is not None and not secret:
            raise ValueError("a PIN guards the workspace's secret: pass the secret with it")
        sealed = salt = pin_hash = None
        if pin is not None and secret:
            salt = secrets.token_bytes(16)
            pin_hash = recovery.hash_pin(pin, salt)
            sealed = recovery.seal(secret, link_signing.server_key(self.root), salt, pin)
        self.seen(workspace_id)
        lesson = self.lesson()
        with self._tx() as db:
            other = db.execute("SELECT workspace FROM roster WHERE lesson = ? AND nick_key = ?",
                               (lesson.id, nick_key(nick))).fetchone()
            if other is not None and other[0] != workspace_id:
                raise LessonError(f"Someone in this class already uses the nickname {nick}; choose another.",
                                  code="nickname_taken", nickname=nick)
            db.execute("UPDATE roster SET nickname = ?, nick_key = ? WHERE lesson = ? AND workspace = ?",
                       (nick, nick_key(nick), lesson.id, workspace_id))
            if pin_hash is not None:
                db.execute("UPDATE roster SET pin_hash = ?, salt = ?, sealed = ? WHERE lesson = ? AND workspace = ?",
                           (pin_hash, salt, sealed, lesson.id, workspace_id))
        entry = self.entry(workspace_id)
        assert entry is not None
        return entry

    def forget(self, workspace_id: str) -> bool:
        """Take a workspace off this lesson's roster (the teacher's own: the teacher is not a
        learner). Its recorded runs stay, for the export. False when it was not on it."""
        lesson = self.lesson().id
        with self._tx() as db:
            cur = db.execute("DELETE FROM roster WHERE lesson = ? AND workspace = ?", (lesson, workspace_id))
        return cur.rowcount > 0

    def last_nickname(self, workspace_id: str) -> str | None:
        """The nickname this workspace used most recently in any lesson on this server, for the
        page to offer again (a nickname is kept per workspace; a new lesson still asks to
        confirm it, since another learner may have taken it meanwhile)."""
        row = self._db().execute("SELECT r.nickname FROM roster r JOIN lessons l ON l.id = r.lesson "
                                 "WHERE r.workspace = ? AND r.nickname IS NOT NULL ORDER BY l.started DESC, "
                                 "r.joined DESC LIMIT 1", (workspace_id,)).fetchone()
        return row[0] if row else None

    def mark_editing(self, workspace_id: str, editing: bool = True) -> None:
        """The learner changed the Train form (True) or started a run (False)."""
        with self._tx() as db:
            db.execute("UPDATE roster SET editing = ?, last_seen = ? WHERE lesson = ? AND workspace = ?",
                       (int(editing), self.clock(), self.lesson().id, workspace_id))

    def set_featured(self, nickname: str, featured: bool) -> bool:
        """Teacher only: highlight a learner on the projector. False when no such nickname."""
        with self._tx() as db:
            cur = db.execute("UPDATE roster SET featured = ? WHERE lesson = ? AND nick_key = ?",
                             (int(featured), self.lesson().id, nick_key(clean_name(nickname, MAX_NICKNAME))))
        return cur.rowcount > 0

    _ROSTER_COLS = "workspace, nickname, seed, joined, last_seen, editing, featured, pin_hash IS NOT NULL"

    def entry(self, workspace_id: str) -> RosterEntry | None:
        row = self._db().execute(f"SELECT {self._ROSTER_COLS} FROM roster WHERE lesson = ? AND workspace = ?",
                                 (self.lesson().id, workspace_id)).fetchone()
        return _entry(row) if row else None

    def roster(self) -> list[RosterEntry]:
        """Every workspace that opened the app in this lesson, in the order they came."""
        rows = self._db().execute(f"SELECT {self._ROSTER_COLS} FROM roster WHERE lesson = ? ORDER BY joined",
                                  (self.lesson().id,)).fetchall()
        return [_entry(r) for r in rows]

    # ------------------------------------------------------------------ recovery
    def recover(self, nickname: Any, code: Any, pin: Any, client: str) -> tuple[str, str]:
        """(workspace id, private-link secret) of the learner with this nickname and PIN in the
        lesson whose class code is `code`; RecoveryError otherwise (see core.lesson.recovery for
        the guard: one answer for every wrong part, a growing delay per nickname and per client).
        """
        lesson, now = self.lesson(), self.clock()
        nick = clean_name(nickname, MAX_NICKNAME)
        subjects = (f"client:{client}", f"nick:{lesson.id}:{nick_key(nick)}")
        wait = self._reserve_attempt(subjects, now)
        row = self._db().execute("SELECT workspace, pin_hash, salt, sealed FROM roster WHERE lesson = ? AND nick_key = ?",
                                 (lesson.id, nick_key(nick))).fetchone() if nick else None
        code_ok = secrets.compare_digest(recovery.normalize_code(code).encode(), lesson.code.encode())
        if row is None or row[1] is None:
            recovery.hash_pin(str(pin), b"\0" * 16)     # the same work as a real check: no timing hint
            pin_ok = False
        else:
            pin_ok = recovery.valid_pin(pin) and recovery.pin_matches(pin, row[2], row[1])
        secret = None
        if code_ok and pin_ok:
            secret = recovery.unseal(row[3], link_signing.server_key(self.root), row[2], pin)
        from core.workspace import workspace_id as id_of   # lazy: core.workspace loads torch
        if secret is not None and id_of(secret) == row[0]:
            with self._tx() as db:   # a right answer clears both counts
                db.executemany("DELETE FROM attempts WHERE subject = ?", [(s,) for s in subjects])
            return row[0], secret
        raise recovery.RecoveryError("That nickname, class code and PIN do not match a learner of this lesson.",
                                     code="no_match", wait_s=wait)

    def _reserve_attempt(self, subjects: tuple[str, ...], now: float) -> float:
        """Count this try as wrong *before* comparing anything, in one transaction with the
        lockout check: tries fired in parallel are counted one by one, so a burst cannot slip
        past the lockout. RecoveryError while locked; else the lock this try sets if it is
        wrong (a right one clears it)."""
        with self._tx() as db:
            # A day of quiet forgets a subject's wrong tries (as core.teacher_gate), and keeps the
            # table small against a script that rotates addresses.
            db.execute("DELETE FROM attempts WHERE locked_until < ?", (now - FORGET_AFTER_S,))
            rows = [db.execute("SELECT failures, locked_until FROM attempts WHERE subject = ?", (s,)).fetchone()
                    for s in subjects]
            locked = max((r[1] - now for r in rows if r is not None), default=0.0)
            if locked > 0:
                raise recovery.RecoveryError(f"Too many wrong tries; wait {math.ceil(locked)} seconds, or ask "
                                             "the teacher.", code="locked", wait_s=locked)
            wait = 0.0
            for s, r in zip(subjects, rows):
                failures = (r[0] if r else 0) + 1
                lock = recovery.lockout_s(failures)
                wait = max(wait, lock)
                db.execute("INSERT OR REPLACE INTO attempts (subject, failures, locked_until) VALUES (?, ?, ?)",
                           (s, failures, now + lock))
        return wait

    def locked_out(self) -> int:
        """How many nicknames of this lesson, and networks, are locked out of coming back now."""
        rows = self._db().execute("SELECT subject FROM attempts WHERE locked_until > ?", (self.clock(),)).fetchall()
        mine = f"nick:{self.lesson().id}:"
        return sum(1 for (subject,) in rows if subject.startswith(mine) or subject.startswith("client:"))

    def clear_lockouts(self) -> int:
        """Teacher only: forget every wrong try of this lesson's nicknames and of every network, so
        everyone may come back again (a classmate who guessed at a nickname, or a whole school
        behind one address locked by one learner's typos). Returns how many locks it lifted."""
        now, mine = self.clock(), f"nick:{self.lesson().id}:%"
        with self._tx() as db:
            lifted = db.execute("SELECT COUNT(*) FROM attempts WHERE locked_until > ? AND "
                                "(subject LIKE ? OR subject LIKE 'client:%')", (now, mine)).fetchone()[0]
            db.execute("DELETE FROM attempts WHERE subject LIKE ? OR subject LIKE 'client:%'", (mine,))
        return lifted

    def unlock(self, nickname: str) -> None:
        """Teacher only: clear the wrong-try count of a learner's nickname."""
        nick = clean_name(nickname, MAX_NICKNAME)
        with self._tx() as db:
            db.execute("DELETE FROM attempts WHERE subject = ?", (f"nick:{self.lesson().id}:{nick_key(nick)}",))

    # ------------------------------------------------------------------ runs
    def record_run(self, job: Any, assignment_id: str | None = None) -> RunRecord:
        """Record (or update) one run from its core.jobs.Job, read only: its settings and cost
        when it is submitted, its state and results as it goes. Call at Start with the
        assignment id the run is for, then whenever the page sees the run again; idempotent."""
        from core.models import SpecError, summary

        lesson, c = self.lesson(), job.config
        try:
            s = summary(c.spec, num_classes=len(c.classes) if c.classes else 10)
            params, madds = s.total_params, s.total_mult_adds
        except (SpecError, TypeError, ValueError):
            params = madds = None
        m = job.metrics()
        calib = m.get("calibration") if isinstance(m.get("calibration"), dict) else {}
        state = job.state
        values = dict(
            key=run_key(job.id), lesson=lesson.id, round=lesson.round, workspace=job.owner,
            assignment=assignment_id, dataset=c.dataset, architecture=c.preset or "custom",
            preset_match=int(bool(c.preset) and spec_matches(c.spec, c.preset)), params=params, madds=madds,
            epochs=c.epochs, fraction=_finite(c.fraction), seed=c.seed, submitted=_finite(job.created),
            finished=_finite(job.ended) if not job.active else None, state=state,
            test_accuracy=_finite(m.get("test_accuracy")), ece=_finite(calib.get("test_ece_calibrated")),
            train_seconds=_finite(m.get("train_seconds")), error=job.error)
        with self._tx() as db:
            old = db.execute("SELECT round, assignment FROM runs WHERE key = ?", (values["key"],)).fetchone()
            if old is not None:   # a run stays in the round and assignment it was submitted to
                values["round"], values["assignment"] = old[0], assignment_id or old[1]
            cols = ", ".join(values)
            db.execute(f"INSERT INTO runs ({cols}) VALUES ({', '.join('?' * len(values))}) "
                       f"ON CONFLICT(key) DO UPDATE SET "
                       + ", ".join(f"{k} = excluded.{k}" for k in values if k != "key"), tuple(values.values()))
        record = self.run(job.id)
        assert record is not None
        return record

    def claim_publication(self, job_id: str) -> bool:
        """One gallery entry per run: True for the one caller that may publish this (recorded)
        run now — a double click, a second tab or the teacher at the same moment get False.
        Follow with `mark_published`, or `release_publication` when publishing failed."""
        with self._tx() as db:
            cur = db.execute("UPDATE runs SET gallery_entry = ? WHERE key = ? AND gallery_entry IS NULL",
                             (_PENDING, run_key(job_id)))
        return cur.rowcount == 1

    def release_publication(self, job_id: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE runs SET gallery_entry = NULL WHERE key = ? AND gallery_entry = ?",
                       (run_key(job_id), _PENDING))

    def mark_published(self, job_id: str, entry_id: str | None) -> None:
        """The run's model went to the gallery as `entry_id` (None: its entry was removed, so it
        may be published again)."""
        with self._tx() as db:
            db.execute("UPDATE runs SET gallery_entry = ? WHERE key = ?", (entry_id, run_key(job_id)))

    def gallery_entry_of(self, job_id: str) -> str | None:
        """The gallery entry of this run, if it was published (the page then offers no second);
        "" while a publication is under way."""
        row = self._db().execute("SELECT gallery_entry FROM runs WHERE key = ?", (run_key(job_id),)).fetchone()
        return None if row is None or row[0] is None else ("" if row[0] == _PENDING else row[0])

    def run_states(self) -> dict[str, str]:
        """{run key: state} of this lesson's runs (to skip runs whose record is final)."""
        return dict(self._db().execute("SELECT key, state FROM runs WHERE lesson = ?", (self.lesson().id,)))

    _RUN_COLS = ("r.key, r.round, r.workspace, ro.nickname, r.assignment, r.dataset, r.architecture, "
                 "r.preset_match, r.params, r.madds, r.epochs, r.fraction, r.seed, r.submitted, r.finished, "
                 "r.state, r.test_accuracy, r.ece, r.train_seconds, r.error, r.gallery_entry")

    def run(self, job_id: str) -> RunRecord | None:
        row = self._db().execute(f"SELECT {self._RUN_COLS} FROM runs r LEFT JOIN roster ro ON "
                                 "ro.lesson = r.lesson AND ro.workspace = r.workspace WHERE r.key = ?",
                                 (run_key(job_id),)).fetchone()
        return _record(row) if row else None

    def runs(self, all_rounds: bool = False, workspace_id: str | None = None) -> list[RunRecord]:
        """This lesson's runs (this round's unless `all_rounds`), in the order submitted."""
        lesson = self.lesson()
        sql = (f"SELECT {self._RUN_COLS} FROM runs r LEFT JOIN roster ro ON ro.lesson = r.lesson "
               "AND ro.workspace = r.workspace WHERE r.lesson = ?")
        args: list[Any] = [lesson.id]
        if not all_rounds:
            sql, args = sql + " AND r.round = ?", args + [lesson.round]
        if workspace_id is not None:
            sql, args = sql + " AND r.workspace = ?", args + [workspace_id]
        return [_record(r) for r in self._db().execute(sql + " ORDER BY r.submitted", args).fetchall()]


def _entry(row: tuple) -> RosterEntry:
    ws, nick, seed, joined, seen, editing, featured, has_pin = row
    return RosterEntry(ws, nick, int(seed), float(joined), float(seen), bool(editing), bool(featured), bool(has_pin))


def _record(row: tuple) -> RunRecord:
    (key, rnd, ws, nick, assignment, dataset, arch, match, params, madds, epochs, fraction, seed, submitted,
     finished, state, acc, ece, secs, error, entry) = row
    entry = None if entry == _PENDING else entry
    return RunRecord(key, int(rnd), ws, nick, assignment, dataset or "", arch or "custom", bool(match), params,
                     madds, epochs, fraction, seed, submitted, finished, state, acc, ece, secs, error, entry)


__all__ = ["LESSON_FILE", "Lesson", "LessonError", "LessonStore", "RosterEntry", "RunRecord", "nick_key",
           "run_key"]
