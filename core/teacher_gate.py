"""The teacher key, guarded against guessing: a growing delay per client after a few wrong keys,
and every failure logged.

Before, a script tried 150 keys in 31.5 s with no delay and nothing logged. Now each client
(core.clients: one network address) gets FREE_ATTEMPTS wrong keys; after that, each further wrong
key locks that client out for 2^n seconds (2, 4, 8, … capped at MAX_LOCKOUT_S), during which no
key is even compared — the right key too, so the lockout cannot be probed. A right key clears the
client's record. At 15 minutes per guess after the cap, guessing a key of any length is hopeless;
a teacher who mistyped waits seconds. Wrong keys go to the log (module logger, WARNING) with the
hashed client id and the count, never the typed text.

Pure: the clock is injected, so tests run the whole schedule without sleeping. One gate per
server process (app.session keeps it); a lockout is per process, which is what a brute-force
script against one server meets.
"""
from __future__ import annotations

import hmac
import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable

FREE_ATTEMPTS = 3
MAX_LOCKOUT_S = 900.0
_FORGET_AFTER_S = 24 * 3600.0   # a client's failures are forgotten after a quiet day
log = logging.getLogger("cnn_lab.teacher_gate")


@dataclass
class _Record:
    failures: int = 0
    locked_until: float = 0.0
    last: float = 0.0


@dataclass(frozen=True)
class Verdict:
    """The outcome of one attempt: `ok`, or refused with `wait_s` seconds before the next try
    is compared (0: the key was simply wrong)."""

    ok: bool
    wait_s: float = 0.0
    locked: bool = False   # True: the attempt was not compared at all (client still locked out)


class TeacherGate:
    def __init__(self, clock: Callable[[], float] = time.monotonic, free_attempts: int = FREE_ATTEMPTS,
                 max_lockout_s: float = MAX_LOCKOUT_S):
        self.clock, self.free_attempts, self.max_lockout_s = clock, free_attempts, max_lockout_s
        self._records: dict[str, _Record] = {}
        self._lock = threading.Lock()

    def lockout_s(self, failures: int) -> float:
        """Seconds of lockout after the `failures`-th consecutive wrong key."""
        extra = failures - self.free_attempts
        return 0.0 if extra <= 0 else min(self.max_lockout_s, 2.0 ** extra)

    def wait_s(self, client: str) -> float:
        """How long `client` must wait before a key is compared again (0: now)."""
        with self._lock:
            rec = self._records.get(client)
            return max(0.0, rec.locked_until - self.clock()) if rec else 0.0

    def attempt(self, client: str, typed: str, key: str | None) -> Verdict:
        """Compare `typed` with `key` (constant time) unless `client` is locked out."""
        now = self.clock()
        with self._lock:
            self._forget_quiet(now)
            rec = self._records.setdefault(client, _Record())
            rec.last = now
            if rec.locked_until > now:
                log.warning("teacher key attempt refused during lockout: client %s, %.0f s left",
                            client, rec.locked_until - now)
                return Verdict(False, rec.locked_until - now, locked=True)
            ok = key is not None and hmac.compare_digest(typed.strip().encode(), key.encode())
            if ok:
                del self._records[client]
                log.info("teacher key accepted: client %s", client)
                return Verdict(True)
            rec.failures += 1
            wait = self.lockout_s(rec.failures)
            rec.locked_until = now + wait
            log.warning("wrong teacher key: client %s, failure %d, locked for %.0f s",
                        client, rec.failures, wait)
            return Verdict(False, wait)

    def _forget_quiet(self, now: float) -> None:
        if len(self._records) > 1000:  # bound memory against address-rotating scripts
            for c in [c for c, r in self._records.items() if now - r.last > _FORGET_AFTER_S]:
                del self._records[c]


__all__ = ["TeacherGate", "Verdict", "FREE_ATTEMPTS", "MAX_LOCKOUT_S"]
