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


def probe_rate(batch: int = 64, repeats: int = 3) -> float:
    """Multiply-adds per second of the fast preset's forward+backward on this machine, measured in
    a fraction of a second: the first estimate, before any run has been measured."""
    import torch

    from core.models import PRESETS, build_model

    spec = PRESETS["fast"].spec()
    model = build_model(spec)
    x, y = torch.randn(batch, 1, 28, 28), torch.randint(0, 10, (batch,))
    macs = summary(spec).total_mult_adds * TRAIN_PASSES * batch
    torch.nn.functional.cross_entropy(model(x), y).backward()  # warm-up: first-call allocations
    t0 = time.perf_counter()
    for _ in range(repeats):
        model.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
    return macs * repeats / max(time.perf_counter() - t0, 1e-6)


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
