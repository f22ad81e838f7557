"""Small helpers over training events: smoothing, curves, time left, CSV export, compact history.

Events are the dicts `core.train.TrainingRun.events()` yields ("start", "step", "epoch",
"stopped", "done"); the job manager adds "elapsed" (wall seconds since the job started) to each.
Everything here is pure Python/NumPy so the page, the bench and the tests share it.
"""
from __future__ import annotations

import csv
import io
import math
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
            c.images_per_second.append(float(e.get("images_per_second", math.nan)))
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


def progress(events: Sequence[Event], elapsed: float | None = None) -> Progress:
    """Progress of a run from its events; `elapsed` is the wall time now (for time left).

    Time left extrapolates the average wall time per step since the "start" event, which
    already includes the per-epoch test evaluations done so far.
    """
    start = next((e for e in events if e.get("event") == "start"), None)
    last_step = next((e for e in reversed(events) if e.get("event") == "step"), None)
    total = int(start["total_steps"]) if start else 0
    epochs = int(start["epochs"]) if start else 0
    step = int(last_step["step"]) if last_step else 0
    epoch = int(last_step["epoch"]) if last_step else (1 if start else 0)
    ips = float(last_step["images_per_second"]) if last_step else None
    if events and events[-1].get("event") == "done":
        return Progress(1.0 if not events[-1].get("stopped") else (step / total if total else 1.0),
                        epoch, epochs, step, total, ips, 0.0)
    left = None
    if start is not None and last_step is not None and total and step:
        t0 = float(start.get("elapsed", 0.0))
        now = float(elapsed if elapsed is not None else last_step.get("elapsed", t0))
        per_step = max(now - t0, 0.0) / step
        left = max(0.0, per_step * (total - step))
    return Progress(min(1.0, step / total) if total else 0.0, epoch, epochs, step, total, ips, left)


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
