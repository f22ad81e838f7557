"""Time caps per run: a run whose estimate is longer than the server allows is refused at Start with
a sentence naming what to shrink, and a run that overruns its estimate by a wide margin is stopped
like a Stop press (it keeps the model trained so far).

Both apply where a cap is set ($CNN_LAB_MAX_RUN_SECONDS; by default 10 min on a class server and
none on a laptop). Why both: the estimate (core.jobs.estimates: multiply-adds ÷ the server's measured rate) keeps one
learner's 8-hour run from holding a worker a whole lesson; the watchdog catches what the estimate
misses (a rate measured on small runs, a machine that got busier). The margin is generous —
estimate × $CNN_LAB_RUN_OVERRUN (default 2) and at least a minute over it — so an honest run is
never cut short by a noisy estimate.

The manager calls `check_duration` in start() and wraps each dispatched job's sink with `guard`;
nothing else of it changes.
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from core import settings
from core.limits import format_count
from core.models import summary
from core.train_config import ConfigError, TrainConfig

MIN_EXTRA_SECONDS = 60.0   # a run is never stopped less than a minute after its estimate
OVERRUN_REASON = "time_limit"
OVERRUN_SENTENCE = "Stopped: this run took longer than the server allows; the model trained so far is kept."


class RunTooLong(ConfigError):
    """A run whose estimated duration is over the server's cap. `seconds` is the estimate,
    `limit` the cap; the message says what to shrink, with numbers."""

    def __init__(self, message: str, seconds: float, limit: float):
        super().__init__(message)
        self.seconds, self.limit = seconds, limit


@dataclass(frozen=True)
class RunCaps:
    """The caps a manager applies: the longest estimate Start accepts, and the overrun margin."""
    max_seconds: float | None
    overrun_factor: float = settings.DEFAULT_RUN_OVERRUN
    min_extra_seconds: float = MIN_EXTRA_SECONDS

    @classmethod
    def from_settings(cls) -> "RunCaps":
        cap = settings.max_run_seconds()
        return cls(None if cap is None else float(cap), settings.overrun_factor())

    def deadline(self, estimate: float | None) -> float | None:
        """Seconds after dispatch at which a run estimated at `estimate` seconds is stopped (None:
        never — also when the server sets no time cap)."""
        if self.max_seconds is None or estimate is None or not math.isfinite(estimate) or estimate <= 0:
            return None
        return max(estimate * self.overrun_factor, estimate + self.min_extra_seconds)


def format_duration(seconds: float) -> str:
    """"45 s", "12 min", "8 h 40 min": a run's length in a sentence."""
    seconds = max(1, int(math.ceil(seconds)))
    if seconds < 90:
        return f"{seconds} s"
    minutes = int(round(seconds / 60))
    if minutes < 90:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def _duration(manager: Any, work: float) -> float | None:
    rate = getattr(manager, "rate", None)
    if not rate or not work:
        return None
    return manager.startup_seconds + work / rate


def too_long_sentence(config: TrainConfig, seconds: float, limit: float, num_classes: int) -> str:
    """What to shrink, with the numbers: fewer epochs, a smaller data share, or a smaller network
    (each alone would fit; the first that can is named first)."""
    share = limit / seconds
    epochs = int(config.epochs)
    parts = []
    if epochs > 1 and math.floor(epochs * share) >= 1:
        parts.append(f"{math.floor(epochs * share)} epochs instead of {epochs}")
    fraction = float(config.fraction)
    new_fraction = fraction * share
    if new_fraction >= 0.01:
        parts.append(f"{max(1, math.floor(new_fraction * 100))}% of the data instead of {fraction * 100:.0f}%")
    macs = summary(config.spec, num_classes=num_classes).total_mult_adds
    parts.append(f"a network of at most {format_count(int(macs * share))} multiply-adds per image "
                 f"instead of {format_count(macs)}")
    return (f"This run would take about {format_duration(seconds)}; this server allows runs of up to "
            f"{format_duration(limit)} — shrink it, e.g. {', or '.join(parts)}.")


def check_duration(manager: Any, config: TrainConfig, work: float, num_classes: int) -> None:
    """RunTooLong when the run's estimate (start-up + work ÷ the manager's rate) is over the cap."""
    caps: RunCaps = getattr(manager, "caps", None) or RunCaps.from_settings()
    seconds = _duration(manager, work)
    if caps.max_seconds is None or seconds is None or seconds <= caps.max_seconds:
        return
    raise RunTooLong(too_long_sentence(config, seconds, caps.max_seconds, num_classes),
                     seconds, caps.max_seconds)


class GuardedSink:
    """A job's sink with a watchdog: once the run has trained longer than its deadline it is
    stopped like a Stop press, and its "stopped" and "done" events say why (`reason`). Checked at
    every event (with `clock`, so a test can move time) and by a timer for a run that goes quiet
    (a long evaluation)."""

    def __init__(self, sink: Any, stop: Callable[[], None], deadline: float | None,
                 clock: Callable[[], float] = time.monotonic):
        self._sink, self._stop, self._clock = sink, stop, clock
        self.deadline = deadline
        self.started = clock()
        self.overran = False
        self._timer: threading.Timer | None = None
        if deadline is not None:
            self._timer = threading.Timer(deadline, self._expire)
            self._timer.daemon = True
            self._timer.start()

    def __getattr__(self, name: str) -> Any:   # stop_event, attach, set_worker, fail
        return getattr(self._sink, name)

    def _check(self) -> None:
        if not self.overran and self.deadline is not None and self._clock() - self.started >= self.deadline:
            self._expire()

    def _expire(self) -> None:
        if not self.overran:
            self.overran = True
            self._stop()

    def record(self, event: dict[str, Any], snapshot: Any = None) -> None:
        kind = event.get("event")
        if kind not in ("stopped", "done"):
            self._check()
        elif self.overran and (kind == "stopped" or event.get("stopped")):
            event = dict(event, reason=OVERRUN_REASON, message=OVERRUN_SENTENCE)
        self._sink.record(event, snapshot)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


def guard(sink: Any, job: Any, manager: Any) -> GuardedSink:
    """`sink` with the overrun watchdog for `job`, whose deadline comes from the manager's
    estimate when the job is dispatched."""
    caps: RunCaps = getattr(manager, "caps", None) or RunCaps.from_settings()
    return GuardedSink(sink, job.stop, caps.deadline(_duration(manager, job.work)))
