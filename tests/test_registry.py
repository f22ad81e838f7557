"""The durable run registry (core.jobs.registry) and resumable training (core.train_state):
in-process, on toy data. The kill -9 fault test is tests/test_restart.py."""
import sqlite3
import threading

import pytest
import torch

from core import settings
from core.jobs import FINISHED, JobManager
from core.jobs.registry import SCHEMA_VERSION, RunRegistry
from core.train import TrainingRun
from core.train_config import ConfigError, check_config, config_from_preset
from fakes import fake_factory, toy_dataset
from tests.helpers import wait_until

DATA = toy_dataset(n_train=300, n_test=100)


def cfg(**kw):
    return config_from_preset("fast", **{"epochs": 2, "batch_size": 32, "seed": 5, "device": "cpu",
                                          "calibration_holdout": 30, **kw})


def manager(registry, **kw):
    return JobManager(**{"workers": 1, "initial_rate": 1e9, "registry": registry,
                         "data_loader": lambda c: DATA, **kw})


@pytest.mark.parametrize("extra", [{"augment": True}])   # fast preset: AdamW, one-cycle schedule
def test_resume_from_an_epoch_checkpoint_gives_the_uninterrupted_run(tmp_path, extra):
    config = cfg(epochs=3, **extra)
    full = TrainingRun(config, DATA)
    full_events = list(full.events())
    path = tmp_path / "run.epoch.pt"
    cut = TrainingRun(cfg(epochs=3, epoch_state=str(path), **extra), DATA)
    events = cut.events()
    for e in events:                      # stop in epoch 2: epoch 1's checkpoint is on disk
        if e["event"] == "step" and e["epoch"] == 2:
            break
    events.close()
    torch.manual_seed(12345)              # whatever happened to the global generator meanwhile
    resumed = TrainingRun(cfg(epochs=3, epoch_state=str(path), **extra), DATA)
    rest = list(resumed.events())
    assert rest[0]["event"] == "resumed" and rest[0]["epoch"] == 1
    assert [e["epoch"] for e in rest if e["event"] == "epoch"] == [2, 3]
    for a, b in zip(full.model.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.equal(a, b)
    assert rest[-1]["test_accuracy"] == full_events[-1]["test_accuracy"]
    assert rest[-1]["test_loss"] == full_events[-1]["test_loss"]


def test_an_unreadable_epoch_checkpoint_starts_the_run_over(tmp_path):
    path = tmp_path / "run.epoch.pt"
    path.write_bytes(b"not a checkpoint")
    events = list(TrainingRun(cfg(epochs=1, epoch_state=str(path)), DATA).events())
    assert events[0]["event"] == "start" and events[-1]["event"] == "done"


def test_epoch_state_must_be_a_path():
    with pytest.raises(ConfigError):
        check_config(cfg(epoch_state=42))


def test_finished_runs_come_back_with_their_results(tmp_path):
    registry = RunRegistry(tmp_path)
    first = manager(registry)
    job = first.start("owner-a", cfg(), DATA, nickname="Ada")
    assert job.wait(120) and job.state == FINISHED
    first.shutdown()
    registry.close()

    second = manager(RunRegistry(tmp_path))
    [back] = second.jobs("owner-a")
    assert (back.id, back.state, back.nickname, back.number) == (job.id, FINISHED, "Ada", 1)
    assert back.events() == job.events()
    assert back.metrics() == job.metrics()
    assert back.metrics()["calibration"] == job.metrics()["calibration"]
    assert (back.result.confusion == job.result.confusion).all()
    assert (back.result.wrong_indices == job.result.wrong_indices).all()
    for a, b in zip(job.model.state_dict().values(), back.model.state_dict().values()):
        assert torch.equal(a.cpu(), b)
    assert second.get(job.id, "owner-b") is None                # still only its owner's
    assert second.watch(job.watch_token).metrics() == job.metrics()
    assert second.start("owner-a", cfg(epochs=1), DATA).number == 2
    second.shutdown()


def test_a_run_the_teacher_stopped_still_says_so_after_a_restart(tmp_path):
    """The learner's page says the teacher stopped the run; a restart must not turn that into an
    ordinary Stop (the registry's `stopped` column holds 2 for it)."""
    gate = threading.Semaphore(0)
    registry = RunRegistry(tmp_path)
    first = manager(registry, run_factory=fake_factory(steps=50, step_seconds=0, gate=gate))
    job = first.start("owner-a", cfg(epochs=1), DATA)
    gate.release()
    wait_until(lambda: job.state != "queued" and len(job.events()) >= 2, what="the run to train")
    assert first.teacher_stop(job.id) and job.wait(60) and job.stopped_by_teacher
    first.shutdown()
    registry.close()
    second = manager(RunRegistry(tmp_path))
    [back] = second.jobs("owner-a")
    assert back.stopped and back.stopped_by_teacher
    second.shutdown()


def test_forgotten_and_expired_runs_leave_the_disk(tmp_path):
    registry = RunRegistry(tmp_path)
    m = manager(registry)
    job = m.start("owner-a", cfg(epochs=1), DATA)
    assert job.wait(120)
    assert (tmp_path / f"{job.id}.safetensors").exists()
    assert m.forget(job.id, "owner-a")
    assert not (tmp_path / f"{job.id}.safetensors").exists()
    assert registry.load() == []
    job = m.start("owner-a", cfg(epochs=1), DATA)
    assert job.wait(120)
    m.shutdown()
    again = manager(RunRegistry(tmp_path), keep_seconds=0.0)   # every stored run is too old
    assert again.jobs("owner-a") == [] and RunRegistry(tmp_path).load() == []
    assert not list(tmp_path.glob("*.safetensors"))


def test_the_registry_is_wal_versioned_and_never_duplicates_an_event(tmp_path):
    registry = RunRegistry(tmp_path)
    registry.add_event("run1", 0, {"event": "start"})
    registry.add_event("run1", 0, {"event": "start"})
    db = sqlite3.connect(tmp_path / "registry.sqlite3")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 1
    with pytest.raises(ValueError):
        registry.weights_path("../escape")


def test_registry_settings(tmp_path):
    env = {"CNN_LAB_CHECKPOINT_DIR": str(tmp_path)}
    assert settings.run_registry_dir(env) == tmp_path / "runs"
    assert settings.run_registry_dir({}) is None
    assert settings.run_registry_dir({**env, "CNN_LAB_RUN_REGISTRY": "0"}) is None
    assert settings.run_registry_dir({"CNN_LAB_RUN_REGISTRY": str(tmp_path / "x")}) == tmp_path / "x"
    assert settings.run_retention_days({}) == 7
    assert settings.run_retention_days({"CNN_LAB_RUN_RETENTION_DAYS": "0.5"}) == 0.5
    with pytest.raises(settings.SettingsError):
        settings.run_retention_days({"CNN_LAB_RUN_RETENTION_DAYS": "soon"})
    with pytest.raises(settings.SettingsError):
        settings.check({"CNN_LAB_RUN_RETENTION_DAYS": "-1"})
