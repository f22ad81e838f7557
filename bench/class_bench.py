"""A class of learners pressing Start at once: the job layer's queue, locally and on Ray.

L simulated learners (default 30), each a separate owner, submit one small run at the same
instant (threads behind a barrier) through core.jobs.JobManager — the fast preset on a fraction
of MNIST (default 10%, 1 epoch, log every 5 steps). Modes:

  local1  the local backend, 1 worker (torch's default threads: both cores for the one run)
  local2  the local backend, 2 workers (two runs share the process's intra-op thread pool)
  ray2    the Ray backend on a local 2-CPU Ray cluster, 2 workers, 1 torch thread per run.
          Ray binds every network interface, so this mode re-runs this script inside a private
          network namespace (`unshare --net`, loopback only) and reads its figures back.

Per mode: makespan (first submit to last "done"), median and p95 wait (submit to dispatch), the
mean run time on a worker, the ideal makespan (sum of run times ÷ workers) and their ratio, how
far the queue's estimated finish time (taken right after all submits) was off, and Stop's latency
(Stop pressed to "stopped" seen by the app). Each mode first warms up (one run per worker, and
for Ray the cluster start) outside the measured figures; the cold start is reported separately.

Then a projection on paper for 1, 4 and 16 machines like this one running Ray workers: waves of
runs × (per-run time + Ray's measured per-run overhead), and what could make it wrong.

    python bench/class_bench.py                  # 30 learners, 10% of MNIST, all three modes
    python bench/class_bench.py --quick          # 8 learners, 2% of MNIST
    python bench/class_bench.py --modes local1 local2 --learners 10
Writes bench/results/class_bench-<date>.json (or --json PATH).
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from core import jobs  # noqa: E402
from core.data import load_dataset, resolve_data_dir  # noqa: E402
from core.train import config_from_preset  # noqa: E402

MODES = ("local1", "local2", "ray2")
PROJECT_MACHINES = (1, 4, 16)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) — no interpolation on 30 samples."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def make_manager(mode: str, data_dir: str | None) -> jobs.JobManager:
    if mode == "local1":
        return jobs.JobManager(workers=1, backend="local", per_owner=1, max_waiting=1000)
    if mode == "local2":
        return jobs.JobManager(workers=2, backend="local", per_owner=1, max_waiting=1000)
    from core.jobs.ray_backend import RayBackend

    backend = RayBackend(threads=1, num_cpus=2, data_dir=data_dir)
    return jobs.JobManager(workers=2, backend=backend, per_owner=1, max_waiting=1000)


def stop_latency(manager: jobs.JobManager, data, args) -> float | None:
    """Seconds from Stop to the app seeing "stopped", on a run stopped after its first step."""
    config = config_from_preset("fast", fraction=min(1.0, args.fraction * 5), epochs=2, seed=99,
                                log_every=1)
    job = manager.start("stopper", config, data)
    deadline = time.monotonic() + 300
    while not any(e["event"] == "step" for e in job.events()) and time.monotonic() < deadline:
        time.sleep(0.01)
    job.stop()
    job.wait(120)
    return None if job.stopped_at is None else job.stopped_at - job.stop_requested_at


def run_mode(mode: str, data, args) -> dict:
    if mode == "local1":
        torch.set_num_threads(args.threads or 2)
    config = config_from_preset("fast", fraction=args.fraction, epochs=1, seed=0, log_every=5)
    t_cold = time.perf_counter()
    manager = make_manager(mode, args.data_dir)
    # Warm-up (not measured): one run per worker; for Ray this starts the cluster and its workers.
    warm = [manager.start(f"warm{i}", config, data) for i in range(manager.workers)]
    for j in warm:
        j.wait(900)
    cold_seconds = time.perf_counter() - t_cold
    warm_failed = [j.error for j in warm if j.state != jobs.FINISHED]
    barrier = threading.Barrier(args.learners)
    submitted: dict[int, jobs.Job] = {}

    def learner(i: int) -> None:
        barrier.wait(60)
        submitted[i] = manager.start(f"learner{i}", config, data, nickname=f"learner {i}")

    threads = [threading.Thread(target=learner, args=(i,)) for i in range(args.learners)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    estimates = {i: manager.status(j) for i, j in submitted.items()}
    for j in submitted.values():
        j.wait(3600)
    runs = list(submitted.values())
    failed = [j.error for j in runs if j.state != jobs.FINISHED]
    first_submit = min(j.created for j in runs)
    makespan = max(j.ended for j in runs) - first_submit
    waits = [j.started - j.created for j in runs]
    run_seconds = [j.ended - j.started for j in runs]
    to_start_event = [next(e["elapsed"] for e in j.events() if e["event"] == "start") for j in runs]
    ideal = sum(run_seconds) / manager.workers
    est_errors = [j.ended - estimates[i].finish_at for i, j in submitted.items()
                  if estimates[i].finish_at is not None]
    last_estimate = max((s.finish_at for s in estimates.values() if s.finish_at), default=None)
    stop_s = stop_latency(manager, data, args)
    accuracy = statistics.mean(j.metrics().get("test_accuracy", 0) for j in runs)
    manager.shutdown(60)
    return {
        "mode": mode, "workers": manager.workers, "learners": len(runs), "failed": failed + warm_failed,
        "torch_threads_per_run": 1 if mode == "ray2" else torch.get_num_threads(),
        "cold_start_seconds": cold_seconds, "makespan_seconds": makespan,
        "wait_median_seconds": statistics.median(waits), "wait_p95_seconds": percentile(waits, 95),
        "run_mean_seconds": statistics.mean(run_seconds), "run_median_seconds": statistics.median(run_seconds),
        "dispatch_to_start_event_mean_seconds": statistics.mean(to_start_event),
        "ideal_makespan_seconds": ideal, "ratio_to_ideal": makespan / ideal,
        "estimate_error_median_seconds": statistics.median(est_errors) if est_errors else None,
        "estimated_makespan_seconds": None if last_estimate is None else last_estimate - first_submit,
        "rate_source": manager.rate_source, "rate_macs_per_second": manager.rate,
        "stop_latency_seconds": stop_s, "mean_test_accuracy": accuracy,
    }


def run_ray_in_namespace(args) -> dict:
    """This script's ray2 mode inside `unshare --net` with only loopback up; its JSON comes back."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--inner-ray", "--learners", str(args.learners),
           "--fraction", str(args.fraction)]
    if args.data_dir:
        cmd += ["--data-dir", args.data_dir]
    script = "ip link set lo up; exec " + " ".join(f"'{c}'" for c in cmd)
    p = subprocess.run(["unshare", "--net", "sh", "-c", script], cwd=ROOT, capture_output=True,
                       text=True, timeout=3600)
    lines = [line for line in p.stdout.splitlines() if line.startswith("{")]
    if p.returncode != 0 or not lines:
        return {"mode": "ray2", "error": (p.stderr.strip().splitlines() or ["no output"])[-1][:300]}
    return json.loads(lines[-1])


def project(results: dict, learners: int) -> dict:
    """Makespan on N machines like this one, each running 2 one-thread Ray workers."""
    ray, local = results.get("ray2"), results.get("local2")
    if not ray or "error" in ray or not local or "error" in local:
        return {}
    per_run = local["run_mean_seconds"]                      # a run on one of 2 busy cores, no Ray
    # What Ray adds to each run: its mean run time against local2's (both: two runs on two cores).
    # It can come out negative (one torch thread per run in its own process can beat two runs
    # sharing one intra-op pool); the projection then uses 0.
    measured = ray["run_mean_seconds"] - per_run
    overhead = max(0.0, measured)
    slots_per_machine = ray["workers"]
    out = {"per_run_seconds": per_run, "ray_overhead_per_run_seconds": overhead,
           "ray_overhead_measured_seconds": measured, "ray_cold_start_seconds": ray["cold_start_seconds"],
           "slots_per_machine": slots_per_machine, "machines": {}}
    for n in PROJECT_MACHINES:
        waves = math.ceil(learners / (n * slots_per_machine))
        warm = waves * (per_run + overhead)
        out["machines"][str(n)] = {"waves": waves, "makespan_seconds": warm,
                                   "with_cold_start_seconds": warm + ray["cold_start_seconds"]}
    return out


CAVEATS = [
    "per-run time is measured with both cores of one machine busy; on a bigger node the runs may "
    "share memory bandwidth differently",
    "one ProgressHub actor and one app-side pump carry every run's events and feature maps: at "
    "hundreds of runs or many snapshots the hub could become the bottleneck",
    "each new Ray worker process pays a cold start (import torch, load MNIST from its data folder "
    "or download) once; the projection assumes warm workers, as in the measured runs",
    "the app server still evaluates nothing but rebuilds every returned model and keeps it in "
    "memory; with 16 machines the app's own CPU and RAM become the limit",
    "waves assume equal runs; learners choosing larger models or more epochs make the FIFO queue "
    "uneven, and the last wave decides the makespan",
    "figures were taken on a 2-core machine shared with other work, so they are noisy",
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--learners", type=int, default=30)
    ap.add_argument("--fraction", type=float, default=0.1, help="share of MNIST each run trains on")
    ap.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    ap.add_argument("--quick", action="store_true", help="8 learners on 2%% of MNIST")
    ap.add_argument("--threads", type=int, help="torch threads for local1 (default 2)")
    ap.add_argument("--data-dir", default=str(resolve_data_dir() or ""), help="MNIST folder (else $CNN_LAB_DATA_DIR)")
    ap.add_argument("--json", type=Path, help="where to write the results")
    ap.add_argument("--inner-ray", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.quick:
        args.learners, args.fraction = 8, 0.02
    args.data_dir = args.data_dir or None
    data = load_dataset("mnist", args.data_dir)
    if args.inner_ray:
        print(json.dumps(run_mode("ray2", data, args)), flush=True)
        return 0
    print(f"{args.learners} learners, fast preset on {args.fraction:.0%} of MNIST, 1 epoch, "
          f"submitted at once; {os.cpu_count()} CPUs (shared with other work: figures are noisy)")
    results = {}
    for mode in args.modes:
        r = run_ray_in_namespace(args) if mode == "ray2" else run_mode(mode, data, args)
        results[mode] = r
        if "error" in r:
            print(f"{mode:7s} failed: {r['error']}")
            continue
        print(f"{mode:7s} workers {r['workers']}  makespan {r['makespan_seconds']:6.1f} s  "
              f"wait median {r['wait_median_seconds']:6.1f} s  p95 {r['wait_p95_seconds']:6.1f} s  "
              f"run {r['run_mean_seconds']:5.2f} s  ideal {r['ideal_makespan_seconds']:6.1f} s  "
              f"ratio {r['ratio_to_ideal']:.2f}  estimate off by {r['estimate_error_median_seconds'] or 0:+.1f} s  "
              f"start-up {r['dispatch_to_start_event_mean_seconds']:.2f} s  "
              f"stop {r['stop_latency_seconds'] or float('nan'):.2f} s  cold start {r['cold_start_seconds']:.1f} s"
              + (f"  FAILED {len(r['failed'])}" if r["failed"] else ""))
    projection = project(results, args.learners)
    if projection:
        print(f"projection (Ray, {projection['slots_per_machine']} one-thread workers per 2-core machine; "
              f"run {projection['per_run_seconds']:.2f} s + Ray overhead "
              f"{projection['ray_overhead_per_run_seconds']:.2f} s per run (measured "
              f"{projection['ray_overhead_measured_seconds']:+.2f} s)):")
        for n, p in projection["machines"].items():
            print(f"  {n:>2} machine(s): {p['waves']} wave(s) → makespan ≈ {p['makespan_seconds']:.1f} s warm, "
                  f"{p['with_cold_start_seconds']:.1f} s with a cold cluster")
        print("where it could be wrong:\n  - " + "\n  - ".join(CAVEATS))
    out = args.json or ROOT / "bench" / "results" / f"class_bench-{datetime.date.today()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "results": results,
                               "projection": projection, "caveats": CAVEATS}, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
