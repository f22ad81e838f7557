"""Step-by-step playback (the Convolution page's play / pause / step controls) as plain state.

A Stepper reads and writes its state in any dict-like store under "<prefix>.<name>" keys (the
page passes st.session_state, tests a dict): "step" (0-based), "playing", "speed" (a key of
SPEEDS) and "tick" (the monotonic time of the last automatic step). Every method that changes
whether it plays returns True when the caller's timer must change (start, stop or a new speed):
the page then reruns in full, since a running fragment cannot change its own timer.
"""
from __future__ import annotations

import time
from typing import Callable, MutableMapping

SPEEDS = {"0.5": 2.0, "1": 1.0, "2": 0.5, "4": 0.25}  # steps per second → seconds per step
DEFAULT_SPEED = "1"
# A timer tick a little early still counts: fragments fire on a timer that jitters.
EARLY_TICK = 0.8


class Stepper:
    def __init__(self, state: MutableMapping, prefix: str, n_steps: int,
                 clock: Callable[[], float] = time.monotonic):
        self.state, self.prefix, self.n_steps, self.clock = state, prefix, max(1, int(n_steps)), clock

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}"

    def init(self) -> None:
        """Defaults for a first visit: step 0, paused, normal speed."""
        self.state.setdefault(self.key("step"), 0)
        self.state.setdefault(self.key("playing"), False)
        self.state.setdefault(self.key("speed"), DEFAULT_SPEED)

    def restart(self) -> None:
        """Back to the first step, paused (the input or a setting changed)."""
        self.state[self.key("step")] = 0
        self.state[self.key("playing")] = False

    @property
    def step(self) -> int:
        return int(self.state.get(self.key("step"), 0))

    @property
    def playing(self) -> bool:
        return bool(self.state.get(self.key("playing")))

    @property
    def at_end(self) -> bool:
        return self.step >= self.n_steps - 1

    def interval(self) -> float | None:
        """Seconds between automatic steps while playing; None when paused."""
        return SPEEDS[self.state.get(self.key("speed"), DEFAULT_SPEED)] if self.playing else None

    def clamp(self) -> None:
        """Keep the step inside the current number of steps; one step can't play."""
        self.state[self.key("step")] = min(max(self.step, 0), self.n_steps - 1)
        if self.n_steps <= 1:
            self.state[self.key("playing")] = False

    def go_to(self, i: int, stop: bool = True) -> bool:
        """Show step i (clamped); a manual move stops the animation. True: the timer must go."""
        self.state[self.key("step")] = int(min(max(i, 0), self.n_steps - 1))
        if stop and self.playing:
            self.state[self.key("playing")] = False
            return True
        return False

    def go_to_cell(self, row: int, col: int, width: int) -> bool:
        """The step that computes output cell (row, col) (0-based) of a grid `width` wide."""
        return self.go_to(row * width + col)

    def set_playing(self, on: bool) -> bool:
        """Play (from the start when at the end) or pause. True: the timer must change."""
        if on and not self.playing:
            self.state[self.key("tick")] = self.clock()
            if self.at_end:
                self.state[self.key("step")] = 0
        changed = on != self.playing
        self.state[self.key("playing")] = on
        return changed

    def speed_changed(self) -> bool:
        """The speed was changed: a new timer only while playing."""
        return self.playing

    def advance(self) -> None:
        """A timer tick while playing: one step on (when its interval has passed); stop at the end."""
        interval = self.interval()
        if interval is None:
            return
        now = self.clock()
        if now - self.state.get(self.key("tick"), 0.0) >= EARLY_TICK * interval:
            self.state[self.key("tick")] = now
            self.go_to(self.step + 1, stop=False)
            if self.at_end:
                self.state[self.key("playing")] = False
