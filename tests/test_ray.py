"""The Ray backend: without Ray it says how to install it; with Ray, tests/ray_checks.py runs a
local Ray cluster inside a private network namespace (loopback only — Ray binds every interface,
so it never starts on the machine's real network here) and this test asserts on what it printed.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core import jobs
from core.jobs import BackendError, JobManager
from tests.fakes import config, toy_dataset
from tests.helpers import can_unshare, run_in_private_network

ROOT = Path(__file__).resolve().parent.parent


def hide_ray(tmp_path: Path) -> dict:
    """An environment in which `import ray` fails, as on a machine without it."""
    shim = tmp_path / "no_ray"
    (shim / "ray").mkdir(parents=True)
    (shim / "ray" / "__init__.py").write_text("raise ImportError('No module named ray')\n")
    return {**os.environ, "PYTHONPATH": f"{shim}{os.pathsep}{ROOT}"}


def test_without_ray_the_backend_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    backend = jobs.make_backend("ray")
    with pytest.raises(BackendError, match=r"pip install -r requirements-ray.txt"):
        backend.check()
    m = JobManager(backend=backend, initial_rate=1e9, workers=1)
    with pytest.raises(BackendError, match="Ray is not installed"):
        m.start("alice", config(epochs=1), toy_dataset(n_train=64, n_test=40))
    assert not m.all_jobs(), "nothing was queued"


def test_cli_backend_ray_without_ray_is_one_line_and_exit_2(tmp_path):
    p = subprocess.run([sys.executable, "-m", "core", "train", "--backend", "ray", "--fraction", "0.01"],
                       cwd=ROOT, env=hide_ray(tmp_path), capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and p.stdout == ""
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install -r requirements-ray.txt" in lines[0], p.stderr


@pytest.fixture(scope="module")
def ray_facts(data_dir):
    pytest.importorskip("ray", reason="Ray not installed: pip install -r requirements-ray.txt")
    why = can_unshare()
    if why:
        pytest.skip(f"Ray runs only in a private network namespace: {why}")
    p, facts = run_in_private_network("tests/ray_checks.py", "--data-dir", str(data_dir))
    assert p.returncode == 0, p.stderr[-3000:]
    return facts


@pytest.mark.slow
def test_a_run_on_ray_streams_and_matches_local(ray_facts):
    f = ray_facts["same_as_local"]
    assert f["state"] == "finished" and f["error"] is None
    assert f["worker_pid"] and f["worker_pid"] != f["app_pid"], "it trained in a Ray worker process"
    assert f["ray_steps"] == f["local_steps"] >= 2, "step events streamed back"
    assert f["kinds"] == ["start", "epoch", "done"]
    assert f["ray_losses"] == f["local_losses"], "same seed, same thread count: same losses"
    assert f["ray_accuracy"] == f["local_accuracy"] > 0.5
    assert f["ray_snapshots"] == f["local_snapshots"] == [0, 1], "feature snapshots came back"
    assert f["result_accuracy"] == f["ray_accuracy"] == f["reloaded_accuracy"], \
        "the weights came back and save/reload like a local model"


@pytest.mark.slow
def test_stop_ends_a_ray_run_and_keeps_its_model(ray_facts):
    f = ray_facts["stop"]
    assert f["started"] and f["ended"], "Stop ended the run (no hang)"
    assert f["state"] == "finished" and f["stopped"] and f["error"] is None and f["has_model"]
    assert f["kinds"] == ["stopped", "done"]
    assert 1 <= f["steps"] < f["total_steps"], "it did not run to the end"


@pytest.mark.slow
def test_a_killed_ray_worker_fails_the_run_with_a_sentence(ray_facts):
    f = ray_facts["killed"]
    assert f["started"] and f["killed_pid"] and f["ended"], "the run ended instead of hanging"
    assert f["state"] == "failed" and f["error"] == f["expected_error"] and f["last_event"] == "error"
    assert f["next_ok"], "the backend still trains the next run"


@pytest.mark.slow
def test_cli_backend_ray_matches_local(ray_facts):
    f = ray_facts["cli"]
    assert f["local"]["rc"] == f["ray"]["rc"] == 0, f
    assert f["ray"]["events"] == f["local"]["events"] and f["ray"]["events"][-1] == "done"
    assert f["ray"]["accuracy"] == f["local"]["accuracy"]
