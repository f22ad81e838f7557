"""The process backend's costs and its point: worker start-up, event relay rate, a small run in a
thread against the same run in a worker, the worker's memory, and how much CPU the web process
keeps while two runs train (with and without the workers' lower priority).

    CNN_LAB_DATA_DIR=/work/shared/data python bench/process_bench.py [--skip-nice]

Prints one figure per line (and the load average: figures on a shared machine are noisy).
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EVENTS = 5000


def _send_events(conn, n: int) -> None:
    """In a child: n step-like events, as a run sends them."""
    event = {"event": "step", "step": 0, "epoch": 1, "epoch_progress": 0.5, "total_steps": n,
             "loss": 0.3, "accuracy": 0.9, "batch_accuracy": 0.9, "lr": 1e-3,
             "images_per_second": 1000.0, "train_seconds": 1.0}
    for i in range(n):
        conn.send(("event", dict(event, step=i), None))
    conn.send(("end",))


def _status(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _busy_loop_seconds(n: int = 20_000_000) -> float:
    t0 = time.perf_counter()
    x = 0
    for i in range(n):
        x += i
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-nice", action="store_true")
    args = ap.parse_args()
    from core.data import load_dataset
    from core.jobs import FINISHED, JobManager, LocalBackend
    from core.jobs.process_backend import ProcessBackend, _Worker
    from core.train import config_from_preset

    print("load average:", os.getloadavg())
    # 1. start-up
    b = ProcessBackend(workers=2)
    t0 = time.perf_counter()
    first = _Worker(b._ctx, b.options)
    t1 = time.perf_counter()
    second = _Worker(b._ctx, b.options)
    t2 = time.perf_counter()
    print(f"worker start-up, forkserver: first {t1 - t0:.2f} s (fork server + torch import), "
          f"next {t2 - t1:.2f} s")
    first.close(), second.close()
    sb = ProcessBackend(workers=1, start_method="spawn")
    t0 = time.perf_counter()
    _Worker(sb._ctx, sb.options).close()
    print(f"worker start-up, spawn: {time.perf_counter() - t0:.2f} s")

    # 2. relay rate
    ctx = multiprocessing.get_context("forkserver")
    parent, child = ctx.Pipe()
    p = ctx.Process(target=_send_events, args=(child, EVENTS))
    p.start()
    t0 = time.perf_counter()
    n = 0
    while parent.recv()[0] != "end":
        n += 1
    print(f"event relay: {n / (time.perf_counter() - t0):,.0f} events/s over a pipe")
    p.join()

    # 3. the fast preset, 1 epoch, 10% of MNIST: thread vs a warm worker
    data = load_dataset("mnist", progress=False)
    cfg = config_from_preset("fast", epochs=1, fraction=0.1)
    b.warm(1)
    for name, backend in (("thread", LocalBackend()), ("process", b)):
        m = JobManager(backend=backend, workers=1, initial_rate=1e9)
        t0 = time.perf_counter()
        job = m.start("bench", cfg, data)
        assert job.wait(900) and job.state == FINISHED, job.error
        print(f"fast preset, 1 epoch, 10%: {name} {time.perf_counter() - t0:.2f} s "
              f"(accuracy {job.metrics()['test_accuracy']:.4f})")
        if name == "process":
            pid = job.worker["pid"]
            print(f"worker memory after the run: peak RSS {_status(pid, 'VmHWM'):.0f} MB, "
                  f"data {_status(pid, 'VmData'):.0f} MB")
    full = config_from_preset("fast", epochs=1, fraction=1.0)
    m = JobManager(backend=b, workers=1, initial_rate=1e9)
    job = m.start("bench", full, data)
    assert job.wait(1800) and job.state == FINISHED, job.error
    pid = job.worker["pid"]
    print(f"worker memory after a full-MNIST epoch: peak RSS {_status(pid, 'VmHWM'):.0f} MB, "
          f"data {_status(pid, 'VmData'):.0f} MB")
    b.close()

    # 4. the web process's CPU while two runs train
    if not args.skip_nice:
        print(f"busy loop alone: {_busy_loop_seconds():.2f} s")
        for nice in (10, 0):
            pb = ProcessBackend(workers=2, nice=nice, threads=1)
            pb.warm(2)
            m = JobManager(backend=pb, workers=2, initial_rate=1e9)
            long = config_from_preset("fast", epochs=2, fraction=0.3)
            jobs = [m.start(f"o{i}", long, data) for i in range(2)]
            while not all(j.events() and j.progress().step > 0 for j in jobs):
                time.sleep(0.2)
            loop = _busy_loop_seconds()
            for j in jobs:
                j.stop()
                j.wait(600)
            pb.close()
            print(f"busy loop while 2 runs train, workers at nice {nice}: {loop:.2f} s")
    print("load average:", os.getloadavg())


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    main()
