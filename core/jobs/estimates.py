"""Estimates from measured work, as pure functions: what a run costs, how fast this machine is
before any run was measured, and when each waiting run starts and ends.

A run costs multiply-adds per image × images (a training image counts three passes — forward and
backward —, a test image one); the manager measures the server's rate (multiply-adds per second
per run) from runs that finished, and `probe_rate` gives a first figure before any has. A waiting
run's duration is then start-up + work ÷ rate, and `schedule` places the waiting runs on the
workers first come, first served.
"""
from __future__ import annotations

import heapq
import math
import os
import threading
import time

from core.models import summary
from core.train_config import TrainConfig

TRAIN_PASSES = 3  # a training image costs a forward and a backward pass (≈ 2 forwards)


def run_work(config: TrainConfig, train_size: int, test_size: int, num_classes: int = 10) -> float:
    """The multiply-adds a run costs: per-image work × images × epochs, training images counting
    a forward and a backward pass, plus one forward of the test set per epoch-end evaluation."""
    macs = summary(config.spec, num_classes=num_classes).total_mult_adds
    images = max(1, int(round(train_size * float(config.fraction))))
    evals = int(config.epochs) if config.eval_each_epoch else 1
    return float(macs) * (TRAIN_PASSES * images * int(config.epochs) + test_size * evals)


def probe_rate(batch: int = 64, repeats: int = 3, threads: int | None = None) -> float:
    """Multiply-adds per second of the fast preset's forward+backward on this machine, measured in
    a fraction of a second: the first estimate, before any run has been measured. `threads`: the
    torch threads to measure with (a training worker's; default: this process's setting)."""
    import torch

    from core.models import PRESETS, build_model

    spec = PRESETS["fast"].spec()
    model = build_model(spec)
    x, y = torch.randn(batch, 1, 28, 28), torch.randint(0, 10, (batch,))
    macs = summary(spec).total_mult_adds * TRAIN_PASSES * batch
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        torch.nn.functional.cross_entropy(model(x), y).backward()  # warm-up: first-call allocations
        t0 = time.perf_counter()
        for _ in range(repeats):
            model.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(model(x), y).backward()
        return macs * repeats / max(time.perf_counter() - t0, 1e-6)
    finally:
        torch.set_num_threads(before)


def usable_cores() -> int:
    """The cores this process may run on (its affinity: `taskset`, a container's cpuset)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def rate_per_run(machine: float, cores: int, workers: int) -> float:
    """What one of `workers` runs training at once on `cores` cores gets of the one-thread
    `machine` rate: all of it while each has a core, a share when they outnumber the cores."""
    return machine * min(1.0, cores / max(1, workers))


_machine_rate: float | None = None
_machine_rate_lock = threading.Lock()


def machine_rate() -> float:
    """`probe_rate`, measured once per process and kept.

    The figure is only as good as the moment it is taken: on a busy server (a class's first
    minute: thirty learners opening Train and pressing Start at once) the probe shares the core
    with every page run and reads a rate several times too slow — the first learners were told
    "starts in about 7 min" for a run that started within 40 s (bench/class_load.py). So the
    server takes it once, before its first visitor (app.serve), and every manager reuses it,
    scaled by `rate_per_run` to the runs that share this machine's cores."""
    global _machine_rate
    with _machine_rate_lock:
        if _machine_rate is None:
            _machine_rate = probe_rate(threads=1)   # one torch thread: a training worker's share
        return _machine_rate


def schedule(workers: int, busy_seconds: list[float], waiting_seconds: list[float]
             ) -> list[tuple[float, float]]:
    """(start, finish) offsets in seconds from now for each waiting run, in queue order.

    `busy_seconds`: the time each training run still needs; `waiting_seconds`: each waiting run's
    expected duration. First come, first served: a waiting run starts when the earliest of the
    `workers` workers frees up.
    """
    free = sorted(list(busy_seconds)[:workers] + [0.0] * max(0, workers - len(busy_seconds)))
    heapq.heapify(free)
    out = []
    for duration in waiting_seconds:
        start = heapq.heappop(free)
        out.append((start, start + duration))
        heapq.heappush(free, start + duration)
    return out


def format_seconds(seconds: float | None) -> str:
    """"12 s", "3 min", or "a moment" when unknown: a wait in a refusal's sentence."""
    if seconds is None:
        return "a moment"
    seconds = max(1, int(math.ceil(seconds)))
    return f"{seconds} s" if seconds < 90 else f"{round(seconds / 60)} min"


# ----------------------------------------------------------------- following the runs (live branch)
def pace_rate(measured: float | None, live: float | None) -> float | None:
    """The rate (multiply-adds per second per run) to predict with now.

    The pace the training runs have *now* (from their step events) when there is one: a waiting
    run will train beside the same runs, on the same busy cores, so their pace is a better guess
    than the rate measured when the server was quieter (a lesson where every learner keeps a live
    view open is many times slower than one where nobody watches). Else the measured rate."""
    return live if live else measured


def time_left(own_left: float | None, predicted_total: float | None, elapsed: float) -> float | None:
    """Seconds a training run still needs: by its own pace once it has taken steps (`own_left`),
    else its predicted duration minus the time it has had. Never negative: a run slower than
    predicted is due "any moment now" (0), and every estimate is recomputed on each call, so a
    start time never stays in the past."""
    if own_left is not None:
        return max(0.0, own_left)
    if predicted_total is None:
        return None
    return max(0.0, predicted_total - elapsed)


def estimate_vs_actual(created: float, started: float | None, ended: float | None,
                       estimate: tuple[float | None, float | None]) -> dict:
    """What the page promised when a run was submitted against what happened, in seconds from
    the submission: {"estimated_start", "actual_start", "estimated_finish", "actual_finish",
    "finish_error"} (None where unknown; finish_error = actual − estimated, > 0: later than promised)."""
    est_start, est_finish = estimate
    actual_start = None if started is None else max(0.0, started - created)
    actual_finish = None if ended is None else max(0.0, ended - created)
    error = None if actual_finish is None or est_finish is None else actual_finish - est_finish
    return {"estimated_start": est_start, "actual_start": actual_start,
            "estimated_finish": est_finish, "actual_finish": actual_finish, "finish_error": error}
