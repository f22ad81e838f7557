"""What the durable run registry (core.jobs.registry) costs, and what a restart costs.

Prints:
  - the write cost per event (one INSERT in its own transaction, WAL, synchronous=NORMAL), for a
    typical step event, median and 99th percentile;
  - the write cost per run: its record, every event of a 3-epoch MNIST run of the fast preset
    (469 steps/epoch, a step event every 20 steps: 75 events) and its state changes, plus the
    final weights + evaluation files;
  - that cost as a share of the run's training time (--train-seconds, default 30 s: 3 epochs of
    the fast preset on 2 CPU cores);
  - the epoch checkpoint's write time (weights, AdamW state, scheduler, RNG) for the fast preset;
  - the restart time with N stored finished runs (default 1,000): opening the registry and the
    manager restoring every run (weights and evaluations are read lazily, not at restart).

  - with --resume: the fast preset on MNIST (--fraction of it, 2 epochs), uninterrupted against
    cut in its second epoch and resumed from the epoch-1 checkpoint: final test accuracy of both
    (needs CNN_LAB_DATA_DIR).

Usage: .venv/bin/python bench/registry_bench.py [--runs 1000] [--train-seconds 30] [--resume]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from core.jobs import JobManager  # noqa: E402
from core.jobs.job import Job  # noqa: E402
from core.jobs.registry import RunRegistry  # noqa: E402
from core.models import build_model  # noqa: E402
from core.train import EvalResult, make_optimizer, make_scheduler  # noqa: E402
from core.train_config import config_from_preset  # noqa: E402
from core.train_state import save_epoch_state  # noqa: E402
from fakes import toy_dataset  # noqa: E402

STEP = {"event": "step", "step": 460, "epoch": 1, "epoch_progress": 0.98, "total_steps": 1407,
        "loss": 0.3141592653, "accuracy": 0.9712345, "batch_accuracy": 0.984375, "lr": 0.0123456,
        "images_per_second": 9876.54321, "train_seconds": 8.7654321, "elapsed": 9.1234}


def fake_result(n: int = 10000) -> EvalResult:
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(n, 10)).astype(np.float32)
    labels = rng.integers(0, 10, n)
    wrong = np.flatnonzero(rng.random(n) < 0.01)
    return EvalResult(0.99, 0.03, n, rng.integers(0, 1000, (10, 10)), wrong, labels[wrong],
                      rng.random(len(wrong)).astype(np.float32), rng.random(10), logits, labels)


def stored_job(registry: RunRegistry, data, config, i: int, events: int) -> Job:
    job = Job(f"run{i:06d}", f"owner{i % 300}", 1, config, data, nickname=f"N{i}")
    job.journal = registry
    registry.add(job)
    job._take()
    for k in range(events):
        job._record(dict(STEP, step=k))
    job._record({"event": "done", "test_accuracy": 0.99, "test_loss": 0.03, "stopped": False})
    return job


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--events", type=int, default=75)
    ap.add_argument("--train-seconds", type=float, default=30.0)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--fraction", type=float, default=0.25)
    args = ap.parse_args()
    if args.resume:
        resume_figure(args.fraction)
        return
    torch.set_num_threads(1)
    data = toy_dataset(n_train=64, n_test=32)
    config = config_from_preset("fast", epochs=3)
    print(f"load average: {os.getloadavg()[0]:.2f} (shared machine: timings are noisy)")
    with tempfile.TemporaryDirectory() as tmp:
        registry = RunRegistry(tmp)
        # per event
        times = []
        for k in range(2000):
            t0 = time.perf_counter()
            registry.add_event("bench", k, dict(STEP, step=k))
            times.append(time.perf_counter() - t0)
        times.sort()
        print(f"write per event: median {statistics.median(times) * 1e6:.0f} µs, "
              f"p99 {times[int(0.99 * len(times))] * 1e6:.0f} µs (2,000 step events)")
        # per run: record, events, state changes, final files
        model = build_model(config.spec)
        per_run = []
        for i in range(20):
            t0 = time.perf_counter()
            job = stored_job(registry, data, config, 10_000_000 + i, args.events)
            job.run = type("Run", (), {"model": model, "last_eval": fake_result()})()
            job.result = job.run.last_eval
            job._end()
            per_run.append(time.perf_counter() - t0)
        run_s = statistics.median(per_run)
        files_s = []
        for i in range(5):
            t0 = time.perf_counter()
            registry.save_results(job)
            files_s.append(time.perf_counter() - t0)
        print(f"write per run ({args.events} events, state changes, weights + evaluation files): "
              f"median {run_s * 1e3:.1f} ms, of which the files {statistics.median(files_s) * 1e3:.1f} ms; "
              f"{100 * run_s / args.train_seconds:.3f}% of a {args.train_seconds:.0f} s run")
        # epoch checkpoint
        opt = make_optimizer(config, model.parameters())
        sched = make_scheduler(config, opt, 469)
        model(torch.zeros(2, 1, 28, 28)).sum().backward()
        opt.step()
        ep = []
        for i in range(5):
            t0 = time.perf_counter()
            save_epoch_state(Path(tmp) / "x.epoch.pt", model=model, optimizer=opt, scheduler=sched,
                             generator=torch.Generator().manual_seed(0), epoch=1, step=469, train_seconds=9.0)
            ep.append(time.perf_counter() - t0)
        size = (Path(tmp) / "x.epoch.pt").stat().st_size
        print(f"epoch checkpoint (fast preset, AdamW): {statistics.median(ep) * 1e3:.1f} ms, "
              f"{size / 1e3:.0f} kB, once per epoch")
        registry.close()
    with tempfile.TemporaryDirectory() as tmp:
        registry = RunRegistry(tmp)
        t0 = time.perf_counter()
        for i in range(args.runs):
            job = stored_job(registry, data, config, i, args.events)
            job._end()
        fill = time.perf_counter() - t0
        registry.close()
        size = sum(p.stat().st_size for p in Path(tmp).iterdir()) / 1e6
        t0 = time.perf_counter()
        manager = JobManager(workers=1, initial_rate=1e9, registry=RunRegistry(tmp),
                             data_loader=lambda c: data, keep_total=10**6, keep_per_owner=10**6,
                             keep_seconds=7 * 86400)
        restart = time.perf_counter() - t0
        assert manager.restored == args.runs, manager.restored
        print(f"restart with {args.runs} stored runs ({args.events + 1} events each, {size:.1f} MB): "
              f"{restart:.2f} s (filling them took {fill:.1f} s)")


def resume_figure(fraction: float) -> None:
    from core.data import load_dataset
    from core.train import TrainingRun

    torch.set_num_threads(2)
    data = load_dataset("mnist", progress=False)
    config = config_from_preset("fast", epochs=2, fraction=fraction, seed=7, device="cpu")
    t0 = time.perf_counter()
    full = list(TrainingRun(config, data).events())[-1]
    with tempfile.TemporaryDirectory() as tmp:
        cut_config = config_from_preset("fast", epochs=2, fraction=fraction, seed=7, device="cpu",
                                        epoch_state=str(Path(tmp) / "run.epoch.pt"))
        events = TrainingRun(cut_config, data).events()
        for e in events:
            if e["event"] == "step" and e["epoch"] == 2:
                break
        events.close()   # the "server" dies in epoch 2
        torch.manual_seed(999)
        resumed = list(TrainingRun(cut_config, data).events())[-1]
    print(f"MNIST, fast preset, 2 epochs on {fraction:.0%} of the training set, seed 7: "
          f"uninterrupted {100 * full['test_accuracy']:.2f}%, killed in epoch 2 and resumed "
          f"{100 * resumed['test_accuracy']:.2f}% (difference "
          f"{100 * (resumed['test_accuracy'] - full['test_accuracy']):+.2f} points; test loss "
          f"{full['test_loss']:.6f} vs {resumed['test_loss']:.6f}) [{time.perf_counter() - t0:.0f} s]")


if __name__ == "__main__":
    main()
