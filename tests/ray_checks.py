"""Checks of the Ray backend against a local Ray cluster; prints one JSON line per check.

Run ONLY inside a private network namespace with loopback alone (Ray binds every interface):

    unshare --net sh -c 'ip link set lo up; python tests/ray_checks.py --data-dir DIR'

tests/test_ray.py does exactly that and asserts on the printed facts. Checks (names as printed):
  same_as_local  a small run (fast preset, --fraction of MNIST, 1 epoch, seed 0, 1 thread) on Ray
                 and in this process: step events streamed, losses, test accuracy, the weights
                 that came back (saved and reloaded like a local model)
  stop           Stop during a longer Ray run: the run ends, keeps its model, says "stopped"
  killed         the worker process of a running run is killed: the run fails with a sentence,
                 and the next run on the same backend still trains
  cli            `python -m core train --backend ray` prints the same final accuracy as local
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from core import jobs  # noqa: E402
from core.checkpoint import load_checkpoint, make_metadata, save_checkpoint  # noqa: E402
from core.data import load_dataset  # noqa: E402
from core.jobs.ray_backend import DIED, RayBackend  # noqa: E402
from core.train import config_from_preset, evaluate  # noqa: E402


def emit(name: str, **facts) -> None:
    print(json.dumps({"check": name, **facts}), flush=True)


def wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def steps(job) -> list[dict]:
    return [e for e in job.events() if e["event"] == "step"]


def same_as_local(manager, data, fraction: float) -> None:
    config = config_from_preset("fast", fraction=fraction, epochs=1, seed=0, log_every=5)
    local = jobs.JobManager(workers=1, backend="local", initial_rate=1e9)
    lj = local.start("local", config, data)
    lj.wait(600)
    local.shutdown()
    t0 = time.perf_counter()
    rj = manager.start("ray", config, data)
    first_step_at = None
    for e in rj.follow(timeout=600):
        if e["event"] == "step" and first_step_at is None:
            first_step_at = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        path = save_checkpoint(Path(tmp) / "ray.safetensors", rj.model, rj.checkpoint_metadata("ray"))
        reloaded = load_checkpoint(path).model
    x, y = data.normalized(data.test_images), data.test_labels
    emit("same_as_local", state=rj.state, error=rj.error, worker_pid=rj.worker.get("pid"),
         app_pid=os.getpid(), ray_steps=len(steps(rj)), local_steps=len(steps(lj)),
         first_step_seconds=first_step_at, wall_seconds=time.perf_counter() - t0,
         ray_losses=[e["loss"] for e in steps(rj)], local_losses=[e["loss"] for e in steps(lj)],
         ray_accuracy=rj.metrics().get("test_accuracy"), local_accuracy=lj.metrics()["test_accuracy"],
         ray_snapshots=[s.epoch for s in rj.snapshots()], local_snapshots=[s.epoch for s in lj.snapshots()],
         result_accuracy=None if rj.result is None else rj.result.accuracy,
         reloaded_accuracy=evaluate(reloaded, x, y).accuracy,
         kinds=[e["event"] for e in rj.events() if e["event"] != "step"])


def stop(manager, data) -> None:
    config = config_from_preset("fast", fraction=0.5, epochs=3, seed=1, log_every=2)
    job = manager.start("stopper", config, data)
    started = wait_for(lambda: len(steps(job)) >= 1, 600)
    job.stop()
    ended = job.wait(120)
    emit("stop", started=started, ended=ended, state=job.state, stopped=job.stopped,
         error=job.error, steps=job.metrics().get("steps"),
         total_steps=next((e["total_steps"] for e in job.events() if e["event"] == "start"), None),
         stop_seconds=None if job.stopped_at is None else job.stopped_at - job.stop_requested_at,
         has_model=job.model is not None, kinds=[e["event"] for e in job.events()][-2:])


def killed(manager, data) -> None:
    config = config_from_preset("fast", fraction=0.5, epochs=3, seed=2, log_every=2)
    job = manager.start("victim", config, data)
    started = wait_for(lambda: len(steps(job)) >= 1 and job.worker.get("pid"), 600)
    pid = job.worker.get("pid")
    if pid and pid != os.getpid():
        os.kill(pid, signal.SIGKILL)
    t0 = time.perf_counter()
    ended = job.wait(120)
    fail_seconds = time.perf_counter() - t0
    after = manager.start("after", config_from_preset("fast", fraction=0.02, epochs=1, seed=0), data)
    after_ok = after.wait(600)
    emit("killed", started=started, killed_pid=pid, ended=ended, state=job.state, error=job.error,
         expected_error=DIED, fail_seconds=fail_seconds, next_state=after.state,
         next_ok=after_ok and after.state == jobs.FINISHED, last_event=job.events()[-1]["event"])


def cli(data_dir: str, fraction: float) -> None:
    args = ["train", "--preset", "fast", "--epochs", "1", "--fraction", str(fraction), "--seed", "0",
            "--threads", "1", "--log-every", "5", "--data-dir", data_dir]
    out = {}
    for backend in ("local", "ray"):
        p = subprocess.run([sys.executable, "-m", "core", *args, "--backend", backend], cwd=ROOT,
                           capture_output=True, text=True, timeout=600)
        lines = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
        out[backend] = {"rc": p.returncode, "stderr": p.stderr[-500:],
                        "accuracy": lines[-1].get("test_accuracy") if lines else None,
                        "events": [e["event"] for e in lines]}
    emit("cli", **out)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--fraction", type=float, default=0.02)
    ap.add_argument("--only", nargs="*", default=["same_as_local", "stop", "killed", "cli"])
    args = ap.parse_args()
    torch.set_num_threads(1)  # same thread count as the Ray runs: same metrics
    data = load_dataset("mnist", args.data_dir)
    backend = RayBackend(threads=1, num_cpus=2, data_dir=args.data_dir)
    manager = jobs.JobManager(workers=1, backend=backend, initial_rate=1e9, per_owner=1)
    try:
        if "same_as_local" in args.only:
            same_as_local(manager, data, args.fraction)
        if "stop" in args.only:
            stop(manager, data)
        if "killed" in args.only:
            killed(manager, data)
    finally:
        manager.shutdown(timeout=60)
    if "cli" in args.only:
        cli(args.data_dir, args.fraction)
    return 0


if __name__ == "__main__":
    sys.exit(main())
