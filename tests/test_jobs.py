"""core.jobs: the queue, limits, ownership, stopping, estimates, watch links and the teacher's
board — with a scripted fake run.

The fake run (tests/fakes.py) yields the same event shapes as core.train.TrainingRun, sleeping
between steps (or waiting for the test to open a gate) and checking its stop event like the real
one, so these tests are fast and deterministic: no wall-clock assertions, every wait bounded by a
deadline. Real training through the job manager is covered in test_train_core.py, the Ray
backend in test_ray.py, Stop's latency in bench/stream_bench.py.
"""
from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest
import torch

from core import jobs
from core.jobs import BackendError, JobLimitError, JobManager, JobView
from core.models import SpecError
from core.settings import SettingsError
from core.train import ConfigError, TrainConfig
from tests.fakes import SPEC, Recorder, config, fake_factory, manager, toy_dataset
from tests.helpers import wait_until


@pytest.fixture(scope="module")
def data():
    return toy_dataset(n_train=64, n_test=40)


# ------------------------------------------------------------------ one run, end to end

def test_job_runs_in_background_and_records_everything(data):
    m = manager(workers=1, run_factory=fake_factory())
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
    assert job.started is not None and job.ended >= job.started >= job.created
    assert list(job.follow(timeout=5)) == job.events(), "follow replays a finished job"
    m.shutdown()


# ------------------------------------------------------------------ the queue

def test_a_second_start_waits_in_the_queue_then_runs(data):
    gate = threading.Semaphore(0)
    m = manager(workers=1, run_factory=fake_factory(steps=4, step_seconds=0, gate=gate))
    first = m.start("alice", config(epochs=1), data)
    wait_until(lambda: first.state == jobs.RUNNING, what="the first run to start")
    second = m.start("bob", config(epochs=1), data)
    assert second.state == jobs.QUEUED and second.active and second.queued
    assert m.waiting() == [second] and m.training() == [first]
    s = m.status(second)
    assert (s.state, s.position, s.waiting) == (jobs.QUEUED, 1, 1)
    assert m.status(first).position == 0
    assert second.events() == [] and second.elapsed() == 0.0 and second.seconds_left() is None
    busy, wait = m.busy("carol")
    assert busy and wait is not None and wait > 0, "a third visitor would wait behind both"
    for _ in range(8):
        gate.release()
    assert first.wait(60) and second.wait(60)
    assert first.state == second.state == jobs.FINISHED
    assert second.started >= first.ended, "one worker: the second run starts when the first ends"
    assert m.status(second).position == 0 and not m.waiting()
    m.shutdown()


def test_concurrent_starts_all_get_a_place_in_order(data):
    gate = threading.Semaphore(0)
    rec = Recorder(steps=2, step_seconds=0, gate=gate)
    m = manager(workers=1, run_factory=rec)
    barrier = threading.Barrier(6)
    results = {}

    def press_start(owner):
        barrier.wait(10)
        results[owner] = m.start(owner, config(epochs=1), data)

    threads = [threading.Thread(target=press_start, args=(f"user{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 6 and all(isinstance(j, jobs.Job) for j in results.values())
    wait_until(lambda: len(m.training()) == 1, what="one run on the worker")
    waiting = m.waiting()
    assert len(waiting) == 5
    assert [m.status(j).position for j in waiting] == [1, 2, 3, 4, 5]
    assert sorted(j.created for j in waiting) == [j.created for j in waiting], "first come, first served"
    for _ in range(2 * 6):
        gate.release()
    for j in results.values():
        assert j.wait(60) and j.state == jobs.FINISHED
    by_start = sorted(results.values(), key=lambda j: j.started)
    assert [r.stop_event for r in rec.runs] == [j.stop_event for j in by_start], \
        "each run was built when its job was dispatched"
    started = [j.started for j in waiting]
    assert started == sorted(started), "the waiting runs started in queue order"
    m.shutdown()


def test_cancel_while_waiting_moves_the_others_up(data):
    gate = threading.Semaphore(0)
    rec = Recorder(steps=1, step_seconds=0, gate=gate)
    m = manager(workers=1, run_factory=rec)
    a = m.start("alice", config(epochs=1), data)
    wait_until(lambda: a.state == jobs.RUNNING, what="alice's run to start")
    b, c, d = (m.start(o, config(epochs=1), data) for o in ("bob", "carol", "dave"))
    assert [m.status(j).position for j in (b, c, d)] == [1, 2, 3]
    assert not m.cancel(c.id, "mallory"), "only the owner cancels"
    assert m.cancel(c.id, "carol")
    assert c.state == jobs.CANCELLED and not c.active and c.wait(0)
    assert [m.status(j).position for j in (b, d)] == [1, 2] and m.status(c).position == 0
    c.stop()  # cancelling twice is harmless
    carol_again = m.start("carol", config(epochs=1), data)  # her slot is free again
    assert m.status(carol_again).position == 3
    for _ in range(10):
        gate.release()
    for j in (a, b, d, carol_again):
        assert j.wait(60) and j.state == jobs.FINISHED
    assert len(rec.runs) == 4, "the cancelled run was never built"
    assert c.events() == [] and c.started is None and c.model is None
    m.shutdown()


def test_more_workers_and_one_run_per_owner(data):
    gate = threading.Semaphore(0)
    m = manager(workers=2, run_factory=fake_factory(steps=1, step_seconds=0, gate=gate))
    a = m.start("alice", config(epochs=1), data)
    b = m.start("bob", config(epochs=1), data)
    wait_until(lambda: len(m.training()) == 2, what="two runs on two workers")
    with pytest.raises(JobLimitError) as err:
        m.start("alice", config(), data)
    assert err.value.own and "Your previous run" in str(err.value)
    c = m.start("carol", config(epochs=1), data)
    assert c.state == jobs.QUEUED
    with pytest.raises(JobLimitError) as err:
        m.start("carol", config(), data)
    assert err.value.own, "a waiting run counts against its owner too"
    assert {j.id for j in m.active()} == {a.id, b.id, c.id}
    m.shutdown()
    assert all(not j.active for j in (a, b, c))


def test_per_owner_limit_and_queue_cap_are_configurable(data):
    gate = threading.Semaphore(0)
    m = manager(workers=1, per_owner=2, max_waiting=2,
                run_factory=fake_factory(steps=1, step_seconds=0, gate=gate))
    a1 = m.start("alice", config(epochs=1), data)
    wait_until(lambda: a1.state == jobs.RUNNING, what="alice's first run")
    a2 = m.start("alice", config(epochs=1), data)
    b = m.start("bob", config(epochs=1), data)
    assert (a2.state, b.state) == (jobs.QUEUED, jobs.QUEUED)
    with pytest.raises(JobLimitError) as err:
        m.start("carol", config(), data)
    assert not err.value.own and "queue" in str(err.value) and "full" in str(err.value)
    with pytest.raises(JobLimitError) as err:
        m.start("alice", config(), data)
    assert err.value.own
    m.shutdown()


def test_limits_come_from_the_environment(monkeypatch, data):
    for name in (jobs.WORKERS_ENV, jobs.MAX_JOBS_ENV, jobs.PER_OWNER_ENV, jobs.MAX_QUEUE_ENV,
                 jobs.BACKEND_ENV, "RAY_ADDRESS"):
        monkeypatch.delenv(name, raising=False)
    m = JobManager()
    default = min(2, os.cpu_count() or 1)
    assert (m.workers, m.max_jobs, m.per_owner, m.max_waiting, m.max_epochs) == (default, default, 1, 60, 20)
    assert m.backend.name == "local"
    monkeypatch.setenv(jobs.MAX_JOBS_ENV, "3")  # the deprecated name still works …
    assert JobManager().workers == 3
    monkeypatch.setenv(jobs.WORKERS_ENV, "2")   # … and the new one wins
    monkeypatch.setenv(jobs.PER_OWNER_ENV, "2")
    monkeypatch.setenv(jobs.MAX_QUEUE_ENV, "5")
    monkeypatch.setenv(jobs.MAX_EPOCHS_ENV, "4")
    m = manager(run_factory=fake_factory())
    assert (m.workers, m.per_owner, m.max_waiting, m.max_epochs) == (2, 2, 5, 4)
    with pytest.raises(ConfigError, match="at most 4 epochs"):
        m.start("alice", config(epochs=5), data)
    assert not m.active(), "a refused start holds no place"
    # A value that cannot be used stops the server with a sentence naming it (core.settings),
    # never a silent default: a typo must not give a class the default limit.
    for name, raw in ((jobs.WORKERS_ENV, "zero"), (jobs.PER_OWNER_ENV, "zero"),
                      (jobs.MAX_EPOCHS_ENV, "zero"), (jobs.MAX_QUEUE_ENV, "-1")):
        monkeypatch.setenv(name, raw)
        with pytest.raises(SettingsError, match=f"{name}='{raw}'.*at least 1"):
            jobs.make_job_manager()
        with pytest.raises(SettingsError, match=name):
            JobManager()
        monkeypatch.setenv(name, "2")
    monkeypatch.delenv(jobs.WORKERS_ENV)
    monkeypatch.setenv(jobs.MAX_JOBS_ENV, "0")   # the deprecated name is held to the same rule
    with pytest.raises(SettingsError, match=jobs.MAX_JOBS_ENV):
        JobManager()


def test_backend_choice(monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.delenv(jobs.BACKEND_ENV, raising=False)
    assert jobs.backend_name_from_env() == "local"
    monkeypatch.setenv("RAY_ADDRESS", "ray://head:10001")
    assert jobs.backend_name_from_env() == "ray"
    monkeypatch.setenv(jobs.BACKEND_ENV, "local")
    assert jobs.backend_name_from_env() == "local", "the CNN Lab variable wins"
    with pytest.raises(BackendError, match="Unknown training backend 'spark'"):
        jobs.make_backend("spark")
    with pytest.raises(ValueError):
        JobManager(backend="ray", run_factory=fake_factory())


def test_bad_settings_are_refused_before_taking_a_place(data):
    m = manager(workers=1, run_factory=fake_factory())
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
    assert not m.active() and not m.jobs("alice")
    m.shutdown()


def test_a_run_that_cannot_be_built_fails_with_an_error_id_and_frees_the_worker(data, caplog):
    """The visitor gets one sentence with an id; the exception goes to the server log under it."""
    def broken_factory(config, data, stop_event):
        raise RuntimeError("cannot build /srv/secret/path")

    m = manager(workers=1, run_factory=broken_factory)
    with caplog.at_level("ERROR", logger="cnn_lab.jobs"):
        job = m.start("alice", config(), data)
        assert job.wait(60)
    assert job.state == jobs.FAILED and not m.active()
    assert job.error_id and job.error_id in job.error
    assert "cannot build" not in job.error and "RuntimeError" not in job.error and "/srv" not in job.error
    logged = [r for r in caplog.records if job.error_id in r.getMessage()]
    assert logged and "cannot build" in str(logged[0].exc_info[1])
    m.run_factory = fake_factory()
    assert m.start("alice", config(epochs=1), data).wait(60)
    m.shutdown()


def test_each_owner_sees_only_their_jobs(data):
    m = manager(workers=2, run_factory=fake_factory())
    a = m.start("alice", config(epochs=1), data)
    assert m.get(a.id, "alice") is a
    assert m.get(a.id, "mallory") is None and m.get("nope", "alice") is None and m.get(None, "alice") is None
    assert m.jobs("mallory") == [] and m.jobs("alice") == [a]
    assert not m.stop(a.id, "mallory")
    assert a.wait(60)
    assert not m.forget(a.id, "mallory")
    assert m.forget(a.id, "alice") and m.jobs("alice") == []
    m.shutdown()


def test_stop_ends_training_and_keeps_the_model(data):
    m = manager(workers=1, run_factory=fake_factory(steps=1000, step_seconds=0.01))
    job = m.start("alice", config(epochs=1), data)
    wait_until(lambda: job.progress().step >= 3, what="three steps")
    assert m.stop(job.id, "alice")
    assert job.state in (jobs.STOPPING, jobs.STOPPED, jobs.FINISHED)
    assert job.wait(60)
    assert job.stopped and job.state == jobs.FINISHED
    assert job.stopped_at >= job.stop_requested_at  # how soon: bench/stream_bench.py prints it
    updates = job.run.updates
    assert 3 <= updates < 1000 and job.metrics()["stopped"] is True
    x = data.normalized(data.test_images[:2])
    assert job.model(x).shape == (2, 10), "the model trained so far is usable"
    job.stop()  # stopping twice is harmless
    assert job.run.updates == updates
    m.shutdown()


def test_a_failing_run_is_reported_and_frees_its_worker(data):
    m = manager(workers=1, run_factory=fake_factory(fail_at=3))
    job = m.start("alice", config(), data)
    assert job.wait(60)
    assert job.state == jobs.FAILED and job.error_id in job.error and "simulated failure" not in job.error
    assert job.events()[-1]["event"] == "error"
    assert not m.active()
    m.run_factory = fake_factory()
    assert m.start("alice", config(epochs=1), data).wait(60)
    m.shutdown()


def test_old_finished_jobs_are_pruned(data):
    m = manager(workers=1, run_factory=fake_factory(steps=1, step_seconds=0), keep_per_owner=3)
    ids = []
    for _ in range(5):
        job = m.start("alice", config(epochs=1), data)
        assert job.wait(60)
        ids.append(job.id)
    assert m.start("bob", config(epochs=1), data).wait(60)
    kept = [j.id for j in m.jobs("alice")]
    assert kept == ids[-3:], "the newest runs are kept, oldest first"
    assert [j.number for j in m.jobs("alice")] == [3, 4, 5]
    assert len(m.jobs("bob")) == 1
    m.keep_total = 2  # the server-wide cap drops the oldest finished runs, whoever owns them
    assert m.start("carol", config(epochs=1), data).wait(60)
    wait_until(lambda: len(m.all_jobs()) == 2, what="pruning after carol's run")
    assert [j.owner for j in m.jobs("alice") + m.jobs("bob") + m.jobs("carol")] == ["bob", "carol"]
    m.shutdown()


def test_checkpoint_metadata_round_trip(data, tmp_path):
    from core.checkpoint import load_checkpoint, save_checkpoint

    m = manager(workers=1, run_factory=fake_factory())
    job = m.start("alice", config(epochs=2), data)
    assert job.wait(60)
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
    m.shutdown()


def test_shutdown_cancels_the_queue_and_refuses_new_runs(data):
    gate = threading.Semaphore(0)
    m = manager(workers=1, run_factory=fake_factory(steps=5, step_seconds=0, gate=gate))
    a = m.start("alice", config(epochs=1), data)
    wait_until(lambda: a.state == jobs.RUNNING, what="alice's run")
    b = m.start("bob", config(epochs=1), data)
    m.shutdown(timeout=30)
    assert a.state == jobs.FINISHED and a.stopped and b.state == jobs.CANCELLED
    with pytest.raises(BackendError, match="shutting down"):
        m.start("carol", config(epochs=1), data)


# ------------------------------------------------------------------ estimates from measured work

def test_work_counts_multiply_adds_images_and_epochs(data):
    from core.models import summary

    macs = summary(SPEC).total_mult_adds
    c = config(epochs=3, fraction=0.5)
    assert jobs.run_work(c, 64, 40) == macs * (3 * 32 * 3 + 40 * 3)
    assert jobs.run_work(config(epochs=6, fraction=0.5), 64, 40) > 1.9 * jobs.run_work(c, 64, 40)
    c.eval_each_epoch = False
    assert jobs.run_work(c, 64, 40) == macs * (3 * 32 * 3 + 40)


def test_schedule_is_first_come_first_served_over_the_workers():
    assert jobs.schedule(1, [10.0], [5.0, 7.0]) == [(10.0, 15.0), (15.0, 22.0)]
    assert jobs.schedule(2, [10.0], [5.0, 7.0, 1.0]) == [(0.0, 5.0), (5.0, 12.0), (10.0, 11.0)]
    assert jobs.schedule(2, [4.0, 9.0], [3.0, 3.0, 3.0]) == [(4.0, 7.0), (7.0, 10.0), (9.0, 12.0)]
    assert jobs.schedule(3, [], []) == []


def test_queued_estimates_come_from_work_and_the_rate(data):
    gate = threading.Semaphore(0)
    rate = 1e6  # multiply-adds per second: runs of this size "take" minutes at this rate
    m = JobManager(workers=1, initial_rate=rate,
                   run_factory=fake_factory(steps=4, step_seconds=0, gate=gate))
    assert m.rate == rate and m.rate_source == "given"
    a = m.start("alice", config(epochs=1), data)
    wait_until(lambda: a.state == jobs.RUNNING, what="alice's run to start")
    t_before = time.perf_counter()
    b = m.start("bob", config(epochs=2), data)
    c = m.start("carol", config(epochs=1), data)
    sb, sc = m.status(b), m.status(c)
    held = time.perf_counter() - a.t0
    # a has not stepped yet, so its time left is its work at the rate minus what it already ran
    assert a.work / rate - held <= sb.seconds_to_start <= a.work / rate
    assert sb.seconds_to_finish - sb.seconds_to_start == pytest.approx(b.work / rate)
    assert sc.seconds_to_start == pytest.approx(sb.seconds_to_finish)
    assert sc.seconds_to_finish - sc.seconds_to_start == pytest.approx(c.work / rate)
    assert sb.start_at == pytest.approx(time.time() + sb.seconds_to_start, abs=5)
    assert sb.finish_at > sb.start_at and sc.finish_at > sc.start_at
    # a run started now would come after carol's
    start, finish = m.preview(config(epochs=1), data)
    assert start == pytest.approx(sc.seconds_to_finish, abs=time.perf_counter() - t_before + 0.01)
    busy, wait = m.busy("dave")
    assert busy and wait == pytest.approx(start, abs=time.perf_counter() - t_before + 0.01)
    # cancelling bob brings carol forward by bob's duration
    m.cancel(b.id, "bob")
    assert m.status(c).seconds_to_start == pytest.approx(sb.seconds_to_start, abs=time.perf_counter() - t_before + 0.01)
    # the board shows everyone, waiting runs with their position
    rows = {r.job_id: r for r in m.board()}
    assert rows[c.id].position == 1 and rows[c.id].state == jobs.QUEUED
    assert rows[a.id].position == 0 and rows[b.id].state == jobs.CANCELLED
    for _ in range(8):
        gate.release()
    assert c.wait(60)
    m.shutdown()


def test_the_rate_is_measured_from_finished_runs(data):
    m = JobManager(workers=1, initial_rate=123.0, run_factory=fake_factory(steps=3, step_seconds=0.01))
    def training_seconds(job):  # from its "start" event to its end: start-up is measured apart
        return job.elapsed() - job.events()[0]["elapsed"]

    a = m.start("alice", config(epochs=1), data)
    assert a.wait(60)
    wait_until(lambda: m.rate_source == "measured", what="the rate measurement")
    assert m.rate == pytest.approx(a.work / training_seconds(a))
    assert m.startup_seconds == a.events()[0]["elapsed"]
    b = m.start("bob", config(epochs=2), data)
    assert b.wait(60)
    wait_until(lambda: m.rate != pytest.approx(a.work / training_seconds(a)), what="the second measurement")
    assert m.rate == pytest.approx(0.5 * (a.work / training_seconds(a) + b.work / training_seconds(b)))
    assert m.startup_seconds == min(a.events()[0]["elapsed"], b.events()[0]["elapsed"])
    # a stopped run says nothing about the pace of a whole run: not measured
    before = m.rate
    c = m.start("carol", config(epochs=20), data)
    wait_until(lambda: c.progress().step >= 1, what="carol's first step")
    c.stop()
    assert c.wait(60) and c.stopped
    assert m.rate == before
    m.shutdown()


def test_until_a_run_finishes_the_running_runs_pace_is_used(data):
    gate = threading.Semaphore(0)
    m = JobManager(workers=1, initial_rate=1.0, run_factory=fake_factory(steps=10, step_seconds=0, gate=gate))
    a = m.start("alice", config(epochs=1), data)
    for _ in range(4):
        gate.release()
    wait_until(lambda: a.progress().step == 4, what="four steps")
    startup = a.events()[0]["elapsed"]  # the pace counts from the run's "start" event
    before = time.perf_counter() - a.t0 - startup
    live = m._live_rate([a])
    after = time.perf_counter() - a.t0 - startup
    assert a.work * 0.4 / after <= live <= a.work * 0.4 / before
    b = m.start("bob", config(epochs=1), data)
    s = m.status(b)
    # bob's duration at the live pace, not at the (absurd) initial 1 multiply-add per second
    assert s.seconds_to_finish - s.seconds_to_start < b.work / 1.0 / 1000
    for _ in range(20):
        gate.release()
    assert b.wait(60)
    m.shutdown()


def test_the_first_estimate_comes_from_a_probe(data):
    rate = jobs.probe_rate(batch=16, repeats=1)
    assert rate > 1e6, "any CPU does more than a million multiply-adds a second"
    m = JobManager(workers=1, run_factory=fake_factory(steps=1, step_seconds=0))
    assert m.rate is None
    assert m.start("alice", config(epochs=1), data).wait(60)
    assert m.rate_source in ("probe", "measured") and m.rate > 0
    m.shutdown()


def test_the_probe_is_taken_once_per_process_and_every_manager_reuses_it(data, monkeypatch):
    """A probe taken in a class's first busy minute read a rate ten times too slow ("starts in
    about 7 min" for a 40 s wait): the server takes it once, while idle (app.serve), and keeps it."""
    import core.jobs.estimates as estimates

    calls = []
    monkeypatch.setattr(estimates, "_machine_rate", None)
    monkeypatch.setattr(estimates, "probe_rate", lambda threads=None: calls.append(threads) or 123e6)
    assert jobs.machine_rate() == 123e6
    for owner in ("alice", "bob"):
        m = JobManager(workers=1, run_factory=fake_factory(steps=1, step_seconds=0))
        try:
            job = m.start(owner, config(epochs=1), data)
            assert m.rate_source in ("probe", "measured")
            assert job.wait(60)
        finally:
            m.shutdown()
    assert calls == [1]          # once, with one torch thread (a worker's)


def test_runs_that_outnumber_the_cores_share_the_probe(data, monkeypatch):
    """2 runs at once on 1 core each get half of the one-thread probe; on a core each, all of it."""
    import core.jobs.estimates as estimates
    import core.jobs.manager as manager_module

    assert estimates.rate_per_run(100.0, cores=1, workers=2) == 50.0
    assert estimates.rate_per_run(100.0, cores=4, workers=2) == 100.0
    assert estimates.usable_cores() >= 1
    monkeypatch.setattr(manager_module, "machine_rate", lambda: 8e9)
    monkeypatch.setattr(manager_module, "usable_cores", lambda: 1)
    m = JobManager(workers=2, run_factory=fake_factory(steps=1, step_seconds=0))
    try:
        assert m.start("alice", config(epochs=1), data).wait(60)
        assert m.rate_source in ("probe", "measured")
        assert m._first_rate() == 4e9
    finally:
        m.shutdown()


# ------------------------------------------------------------------ watch links and the teacher

def test_a_watch_token_gives_a_read_only_view(data):
    m = manager(workers=1, run_factory=fake_factory())
    job = m.start("alice", config(), data, nickname="Ada")
    assert job.wait(60)
    assert job.watch_token and job.watch_token != job.id and len(job.watch_token) >= 20
    view = m.watch(job.watch_token)
    assert isinstance(view, JobView)
    assert view.events() == job.events() and view.metrics() == job.metrics()
    assert view.snapshots() == job.snapshots() and view.result is job.result
    assert view.nickname == "Ada" and view.state == jobs.FINISHED and view.number == 1
    assert view.status().position == 0 and view.progress().fraction == 1.0
    assert view.config == job.config.to_dict()
    view.config["epochs"] = 99
    assert job.config.epochs == 2, "the view hands out a copy of the settings"
    for hidden in ("stop", "cancel", "model", "run", "id", "owner", "watch_token", "checkpoint_metadata"):
        assert not hasattr(view, hidden), hidden
    assert m.watch("nope") is None and m.watch(None) is None and m.watch(job.id) is None
    assert m.get(job.watch_token, "alice") is None, "the token is not the owner's key"
    m.shutdown()


def test_the_teacher_sees_every_run_and_can_stop_any(data):
    gate = threading.Semaphore(0)
    m = manager(workers=1, run_factory=fake_factory(steps=2, step_seconds=0, gate=gate))
    a = m.start("ws-1", config(epochs=1), data, nickname="  Ada\n\x00 Lovelace  ")
    wait_until(lambda: a.state == jobs.RUNNING, what="ada's run")
    b = m.start("ws-2", config(epochs=1, lr=3e-3), data, nickname="Grace")
    c = m.start("ws-3", config(epochs=1), data)
    rows = m.board()
    assert [r.job_id for r in rows] == [b.id, c.id, a.id], "waiting first, in queue order"
    assert [r.position for r in rows] == [1, 2, 0]
    assert rows[0].nickname == "Grace" and rows[2].nickname == "Ada Lovelace"
    assert rows[0].settings["lr"] == 3e-3 and rows[0].architecture == "custom"
    assert rows[2].state == jobs.RUNNING and rows[0].accuracy is None
    assert m.teacher_stop(b.id) and b.state == jobs.CANCELLED
    assert m.teacher_stop(a.id) and a.wait(60) and a.stopped
    assert not m.teacher_stop("nope")
    for _ in range(4):
        gate.release()
    assert c.wait(60)
    rows = {r.job_id: r for r in m.board()}
    assert rows[c.id].accuracy == c.metrics()["test_accuracy"] and rows[c.id].progress == 1.0
    assert m.set_nickname(c.id, "ws-3", "x" * 100) and len(c.nickname) == jobs.MAX_NICKNAME
    assert not m.set_nickname(c.id, "ws-1", "mallory")
    assert jobs.clean_nickname("   ") is None and jobs.clean_nickname(None) is None
    assert len(m.all_jobs()) == 3
    m.shutdown()


def test_live_accuracy_follows_the_run(data):
    gate = threading.Semaphore(0)
    m = manager(workers=1, run_factory=fake_factory(steps=3, step_seconds=0, gate=gate))
    job = m.start("alice", config(epochs=2), data)
    assert job.live_accuracy() is None
    gate.release()
    wait_until(lambda: job.progress().step == 1, what="one step")
    assert job.live_accuracy() == pytest.approx(0.1), "the running training accuracy first"
    gate.release(), gate.release()
    wait_until(lambda: any(e["event"] == "epoch" for e in job.events()), what="the first epoch")
    first_epoch = next(e for e in job.events() if e["event"] == "epoch")
    assert job.live_accuracy() == first_epoch["test_accuracy"]
    for _ in range(3):
        gate.release()
    assert job.wait(60) and job.live_accuracy() == job.metrics()["test_accuracy"]
    m.shutdown()
