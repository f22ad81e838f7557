"""Small helpers over training events: smoothing, curves, time left, CSV export, compact history.

Events are the dicts `core.train.TrainingRun.events()` yields ("start", "step", "epoch",
"stopped", "done"); the job manager adds "elapsed" (wall seconds since the job started) to each.
Everything here is pure Python/NumPy so the page, the bench and the tests share it.
"""
from __future__ import annotations

import csv
import io
import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

Event = dict[str, Any]

CSV_COLUMNS = ("event", "epoch", "step", "epoch_progress", "elapsed", "loss", "accuracy", "lr",
               "images_per_second", "train_loss", "train_accuracy", "test_loss", "test_accuracy")


def ema(values: Sequence[float], weight: float = 0.9) -> list[float]:
    """Exponential moving average with TensorBoard's start-up correction.

    Debiasing divides by (1 - weight^t), so the first points are not dragged towards zero;
    weight 0 returns the values unchanged. Non-finite values are carried over, not averaged in.
    """
    if not 0 <= weight < 1:
        raise ValueError(f"smoothing weight must be in [0, 1), not {weight}")
    out, avg, n = [], 0.0, 0
    for v in values:
        if v is None or not math.isfinite(v):
            out.append(v)
            continue
        n += 1
        avg = weight * avg + (1 - weight) * v
        out.append(avg / (1 - weight ** n))
    return out


def epoch_position(event: Event) -> float:
    """Where a step event sits on an epoch axis: 1.5 = halfway through epoch 2.

    Comparable between runs with different batch sizes or data fractions, which steps are not.
    """
    if event.get("event") == "epoch":
        return float(event["epoch"])
    return float(event.get("epoch", 1)) - 1 + float(event.get("epoch_progress", 1.0))


class Throughput:
    """Images per second over the last `window` seconds of training, for the live readout.

    One batch's rate swings widely on a shared CPU (another process takes the core for 0.2 s,
    the allocator warms up, a short last batch): a per-batch or per-event figure jumped between
    ~400 and ~11,000 images/s in one run. Summing the images and the training seconds of the
    batches that fill the last `window` seconds averages those hiccups out but still follows a
    real change of pace within seconds. The first `warmup` batches (lazy set-up in PyTorch, cold
    caches) are left out, and so is everything that is not a training step: the timings fed in
    are the steps' own, so test evaluations and the pauses while a consumer handles an event
    never count. Until `settle_batches` batches or `settle_seconds` of them are in, there is no
    figure: one or two batches say as little as the per-batch figure did.
    """

    def __init__(self, window: float = 10.0, warmup: int = 3, settle_batches: int = 5,
                 settle_seconds: float = 2.0):
        self.window, self.warmup = float(window), int(warmup)
        self.settle_batches, self.settle_seconds = int(settle_batches), float(settle_seconds)
        self._batches: deque[tuple[int, float]] = deque()
        self._images = self._seconds = 0.0
        self._seen = 0

    def add(self, images: int, seconds: float) -> None:
        """One training step: how many images it trained on and how long it took."""
        self._seen += 1
        if self._seen <= self.warmup:
            return
        seconds = max(float(seconds), 0.0)
        self._batches.append((int(images), seconds))
        self._images += images
        self._seconds += seconds
        # Keep the newest batches that fill the window (always at least one).
        while len(self._batches) > 1 and self._seconds - self._batches[0][1] >= self.window:
            old_images, old_seconds = self._batches.popleft()
            self._images -= old_images
            self._seconds -= old_seconds

    def rate(self) -> float | None:
        """Images per second, or None until enough batches after the warm-up are in."""
        if not self._batches or (len(self._batches) < self.settle_batches
                                 and self._seconds < self.settle_seconds):
            return None
        return self._images / max(self._seconds, 1e-9)


@dataclass
class Curves:
    """Training curves split out of an event list, ready for plotting."""
    step: list[int] = field(default_factory=list)
    step_epoch: list[float] = field(default_factory=list)   # epoch_position of each step event
    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)     # running accuracy in the epoch
    lr: list[float] = field(default_factory=list)
    images_per_second: list[float] = field(default_factory=list)
    epoch: list[int] = field(default_factory=list)
    epoch_step: list[int] = field(default_factory=list)     # the step at which the epoch ended
    test_loss: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)

    def smoothed_loss(self, weight: float = 0.9) -> list[float]:
        return ema(self.loss, weight)


def curves(events: Iterable[Event]) -> Curves:
    c = Curves()
    for e in events:
        kind = e.get("event")
        if kind == "step":
            c.step.append(int(e["step"]))
            c.step_epoch.append(epoch_position(e))
            c.loss.append(float(e["loss"]))
            c.accuracy.append(float(e["accuracy"]))
            c.lr.append(float(e.get("lr", math.nan)))
            ips = e.get("images_per_second")  # None during the first (warm-up) steps
            c.images_per_second.append(math.nan if ips is None else float(ips))
        elif kind == "epoch":
            c.epoch.append(int(e["epoch"]))
            c.epoch_step.append(int(e.get("step", 0)))
            c.test_loss.append(float(e["test_loss"]))
            c.test_accuracy.append(float(e["test_accuracy"]))
            c.train_loss.append(float(e.get("train_loss", math.nan)))
            c.train_accuracy.append(float(e.get("train_accuracy", math.nan)))
    return c


@dataclass
class Progress:
    """Where a run stands, for a progress bar and its caption."""
    fraction: float            # 0..1 of all training steps
    epoch: int
    epochs: int
    step: int
    total_steps: int
    images_per_second: float | None
    seconds_left: float | None

    @property
    def steps_done(self) -> bool:
        """Every training step is taken: what is left is testing (and calibrating) the model."""
        return bool(self.total_steps) and self.step >= self.total_steps


def progress(events: Sequence[Event], elapsed: float | None = None) -> Progress:
    """Progress of a run from its events; `elapsed` is the wall time now (for time left).

    The images/s readout is the step events' own (already averaged over seconds by Throughput);
    time left comes from `seconds_left`.
    """
    start = next((e for e in events if e.get("event") == "start"), None)
    last_step = next((e for e in reversed(events) if e.get("event") == "step"), None)
    total = int(start["total_steps"]) if start else 0
    epochs = int(start["epochs"]) if start else 0
    step = int(last_step["step"]) if last_step else 0
    epoch = int(last_step["epoch"]) if last_step else (1 if start else 0)
    ips = last_step.get("images_per_second") if last_step else None
    ips = float(ips) if ips is not None else None
    if events and events[-1].get("event") == "done":
        return Progress(1.0 if not events[-1].get("stopped") else (step / total if total else 1.0),
                        epoch, epochs, step, total, ips, 0.0)
    left = seconds_left(events, elapsed) if start is not None and total else None
    return Progress(min(1.0, step / total) if total else 0.0, epoch, epochs, step, total, ips, left)


WARMUP_STEPS = 3  # steps whose pace says little about the rest (PyTorch's lazy set-up, cold caches)


def seconds_left(events: Sequence[Event], elapsed: float | None = None) -> float | None:
    """Wall seconds until the last training step, from the events' "elapsed" (None before the
    first step event).

    The pace is the wall time per step from the first step event after warm-up to the newest
    one: a long average, so one slow step or a busy second moves it little, and it includes the
    test evaluations done so far (the rest of the run has its own). Between two step events the
    estimate counts down with the clock, by at most the time those steps should take, so it
    neither jumps up and down at each event nor reaches zero during an evaluation.
    """
    start = next((e for e in events if e.get("event") == "start"), None)
    steps = [e for e in events if e.get("event") == "step"]
    if start is None or not steps or not int(steps[-1]["step"]):
        return None
    total, last = int(start["total_steps"]), steps[-1]
    t_last = float(last.get("elapsed", start.get("elapsed", 0.0)))
    base = next((e for e in steps[:-1] if int(e["step"]) >= WARMUP_STEPS), None)
    if base is None:  # nothing after the warm-up yet: the pace since the start
        base_step, t_base = 0, float(start.get("elapsed", 0.0))
    else:
        base_step, t_base = int(base["step"]), float(base.get("elapsed", t_last))
    per_step = max(t_last - t_base, 0.0) / max(int(last["step"]) - base_step, 1)
    previous = int(steps[-2]["step"]) if len(steps) > 1 else 0
    now = float(elapsed) if elapsed is not None else t_last
    counted = min(max(now - t_last, 0.0), per_step * (int(last["step"]) - previous))
    return max(0.0, per_step * (total - int(last["step"])) - counted)


def suggest_log_every(total_steps: int, points: int = 300) -> int:
    """Steps between step events so a run draws about `points` points (at least one per step)."""
    return max(1, math.ceil(max(total_steps, 1) / points))


def history_csv(events: Iterable[Event]) -> str:
    """The run's step and epoch events as CSV (one row per event, empty cells where n/a)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for e in events:
        if e.get("event") in ("step", "epoch"):
            writer.writerow({k: _csv_value(e.get(k)) for k in CSV_COLUMNS})
    return buf.getvalue()


def _csv_value(v):
    if isinstance(v, float):
        return f"{v:.6g}"
    return "" if v is None else v


def compact_history(events: Iterable[Event], max_steps: int = 400) -> list[Event]:
    """Step and epoch events for a checkpoint's metadata: at most `max_steps` step events
    (evenly thinned, the last kept), floats rounded to 5 significant digits."""
    events = [e for e in events if e.get("event") in ("step", "epoch")]
    steps = [i for i, e in enumerate(events) if e["event"] == "step"]
    keep = set(range(len(events)))
    if len(steps) > max_steps:
        stride = len(steps) / max_steps
        chosen = {steps[min(len(steps) - 1, int(k * stride))] for k in range(max_steps)}
        chosen.add(steps[-1])
        keep -= set(steps) - chosen
    return [{k: (float(f"{v:.5g}") if isinstance(v, float) and math.isfinite(v) else v)
             for k, v in events[i].items()} for i in sorted(keep)]
