"""Step-by-step playback (the Convolution page's play / pause / step controls) as plain state.

A Stepper reads and writes its state in any dict-like store under "<prefix>.<name>" keys (the
page passes st.session_state, tests a dict): "step" (0-based), "playing", "speed" (a key of
SPEEDS), "start" (the monotonic time, and the step, that playing at this speed started from) and
"cell" (the output cell the page last put in its Row/Column boxes). Every method that changes
whether it plays returns True when the caller's timer must change (start, stop or a new speed):
the page then reruns in full, since a running fragment cannot change its own timer.

Playing keeps the chosen pace by the clock, not by counting timer ticks: each tick moves to the
step that the time since "start" calls for. When redrawing the page takes longer than the chosen
interval (a busy server or browser), a step is skipped now and then instead of the whole
animation slowing down (4 steps/s used to play at 2 to 3 steps/s).
"""
from __future__ import annotations

import time
from typing import Callable, MutableMapping

SPEEDS = {"0.5": 2.0, "1": 1.0, "2": 0.5, "4": 0.25, "8": 0.125}  # steps per second → seconds per step
DEFAULT_SPEED = "1"
# A timer tick up to this fraction of an interval early still counts: fragments fire on a timer
# that jitters, and a tick just before a step is due must not wait a whole interval more.
EARLY_TICK = 0.2


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
            if self.at_end:
                self.state[self.key("step")] = 0
            self.state.pop(self.key("start"), None)
        changed = on != self.playing
        self.state[self.key("playing")] = on
        return changed

    def speed_changed(self) -> bool:
        """The speed was changed: count the new pace from the next tick; a new timer only while
        playing."""
        self.state.pop(self.key("start"), None)
        return self.playing

    def due_step(self) -> int:
        """The step the clock calls for: one more per interval since "start" (the current step
        when paused or not started yet)."""
        interval, start = self.interval(), self.state.get(self.key("start"))
        if interval is None or start is None:
            return self.step
        t0, step0 = start
        return step0 + int((self.clock() - t0) / interval + EARLY_TICK)

    def advance(self) -> None:
        """A timer tick while playing: on to the step that is due (none, one, or more when the
        ticks came late); stop at the end.

        The first tick after Play (or a new speed) moves one step and starts the clock there, so
        the full page rerun that starts the timer does not count as time to catch up."""
        interval = self.interval()
        if interval is None:
            return
        if self.state.get(self.key("start")) is None:
            self.state[self.key("start")] = (self.clock() - interval, self.step)
        due = self.due_step()
        if due > self.step:
            self.go_to(due, stop=False)
            if self.at_end:
                self.state[self.key("playing")] = False

    def cell_moved(self, shape: tuple[int, int]) -> tuple[int, int] | None:
        """(row, column), 1-based, of the current step's output cell in a grid of `shape`, when the
        step (or the grid) changed since this was last asked; None otherwise.

        The page's Row/Column boxes follow the animation with it, but only when it moved: a row
        the user has just picked, before pressing Go, is left alone."""
        rows, cols = shape
        now = (self.step, rows, cols)
        if self.state.get(self.key("cell")) == now:
            return None
        self.state[self.key("cell")] = now
        self.state[self.key("cell_gen")] = self.cell_generation + 1
        return self.step // cols + 1, self.step % cols + 1

    @property
    def cell_generation(self) -> int:
        """How many times the cell has moved: the page names the Row/Column boxes after it, so
        a box shown for an older cell is a different widget. A value the browser sends back
        for a frame it drew before the last move (the animation outruns the browser) then
        belongs to a box that is gone and cannot overwrite the current one."""
        return int(self.state.get(self.key("cell_gen"), 0))
