"""The process tests/test_restart.py kills: a JobManager with the durable registry in FOLDER,
driven as the server drives it. Not a test module (tests never import each other); run as
`python tests/restart_driver.py FOLDER MODE`:

  start      queue 6 runs from 6 owners (2 workers), print "READY" once at least one run has
             finished and a training run has written an epoch checkpoint, then keep training
             (the test kills the process with SIGKILL there)
  resume     open the same folder (the manager restores and resumes), wait for every run to end,
             print one JSON line per owner: {"owner", "state", "accuracy", "events", ...}
  reference  train the same 6 configs uninterrupted, one at a time, print the same JSON lines
  interrupt  like resume, with resume=False: print the states (interrupted runs), then press
             each interrupted run's restart button, wait and print them again after "AFTER"
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from fakes import toy_dataset  # noqa: E402

from core.jobs import FINISHED, JobManager  # noqa: E402
from core.jobs.registry import RunRegistry  # noqa: E402
from core.train_config import config_from_preset  # noqa: E402

torch.set_num_threads(1)
OWNERS = [f"visitor-{i}" for i in range(6)]
DATA = toy_dataset(n_train=800, n_test=300)


def config(i: int):
    return config_from_preset("fast", epochs=3, batch_size=32, seed=10 + i, calibration_holdout=100,
                              device="cpu", log_every=5)


def report(manager: JobManager) -> None:
    for owner in OWNERS:
        jobs = manager.jobs(owner)
        for job in jobs:
            m = job.metrics()
            print(json.dumps({"owner": owner, "id": job.id, "state": job.state,
                              "interrupted": job.interrupted, "accuracy": m.get("test_accuracy"), "loss": m.get("test_loss"),
                              "events": [e["event"] for e in job.events()],
                              "has_model": job.model is not None,
                              "confusion": None if job.result is None else int(job.result.confusion.sum())}),
                  flush=True)


def main(folder: str, mode: str) -> None:
    if mode == "reference":   # FOLDER: the owners to train, comma-separated
        manager = JobManager(workers=1, initial_rate=1e9, per_owner=1)
        for i, owner in enumerate(OWNERS):
            if owner in folder.split(","):
                manager.start(owner, config(i), DATA).wait(120)
        report(manager)
        return
    registry = RunRegistry(folder)
    manager = JobManager(workers=2, initial_rate=1e9, per_owner=1, registry=registry,
                         data_loader=lambda c: DATA, resume=(mode != "interrupt"))
    if mode == "start":
        jobs = [manager.start(owner, config(i), DATA, nickname=f"Nick {i}") for i, owner in enumerate(OWNERS)]
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            done = [j for j in jobs if j.state == FINISHED]
            mid = [j for j in manager.training()
                   if registry.epoch_state_path(j.id).exists()
                   and any(e["event"] == "step" and e["epoch"] == 2 for e in j.events())]
            if done and mid:
                print("READY", flush=True)
                break
            time.sleep(0.02)
        time.sleep(600)   # killed here
        return
    for job in manager.all_jobs():
        job.wait(120)
    report(manager)
    if mode == "interrupt":
        interrupted = [j for j in manager.all_jobs() if j.interrupted]
        for job in interrupted:
            assert manager.restart(job.id, job.owner)
        for job in interrupted:
            job.wait(120)
        print("AFTER", flush=True)
        report(manager)
    print("INTEGRITY", registry.integrity_ok(), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
