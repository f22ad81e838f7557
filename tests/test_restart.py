"""Nothing lost when the server restarts (issue 21): a process running the job manager with the
durable registry is killed with SIGKILL mid-epoch and started again on the same folder.

tests/restart_driver.py is that process (6 visitors, 6 runs, 2 workers, toy data, 3 epochs): it
prints READY once a run has finished and another is in its second epoch with an epoch checkpoint
on disk. Every wait is bounded; nothing depends on wall-clock speed.
"""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

from core.checkpoint import load_checkpoint
from core.train_state import load_epoch_state
from tests.helpers import check_facts

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
DRIVER = str(ROOT / "tests" / "restart_driver.py")
OWNERS = [f"visitor-{i}" for i in range(6)]


def _env():
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    env.pop("CNN_LAB_CHECKPOINT_DIR", None)
    return env


def _start_and_kill(folder: Path) -> None:
    """Start the driver, wait (bounded) for READY, kill -9 it."""
    proc = subprocess.Popen([sys.executable, DRIVER, str(folder), "start"], cwd=ROOT, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ready = threading.Event()
    lines: list[str] = []

    def read():
        for line in proc.stdout:
            lines.append(line)
            if line.strip() == "READY":
                ready.set()
                return

    threading.Thread(target=read, daemon=True).start()
    try:
        assert ready.wait(120), "the driver never reached its second epoch:\n" + "".join(lines[-20:])
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL


def _run(*args: str, timeout: float = 240) -> list[str]:
    out = subprocess.run([sys.executable, DRIVER, *args], cwd=ROOT, env=_env(), capture_output=True,
                         text=True, timeout=timeout)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    return out.stdout.splitlines()


def _rows(lines: list[str]) -> list[dict]:
    return [json.loads(line) for line in lines if line.startswith("{")]


def _check_files(folder: Path) -> list[str]:
    """No file is corrupt: the database passes integrity_check, every weights file loads, every
    epoch checkpoint reads. Returns the ids of runs that were training (they have a checkpoint)."""
    db = sqlite3.connect(folder / "registry.sqlite3")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        ids = [r[0] for r in db.execute("SELECT id FROM runs")]
        dup = db.execute("SELECT COUNT(*) FROM (SELECT owner FROM runs GROUP BY owner HAVING COUNT(*) > 1)")
        assert dup.fetchone()[0] == 0
    finally:
        db.close()
    assert len(ids) == 6
    for weights in folder.glob("*.safetensors"):
        load_checkpoint(weights)
    training = []
    for state in folder.glob("*.epoch.pt"):
        assert load_epoch_state(state) is not None, state.name
        training.append(state.name.removesuffix(".epoch.pt"))
    assert training, "no run was training when the server was killed"
    return training


def _owners_of(folder: Path, ids: list[str]) -> list[str]:
    db = sqlite3.connect(folder / "registry.sqlite3")
    try:
        return [db.execute("SELECT owner FROM runs WHERE id=?", (i,)).fetchone()[0] for i in ids]
    finally:
        db.close()


def _check_complete(rows: list[dict]) -> None:
    """Every visitor has exactly one run, finished, with all its results and a clean event stream."""
    assert sorted(r["owner"] for r in rows) == OWNERS
    for r in rows:
        assert r["state"] == "finished", r
        assert r["has_model"] and r["confusion"] == 300 and r["accuracy"] is not None
        ev = r["events"]
        assert ev.count("done") == 1 and ev[-1] == "done"
        assert ev.count("start") == 1 and ev[0] == "start"
        assert ev.count("epoch") == 3 and ev.count("resumed") <= 1


def test_kill_9_mid_epoch_then_restart_resumes_every_run(tmp_path):
    folder = tmp_path / "runs"
    _start_and_kill(folder)
    resumed_ids = _check_files(folder)
    owners = _owners_of(folder, resumed_ids)
    # the restarted server and an uninterrupted reference of the interrupted runs, side by side
    reference = subprocess.Popen([sys.executable, DRIVER, ",".join(owners), "reference"], cwd=ROOT,
                                 env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = _run(str(folder), "resume")
        ref_out, ref_err = reference.communicate(timeout=240)
    finally:
        reference.kill()
    assert reference.returncode == 0, ref_err[-3000:]
    assert "INTEGRITY True" in lines
    rows = _rows(lines)
    _check_complete(rows)
    by_owner = {r["owner"]: r for r in rows}
    for ref in _rows(ref_out.splitlines()):
        got = by_owner[ref["owner"]]
        assert "resumed" in got["events"]
        assert abs(got["accuracy"] - ref["accuracy"]) <= 0.001        # within 0.1 point
        assert got["loss"] == pytest.approx(ref["loss"], rel=1e-6)    # in fact the same run
    assert {r["id"] for r in rows} >= set(resumed_ids)                # same runs, not new ones
    _check_files_after(folder)


def _check_files_after(folder: Path) -> None:
    db = sqlite3.connect(folder / "registry.sqlite3")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 6
        assert db.execute("SELECT COUNT(*) FROM runs WHERE state='finished' AND has_model=1").fetchone()[0] == 6
    finally:
        db.close()
    assert not list(folder.glob("*.epoch.pt"))      # removed once each run was over
    assert not list(folder.glob(".cnn-lab-save-*"))


def test_kill_9_without_resume_shows_interrupted_runs_with_a_restart(tmp_path):
    folder = tmp_path / "runs"
    _start_and_kill(folder)
    _check_files(folder)
    lines = _run(str(folder), "interrupt")
    split = lines.index("AFTER")
    before, after = _rows(lines[:split]), _rows(lines[split + 1:])
    interrupted = [r for r in before if r["interrupted"]]
    assert interrupted and all(r["state"] == "failed" and not r["has_model"] for r in interrupted)
    assert all(r["state"] == "finished" for r in before if not r["interrupted"])
    _check_complete(after)
    assert "INTEGRITY True" in lines


def test_kill_9_of_a_worker_process_resumes_its_run_from_the_last_epoch(tmp_path):
    """The process backend (core.jobs.process_backend): the worker dies, the server does not; the
    run continues from its epoch checkpoint in a fresh worker and ends as an uninterrupted run."""
    from core.jobs import FINISHED, JobManager
    from core.jobs.process_backend import ProcessBackend
    from core.jobs.registry import RunRegistry
    from core.train import TrainingRun
    from core.train_config import config_from_preset
    from fakes import toy_dataset
    from helpers import wait_until

    data = toy_dataset(n_train=800, n_test=300)
    config = config_from_preset("fast", epochs=3, batch_size=32, seed=21, calibration_holdout=100,
                                device="cpu", log_every=5)
    backend = ProcessBackend(workers=1, nice=5, memory_bytes=1536 * 1024 * 1024, threads=1)
    registry = RunRegistry(tmp_path / "runs")
    manager = JobManager(backend=backend, workers=1, initial_rate=1e9, registry=registry,
                         data_loader=lambda c: data)
    try:
        job = manager.start("visitor", config, data)
        wait_until(lambda: registry.epoch_state_path(job.id).exists()
                   and any(e["event"] == "step" and e["epoch"] == 2 for e in job.events()),
                   300, "a step of epoch 2 after an epoch checkpoint")
        first = job.worker["pid"]
        os.kill(first, signal.SIGKILL)
        assert job.wait(300) and job.state == FINISHED, job.error
        assert job.worker["pid"] != first
    finally:
        manager.shutdown()
        backend.close()
    kinds = [e["event"] for e in job.events()]
    assert kinds.count("resumed") == 1 and kinds.count("epoch") == 3 and kinds.count("done") == 1
    threads = torch.get_num_threads()
    torch.set_num_threads(1)          # as the worker (threads=1): the same reductions, the same sums
    try:
        reference = list(TrainingRun(config, data).events())[-1]
    finally:
        torch.set_num_threads(threads)
    assert abs(job.metrics()["test_accuracy"] - reference["test_accuracy"]) <= 0.001
    assert job.metrics()["test_loss"] == pytest.approx(reference["test_loss"], rel=1e-4)
    assert registry.integrity_ok() and len(registry.load()) == 1


def test_kill_9_of_the_app_server_mid_epoch_then_every_visitor_gets_their_run_back(tmp_path, data_dir):
    """The real app server (python -m app.serve, registry on) with 6 visitors' runs, 2 training:
    SIGKILL mid-epoch, start it again; each visitor's private link brings back exactly their one
    run, which finishes; the registry is intact, one run per visitor, no event twice
    (tests/app_restart_checks.py drives it over Streamlit's websocket protocol)."""
    out = subprocess.run([sys.executable, str(ROOT / "tests" / "app_restart_checks.py"),
                          "--data-dir", str(data_dir), "--tmp", str(tmp_path)],
                         cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=1500)
    checks = check_facts(out.stdout)
    assert out.returncode == 0 and {"killed", "restarted"} <= set(checks), out.stdout[-2000:] + out.stderr[-3000:]
    killed, restarted = checks["killed"], checks["restarted"]
    assert killed["signal"] and killed["mid_epoch"] and killed["visitors"] == 6, killed
    training = [s for s in killed["before"]["states"] if s in ("starting", "running")]
    assert killed["before"]["runs"] == 6 and len(training) == 2, killed   # 2 workers; 4 wait
    for visitor in restarted["visitors"]:
        assert visitor["asked"] and visitor["finished"] and not visitor["exceptions"], visitor
        assert 0 < visitor["accuracy"] <= 100, visitor
    after = restarted["after"]
    assert after["integrity"] == "ok" and after["runs"] == after["owners"] == 6, after
    assert after["states"] == ["finished"] * 6 and after["duplicated_events"] == 0, after
    assert not restarted["log_errors"], restarted["log_errors"]
