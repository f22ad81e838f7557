"""The process backend (core.jobs.process_backend): real small runs in worker processes, with the
same events, Stop and results as in the web server's threads; a run that needs more memory than
its worker may have, or whose worker is killed, fails with one sentence while this process (the
web server) keeps going, and the slot's next run trains in a fresh worker."""
from __future__ import annotations

import os
import signal

import pytest

from core.jobs import FAILED, FINISHED, JobManager, LocalBackend
from core.jobs.process_backend import DIED_SENTENCE, MEMORY_SENTENCE, ProcessBackend, fingerprint
from core.models import FLATTEN, conv, linear, pool
from core.train import TrainConfig, evaluate
from fakes import SPEC, toy_dataset
from helpers import wait_until

WAIT = 300  # generous: two shared cores, a worker forks and imports torch


@pytest.fixture(scope="module")
def backend():
    b = ProcessBackend(workers=1, nice=5, memory_bytes=1536 * 1024 * 1024, threads=1)
    yield b
    b.close()


@pytest.fixture
def manager(backend):
    m = JobManager(backend=backend, workers=1, initial_rate=1e9)
    yield m
    for job in m.all_jobs():
        job.stop()
        job.wait(WAIT)


def _config(**kw) -> TrainConfig:
    return TrainConfig(spec=[dict(layer) for layer in SPEC], **{"epochs": 2, "batch_size": 32, **kw})


def _kinds(job) -> list[str]:
    return [e["event"] for e in job.events()]


def test_a_run_in_a_worker_has_the_same_events_results_and_model_as_in_a_thread(manager):
    data = toy_dataset()
    job = manager.start("a", _config(), data)
    assert job.wait(WAIT) and job.state == FINISHED, job.error
    local = JobManager(backend=LocalBackend(), workers=1, initial_rate=1e9)
    twin = local.start("a", _config(), data)
    assert twin.wait(WAIT) and twin.state == FINISHED
    local.shutdown()
    assert _kinds(job) == _kinds(twin)
    assert [e.get("step") for e in job.events()] == [e.get("step") for e in twin.events()]
    assert len(job.snapshots()) == len(twin.snapshots()) == 3   # before training, after each epoch
    assert job.worker["pid"] != os.getpid() and job.worker["nice"] >= 5
    # The weights came back: evaluated here, the model scores what the worker reported.
    assert job.result is not None and job.result.n == len(data.test_labels)
    here = evaluate(job.model, data.normalized(data.test_images), data.test_labels)
    assert here.accuracy == pytest.approx(job.metrics()["test_accuracy"])
    assert here.accuracy > 0.5          # it learned (the toy set is easy), not an untrained copy
    ckpt = job.checkpoint_metadata("from a worker")
    assert ckpt["metrics"]["per_class_accuracy"]


def test_stop_ends_a_run_in_its_worker_and_keeps_the_model(manager):
    job = manager.start("a", _config(epochs=20, batch_size=4), toy_dataset())
    wait_until(lambda: "step" in _kinds(job), WAIT, "the first step")
    job.stop()
    assert job.wait(WAIT) and job.state == FINISHED and job.stopped
    kinds = _kinds(job)
    assert kinds[-2:] == ["stopped", "done"] and job.metrics()["stopped"] is True
    assert job.metrics()["epochs_completed"] < 20
    assert job.model is not None and job.result is not None


def test_a_run_over_the_workers_memory_fails_with_a_sentence_and_the_next_run_trains(tmp_path):
    # 1,300 channels at 28×28: ≈ 8 MB of activations per image, 64 images ≈ 0.5 GB — within the
    # activation limit, far beyond a worker allowed 450 MB in all.
    big = [conv(1300, 1, 1, 0), pool(28), FLATTEN, linear(10)]
    b = ProcessBackend(workers=1, nice=5, memory_bytes=450 * 1024 * 1024, threads=1)
    m = JobManager(backend=b, workers=1, initial_rate=1e9)
    try:
        job = m.start("a", TrainConfig(spec=big, epochs=1, batch_size=64), toy_dataset())
        assert job.wait(WAIT) and job.state == FAILED
        assert job.error == MEMORY_SENTENCE
        assert "Traceback" not in job.error and "alloc" not in job.error
        first = b.started
        ok = m.start("a", _config(epochs=1), toy_dataset())
        assert ok.wait(WAIT) and ok.state == FINISHED, ok.error
        assert b.started == first + 1      # a fresh worker for the slot
    finally:
        m.shutdown()
        b.close()


def test_a_killed_worker_fails_its_run_with_a_sentence_and_the_server_goes_on(manager, backend):
    job = manager.start("a", _config(epochs=20, batch_size=4), toy_dataset())
    wait_until(lambda: "step" in _kinds(job), WAIT, "the first step")
    os.kill(job.worker["pid"], signal.SIGKILL)
    assert job.wait(WAIT) and job.state == FAILED
    assert job.error == DIED_SENTENCE
    again = manager.start("a", _config(epochs=1), toy_dataset())
    assert again.wait(WAIT) and again.state == FINISHED, again.error
    assert again.worker["pid"] != job.worker["pid"]


def test_datasets_are_known_by_their_bytes():
    a, b = toy_dataset(seed=0), toy_dataset(seed=0)
    assert fingerprint(a) == fingerprint(b)
    assert fingerprint(a) != fingerprint(toy_dataset(seed=1))


def test_your_own_classes_on_the_ray_backend_train_in_a_local_worker():
    pytest.importorskip("ray")
    import numpy as np

    from core.jobs.ray_backend import RayBackend
    from core.userdata import make_dataset

    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (40, 28, 28), dtype=np.uint8)
    labels = [i % 2 for i in range(40)]
    data = make_dataset(["cat", "dog"], list(images), labels)
    ray = RayBackend(address="ray://nowhere.invalid:10001")   # never contacted for these runs
    m = JobManager(backend=ray, workers=1, initial_rate=1e9)
    try:
        spec = [dict(layer) for layer in SPEC[:-1]] + [linear(2)]
        job = m.start("a", TrainConfig(spec=spec, dataset="custom", classes=["cat", "dog"],
                                       epochs=1, batch_size=8), data)
        assert job.wait(WAIT) and job.state == FINISHED, job.error
        assert job.worker["pid"] != os.getpid() and ray._pump is None
        assert job.result.n == len(data.test_labels)
    finally:
        m.shutdown()


def test_the_pool_follows_the_training_workers_setting(monkeypatch):
    """The pool keeps as many processes as trainings run at once, and splits the cores among them
    (nothing is started: building the backend forks nothing until a run or warm-up)."""
    import os

    from core.jobs.process_backend import ProcessBackend

    monkeypatch.setenv("CNN_LAB_TRAINING_WORKERS", "3")
    monkeypatch.delenv("CNN_LAB_WORKER_THREADS", raising=False)
    backend = ProcessBackend()
    assert backend.workers == 3
    assert backend.options.threads == max(1, (os.cpu_count() or 1) // 3)
    assert ProcessBackend(workers=1).workers == 1
