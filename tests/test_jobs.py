"""core.jobs: background training jobs, limits, ownership, stopping — with a scripted fake run.

The fake run yields the same event shapes as core.train.TrainingRun, sleeping between steps and
checking its stop event like the real one, so these tests are fast and deterministic. Real
training through the job manager is covered in test_train_core.py.
"""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch

from core import jobs
from core.jobs import JobLimitError, JobManager
from core.models import BN, FLATTEN, RELU, SpecError, build_model, conv, linear, pool
from core.train import ConfigError, TrainConfig, evaluate
from tests.helpers import toy_dataset

# A small batch-normed CNN of our own, so these tests don't move when the presets are tuned.
SPEC = [conv(16, 3, 1, 1), BN, RELU, pool(2), conv(32, 3, 1, 1), BN, RELU, pool(2), FLATTEN, linear(10)]


class FakeRun:
    """Scripted stand-in for TrainingRun: `steps` steps per epoch, `step_seconds` each."""

    def __init__(self, config, data, stop_event, steps=5, step_seconds=0.02, fail_at=None):
        self.config, self.data, self.stop_event = config, data, stop_event
        self.steps, self.step_seconds, self.fail_at = steps, step_seconds, fail_at
        torch.manual_seed(0)
        self.model = build_model(config.spec)
        self.history, self.last_eval = [], None
        self.updates = 0

    def _eval(self):
        x = self.data.normalized(self.data.test_images)
        self.last_eval = evaluate(self.model, x, self.data.test_labels)
        return self.last_eval

    def events(self):
        total = self.steps * self.config.epochs
        yield {"event": "start", "train_size": 64, "test_size": len(self.data.test_labels),
               "steps_per_epoch": self.steps, "total_steps": total, "epochs": self.config.epochs,
               "device": "cpu", "dataset": self.config.dataset}
        step, stopped, completed = 0, False, 0
        for epoch in range(1, self.config.epochs + 1):
            for i in range(self.steps):
                if self.stop_event.is_set():
                    stopped = True
                    break
                time.sleep(self.step_seconds)
                with torch.no_grad():
                    for p in self.model.parameters():
                        p.add_(0.001)
                self.updates += 1
                step += 1
                if self.fail_at == step:
                    raise RuntimeError("simulated failure")
                yield {"event": "step", "step": step, "epoch": epoch,
                       "epoch_progress": (i + 1) / self.steps, "total_steps": total,
                       "loss": 2.0 / step, "accuracy": min(1.0, 0.1 * step), "lr": 1e-3,
                       "images_per_second": 1000.0, "train_seconds": step * self.step_seconds}
            if stopped:
                break
            completed = epoch
            r = self._eval()
            yield {"event": "epoch", "epoch": epoch, "step": step, "train_loss": 1.0,
                   "train_accuracy": 0.5, "test_loss": r.loss, "test_accuracy": r.accuracy,
                   "train_seconds": step * self.step_seconds}
        if stopped:
            yield {"event": "stopped", "step": step, "epoch": epoch, "train_seconds": 0.1}
        r = self._eval()
        yield {"event": "done", "stopped": stopped, "epochs_completed": completed, "steps": step,
               "test_accuracy": r.accuracy, "test_loss": r.loss, "train_seconds": 0.1,
               "images_per_second": 1000.0}


def fake_factory(**kw):
    return lambda config, data, stop_event: FakeRun(config, data, stop_event, **kw)


@pytest.fixture(scope="module")
def data():
    return toy_dataset(n_train=64, n_test=40)


def config(**kw):
    return TrainConfig(spec=[dict(layer) for layer in SPEC], **{"epochs": 2, **kw})


def test_job_runs_in_background_and_records_everything(data):
    m = JobManager(max_jobs=1, run_factory=fake_factory())
    job = m.start("alice", config(), data)
    assert job.active and job.id and job.number == 1
    assert job.wait(60)
    assert job.state == jobs.FINISHED and not job.active and not job.stopped
    events = job.events()
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "done" and kinds.count("epoch") == 2
    assert all("elapsed" in e for e in events)
    elapsed = [e["elapsed"] for e in events]
    assert elapsed == sorted(elapsed)
    assert job.events(since=len(events) - 1) == events[-1:]
    assert job.metrics()["steps"] == 10 and "event" not in job.metrics()
    assert job.result is not None and job.result.n == 40
    # feature maps of the probe digit: before training and after each epoch
    snaps = job.snapshots()
    assert [s.epoch for s in snaps] == [0, 1, 2]
    assert [layer.name for layer in snaps[0].layers][:3] == ["conv1", "bn1", "relu1"]
    assert snaps[0].layers[0].maps.shape == (16, 28, 28)
    assert snaps[0].probabilities.shape == (10,) and abs(snaps[0].probabilities.sum() - 1) < 1e-6
    assert not np.array_equal(snaps[0].layers[0].maps, snaps[2].layers[0].maps), "weights moved"
    assert job.progress().fraction == 1.0 and job.seconds_left() == 0.0


def test_second_start_is_refused_with_time_left_then_allowed(data):
    m = JobManager(max_jobs=1, run_factory=fake_factory(steps=10, step_seconds=0.05))
    first = m.start("alice", config(epochs=2), data)
    deadline = time.time() + 5
    while first.progress().step < 2 and time.time() < deadline:
        time.sleep(0.02)
    assert m.busy("bob")[0] and not m.busy("alice")[0]
    with pytest.raises(JobLimitError) as err:
        m.start("bob", config(), data)
    assert not err.value.own
    assert err.value.seconds_left is not None and 0 < err.value.seconds_left < 120
    assert "in progress" in str(err.value) and "other pages" in str(err.value)
    assert first.wait(60)
    second = m.start("bob", config(epochs=1), data)
    assert second.wait(60) and second.state == jobs.FINISHED


def test_concurrent_starts_respect_the_limit(data):
    m = JobManager(max_jobs=1, run_factory=fake_factory(steps=20, step_seconds=0.02))
    barrier = threading.Barrier(4)
    results = []

    def press_start(owner):
        barrier.wait()
        try:
            results.append(m.start(owner, config(), data))
        except JobLimitError as e:
            results.append(e)

    threads = [threading.Thread(target=press_start, args=(f"user{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    started = [r for r in results if isinstance(r, jobs.Job)]
    assert len(started) == 1 and len(results) == 4
    assert len(m.active()) == 1
    m.shutdown()


def test_more_slots_and_one_run_per_owner(data):
    m = JobManager(max_jobs=2, run_factory=fake_factory(steps=50, step_seconds=0.02))
    a = m.start("alice", config(), data)
    b = m.start("bob", config(), data)
    with pytest.raises(JobLimitError) as err:
        m.start("alice", config(), data)
    assert err.value.own and "Your previous run" in str(err.value)
    with pytest.raises(JobLimitError):
        m.start("carol", config(), data)
    assert {j.id for j in m.active()} == {a.id, b.id}
    m.shutdown()


def test_limits_come_from_the_environment(monkeypatch, data):
    monkeypatch.setenv(jobs.MAX_JOBS_ENV, "3")
    monkeypatch.setenv(jobs.MAX_EPOCHS_ENV, "4")
    m = JobManager(run_factory=fake_factory())
    assert (m.max_jobs, m.max_epochs) == (3, 4)
    with pytest.raises(ConfigError, match="at most 4 epochs"):
        m.start("alice", config(epochs=5), data)
    assert not m.active(), "a refused start holds no slot"
    monkeypatch.setenv(jobs.MAX_JOBS_ENV, "zero")
    monkeypatch.setenv(jobs.MAX_EPOCHS_ENV, "0")
    m = JobManager()
    assert (m.max_jobs, m.max_epochs) == (jobs.DEFAULT_MAX_JOBS, jobs.DEFAULT_MAX_EPOCHS) == (1, 20)


def test_bad_settings_are_refused_before_taking_a_slot(data):
    m = JobManager(max_jobs=1, run_factory=fake_factory())
    bad_spec = [{"type": "conv", "out": 8, "kernel": 30}, {"type": "flatten"},
                {"type": "linear", "out": 10}]
    with pytest.raises(SpecError, match="smaller than"):
        m.start("alice", TrainConfig(spec=bad_spec), data)
    with pytest.raises(ConfigError, match="learning rate"):
        m.start("alice", config(lr=0.0), data)
    with pytest.raises(ConfigError, match="dataset"):
        m.start("alice", config(dataset="kmnist"), data)
    with pytest.raises(ValueError):
        m.start("", config(), data)

    def broken_factory(config, data, stop_event):
        raise RuntimeError("cannot build")

    m.run_factory = broken_factory
    with pytest.raises(RuntimeError, match="cannot build"):
        m.start("alice", config(), data)
    assert not m.active() and not m.jobs("alice")
    m.run_factory = fake_factory()
    assert m.start("alice", config(epochs=1), data).wait(60)


def test_each_owner_sees_only_their_jobs(data):
    m = JobManager(max_jobs=2, run_factory=fake_factory())
    a = m.start("alice", config(epochs=1), data)
    assert m.get(a.id, "alice") is a
    assert m.get(a.id, "mallory") is None and m.get("nope", "alice") is None and m.get(None, "alice") is None
    assert m.jobs("mallory") == [] and m.jobs("alice") == [a]
    assert not m.stop(a.id, "mallory")
    assert m.owner_of(a.id) == "alice" and m.owner_of("nope") is None
    assert a.wait(60)
    assert not m.forget(a.id, "mallory")
    assert m.forget(a.id, "alice") and m.jobs("alice") == []


def test_stop_ends_training_fast_and_keeps_the_model(data):
    m = JobManager(max_jobs=1, run_factory=fake_factory(steps=1000, step_seconds=0.01))
    job = m.start("alice", config(epochs=1), data)
    while job.progress().step < 3:
        time.sleep(0.01)
    assert m.stop(job.id, "alice")
    assert job.state in (jobs.STOPPING, jobs.STOPPED, jobs.FINISHED)
    assert job.wait(60)
    assert job.stopped and job.state == jobs.FINISHED
    assert job.stopped_at - job.stop_requested_at < 1.0
    updates = job.run.updates
    assert 3 <= updates < 1000 and job.metrics()["stopped"] is True
    x = data.normalized(data.test_images[:2])
    assert job.model(x).shape == (2, 10), "the model trained so far is usable"
    job.stop()  # stopping twice is harmless
    assert job.run.updates == updates


def test_a_failing_run_is_reported_and_frees_its_slot(data):
    m = JobManager(max_jobs=1, run_factory=fake_factory(fail_at=3))
    job = m.start("alice", config(), data)
    assert job.wait(60)
    assert job.state == jobs.FAILED and "simulated failure" in job.error
    assert job.events()[-1]["event"] == "error"
    assert not m.active()
    m.run_factory = fake_factory()
    assert m.start("alice", config(epochs=1), data).wait(60)


def test_old_finished_jobs_are_pruned(data):
    m = JobManager(max_jobs=1, run_factory=fake_factory(steps=1, step_seconds=0), keep_per_owner=3)
    ids = []
    for _ in range(5):
        job = m.start("alice", config(epochs=1), data)
        job.wait(60)
        ids.append(job.id)
    m.start("bob", config(epochs=1), data).wait(60)
    kept = [j.id for j in m.jobs("alice")]
    assert kept == ids[-3:], "the newest runs are kept, oldest first"
    assert [j.number for j in m.jobs("alice")] == [3, 4, 5]
    assert len(m.jobs("bob")) == 1
    m.keep_total = 2  # the server-wide cap drops the oldest finished runs, whoever owns them
    m.start("carol", config(epochs=1), data).wait(60)
    assert [j.owner for j in m.jobs("alice") + m.jobs("bob") + m.jobs("carol")] == ["bob", "carol"]


def test_checkpoint_metadata_round_trip(data, tmp_path):
    from core.checkpoint import load_checkpoint, save_checkpoint

    m = JobManager(max_jobs=1, run_factory=fake_factory())
    job = m.start("alice", config(epochs=2), data)
    job.wait(60)
    meta = job.checkpoint_metadata("my model")
    assert meta["name"] == "my model" and meta["dataset"] == "mnist"
    assert meta["metrics"]["steps"] == 10 and len(meta["metrics"]["per_class_accuracy"]) == 10
    assert {e["event"] for e in meta["history"]} == {"step", "epoch"}
    assert meta["config"]["epochs"] == 2
    path = save_checkpoint(tmp_path / "m.safetensors", job.model, meta)
    loaded = load_checkpoint(path)
    assert loaded.meta["history"] == meta["history"]
    x = data.normalized(data.test_images[:3])
    assert torch.allclose(loaded.model(x), job.model.eval()(x), atol=1e-6)
