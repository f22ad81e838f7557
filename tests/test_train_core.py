"""Real training through the job manager, stop semantics of core.train, and core.metrics."""
from __future__ import annotations

import csv
import io
import math
import threading

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from core import jobs, metrics
from core.jobs import JobManager
from core.models import build_model
from core.train import EvaluationStopped, TrainConfig, TrainingRun, evaluate
from tests.fakes import SPEC as SMALL
from tests.fakes import toy_dataset
from tests.helpers import wait_until


@pytest.fixture(scope="module")
def data():
    return toy_dataset(n_train=400, n_test=100)


def cfg(**kw):
    return TrainConfig(spec=[dict(layer) for layer in SMALL], **{"batch_size": 16, "lr": 3e-3,
                                                       "log_every": 1, **kw})


# ------------------------------------------------------------------ stopping keeps the model

def test_stop_between_steps_through_the_job_keeps_a_usable_model(data):
    # 50 epochs of 25 steps: far more than the few steps before Stop, however fast the machine.
    # How soon a run ends after Stop is a figure for bench/, not a timed assertion here; that it
    # ends before its next step is checked without a clock by the StopOnCall tests below.
    m = JobManager(max_jobs=1, max_epochs=50)
    job = m.start("alice", cfg(epochs=50), data)
    wait_until(lambda: job.progress().step >= 5 or not job.active, what="five steps (or the run's end)")
    assert job.active, job.error
    m.stop(job.id, "alice")
    assert job.wait(60), "the run ends after Stop"
    assert job.stopped_at is not None and job.state == jobs.FINISHED
    events = job.events()
    assert [e["event"] for e in events[-2:]] == ["stopped", "done"]
    done = job.metrics()
    assert done["stopped"] is True and done["steps"] == events[-2]["step"] >= 5
    assert done["steps"] < 50 * 25, "it did not run to the end"
    torch.manual_seed(0)  # TrainingRun seeds with config.seed (0) before building the model
    initial = build_model(SMALL)
    assert any(not torch.equal(a, b) for a, b in zip(initial.parameters(), job.model.parameters())), \
        "the model keeps what it learned"
    x = data.normalized(data.test_images[:8])
    with torch.no_grad():
        assert job.model(x).shape == (8, 10)
    assert job.result is not None and job.result.accuracy == done["test_accuracy"]
    assert not m.active(), "the slot is free again"


class StopOnCall(threading.Event):
    """A stop event that turns itself on at its n-th is_set() check."""

    def __init__(self, n):
        super().__init__()
        self.n, self.calls = n, 0

    def is_set(self):
        self.calls += 1
        if self.calls >= self.n:
            self.set()
        return super().is_set()


def test_stop_during_epoch_evaluation_does_not_wait_for_it(data):
    config = cfg(epochs=3, batch_size=100)       # 4 steps per epoch, one check per step
    run = TrainingRun(config, data, stop_event=StopOnCall(5))  # 5th check: in the evaluation
    events = list(run.events())
    kinds = [e["event"] for e in events]
    assert "epoch" not in kinds, "the interrupted evaluation yields no epoch event"
    assert kinds[-2:] == ["stopped", "done"]
    assert events[-1]["epochs_completed"] == 1 and events[-1]["steps"] == 4
    assert events[-1]["stopped"] is True and 0 <= events[-1]["test_accuracy"] <= 1


def test_evaluate_honours_a_stop_event(data):
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    x, y = data.normalized(data.test_images), data.test_labels
    stop = threading.Event()
    assert evaluate(model, x, y, batch_size=10, stop_event=stop).n == 100
    stop.set()
    with pytest.raises(EvaluationStopped):
        evaluate(model, x, y, batch_size=10, stop_event=stop)


# ------------------------------------------------------------------ the queue

def test_two_concurrent_real_starts_one_trains_one_waits(data):
    m = JobManager(workers=1, max_epochs=30)
    barrier = threading.Barrier(2)
    out = {}

    def press(owner):
        barrier.wait(10)
        out[owner] = m.start(owner, cfg(epochs=30), data)

    threads = [threading.Thread(target=press, args=(o,)) for o in ("alice", "bob")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(out) == ["alice", "bob"]
    wait_until(lambda: len(m.training()) >= 1, what="a run on the worker")
    first, = m.training()
    second, = m.waiting()
    assert m.status(second).position == 1 and second.state == jobs.QUEUED
    first.stop()
    assert first.wait(60), "a stopped run ends"
    wait_until(lambda: second.progress().step >= 1, what="the waiting run to start when the first ends")
    assert second.started >= first.ended
    second.stop()
    assert second.wait(60) and second.state == jobs.FINISHED
    m.shutdown()


# ------------------------------------------------------------------ feature maps per epoch

def test_feature_capture_does_not_change_training(data):
    """Snapshots are taken while the generator is paused: same seed, same losses."""
    settings = dict(epochs=2, seed=5, augment=True, fraction=0.25, batch_size=25)  # 4 steps/epoch
    direct = [e["loss"] for e in TrainingRun(cfg(**settings), data).events() if e["event"] == "step"]
    job = JobManager(max_jobs=1).start("alice", cfg(**settings), data)
    assert job.wait(60), job.error
    via_job = [e["loss"] for e in job.events() if e["event"] == "step"]
    assert via_job == direct
    snaps = job.snapshots()
    assert [s.epoch for s in snaps] == [0, 1, 2]
    assert snaps[-1].step == job.metrics()["steps"]
    conv1 = [next(layer for layer in s.layers if layer.name == "conv1").maps for s in snaps]
    assert conv1[0].dtype == np.float16 and conv1[0].shape == (16, 28, 28)
    assert not np.array_equal(conv1[0], conv1[1]) and not np.array_equal(conv1[1], conv1[2])
    probe_label = int(data.test_labels[jobs.PROBE_INDEX])
    assert snaps[-1].probabilities[probe_label] > snaps[0].probabilities[probe_label], \
        "the probe digit's own class gains probability as the model learns"


def test_real_mnist_quick_run_through_a_job(data_dir):
    from core.data import load_dataset

    mnist = load_dataset("mnist", data_dir)
    config = TrainConfig(spec=SMALL, epochs=1, fraction=0.02, batch_size=64, lr=3e-3,
                         log_every=metrics.suggest_log_every(19))
    job = JobManager(max_jobs=1).start("alice", config, mnist)
    assert job.wait(120), job.error
    assert job.metrics()["test_accuracy"] > 0.6
    c = metrics.curves(job.events())
    assert len(c.step) == 19 and c.epoch == [1]
    assert int(mnist.test_labels[jobs.PROBE_INDEX]) == 7  # the probe digit the page explains


# ------------------------------------------------------------------ core.metrics

def test_ema_debiased_and_checked():
    assert metrics.ema([4.0, 4.0, 4.0], 0.9) == pytest.approx([4.0, 4.0, 4.0])
    assert metrics.ema([1.0, 3.0], 0.0) == [1.0, 3.0]
    assert metrics.ema([1.0, 3.0], 0.5) == pytest.approx([1.0, 1.75 / 0.75])
    out = metrics.ema([1.0, float("nan"), 3.0], 0.5)
    assert math.isnan(out[1]) and out[2] == pytest.approx((0.25 + 1.5) / 0.75)
    with pytest.raises(ValueError):
        metrics.ema([1.0], 1.0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=50), st.floats(0, 0.99))
def test_ema_stays_within_the_data_range(values, weight):
    out = metrics.ema(values, weight)
    assert len(out) == len(values)
    lo, hi = min(values), max(values)
    assert all(lo - 1e-6 * (1 + abs(lo)) <= v <= hi + 1e-6 * (1 + abs(hi)) for v in out)


def _events():
    ev = [{"event": "start", "total_steps": 10, "epochs": 2, "steps_per_epoch": 5, "elapsed": 1.0}]
    for s in range(1, 11):
        ep = 1 + (s - 1) // 5
        ev.append({"event": "step", "step": s, "epoch": ep, "epoch_progress": ((s - 1) % 5 + 1) / 5,
                   "loss": 1.0 / s, "accuracy": s / 10, "lr": 0.01, "images_per_second": 500.0,
                   "elapsed": 1.0 + s})
        if s % 5 == 0:
            ev.append({"event": "epoch", "epoch": ep, "step": s, "test_loss": 0.5 / ep,
                       "test_accuracy": 0.8 + 0.1 * ep, "train_loss": 0.6, "train_accuracy": 0.7,
                       "elapsed": 1.5 + s})
    return ev


def test_curves_and_epoch_positions():
    c = metrics.curves(_events())
    assert c.step == list(range(1, 11)) and c.epoch == [1, 2] and c.epoch_step == [5, 10]
    assert c.step_epoch[0] == pytest.approx(0.2) and c.step_epoch[-1] == pytest.approx(2.0)
    assert c.test_accuracy == pytest.approx([0.9, 1.0])
    assert len(c.smoothed_loss()) == 10


def test_progress_and_time_left():
    ev = _events()[:5]  # start + steps 1..4 (elapsed 2..5)
    p = metrics.progress(ev, elapsed=5.0)
    assert (p.step, p.total_steps, p.epoch, p.epochs) == (4, 10, 1, 2)
    assert p.fraction == pytest.approx(0.4)
    assert p.seconds_left == pytest.approx(6.0)   # 1 s per step since start, 6 steps to go
    assert metrics.progress(ev[:1]).seconds_left is None
    assert metrics.progress([]).fraction == 0.0
    done = _events() + [{"event": "done", "stopped": False}]
    assert metrics.progress(done).fraction == 1.0 and metrics.progress(done).seconds_left == 0.0
    stopped = ev + [{"event": "stopped"}, {"event": "done", "stopped": True}]
    assert metrics.progress(stopped).fraction == pytest.approx(0.4)


def test_log_every_gives_a_few_hundred_points():
    assert metrics.suggest_log_every(19) == 1
    assert metrics.suggest_log_every(469) == 2
    assert metrics.suggest_log_every(469 * 20) == 32
    assert 469 * 20 / metrics.suggest_log_every(469 * 20) <= 300


def test_history_csv_has_every_step_and_epoch():
    text = metrics.history_csv(_events() + [{"event": "done", "stopped": False}])
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 12 and rows[0]["event"] == "step" and rows[0]["loss"] == "1"
    epochs = [r for r in rows if r["event"] == "epoch"]
    assert [r["test_accuracy"] for r in epochs] == ["0.9", "1"] and epochs[0]["loss"] == ""
    assert tuple(rows[0].keys()) == metrics.CSV_COLUMNS


def test_compact_history_thins_steps_keeps_epochs():
    ev = []
    for s in range(1, 1001):
        ev.append({"event": "step", "step": s, "epoch": 1, "loss": 1 / 3 + s, "accuracy": 0.5})
        if s % 250 == 0:
            ev.append({"event": "epoch", "epoch": s // 250, "step": s, "test_loss": 0.123456789,
                       "test_accuracy": 0.9})
    out = metrics.compact_history(ev + [{"event": "done"}], max_steps=100)
    steps = [e for e in out if e["event"] == "step"]
    assert 100 <= len(steps) <= 101 and steps[-1]["step"] == 1000 and steps[0]["step"] == 1
    assert len([e for e in out if e["event"] == "epoch"]) == 4
    assert out[-1]["event"] == "epoch" and out[-1]["test_loss"] == 0.12346
    assert [e["step"] for e in out] == sorted(e["step"] for e in out)
    short = metrics.compact_history(ev[:5])
    assert [e["step"] for e in short] == [1, 2, 3, 4, 5] and short[0]["loss"] == 1.3333


# ------------------------------------------------------------------ the live readout (synthetic timings)

def _readouts(step_seconds, images=128, **kw):
    meter, out = metrics.Throughput(**kw), []
    for s in step_seconds:
        meter.add(images, s)
        out.append(meter.rate())
    return out


def test_throughput_leaves_out_the_warm_up_steps():
    rates = _readouts([1.0, 0.5, 0.3] + [0.016] * 10, warmup=3)
    assert rates[:7] == [None] * 7, "no figure from the set-up steps, nor from a batch or two after them"
    assert rates[7:] == pytest.approx([128 / 0.016] * 6), "the set-up steps never drag the figure down"


def test_throughput_has_a_figure_after_two_seconds_of_slow_steps():
    rates = _readouts([5.0] * 3 + [1.5, 1.0, 1.0])  # a big model: three steps take 3.5 s
    assert rates == [None] * 4 + [pytest.approx(256 / 2.5), pytest.approx(384 / 3.5)]


def test_throughput_averages_a_stalled_step_out():
    # 0.016 s a step, one step in 50 taken 0.2 s by another process: per step that read 640
    # against 8,000 images/s; over 5 s of steps the figure moves a few percent.
    timings = [0.016] * 3 + [0.2 if i % 50 == 25 else 0.016 for i in range(600)]
    rates = _readouts(timings, window=5.0)[3 + 300:]  # once the window is full (5 s ≈ 300 steps)
    steady = 50 * 128 / (49 * 0.016 + 0.2)  # the true average pace
    assert min(rates) > 0.93 * steady and max(rates) < 1.07 * steady
    assert max(rates) / min(rates) < 1.1


def test_throughput_follows_a_real_change_of_pace_within_the_window():
    rates = _readouts([0.01] * 3 + [0.01] * 600 + [0.02] * 300, window=2.0)
    assert rates[3 + 599] == pytest.approx(12_800)
    assert rates[-1] == pytest.approx(6_400), "after 6 s at the new pace only the new pace counts"


def test_throughput_keeps_one_long_step():
    rates = _readouts([0.1] * 3 + [30.0, 40.0], window=5.0)  # steps longer than the window
    assert rates == [None, None, None, pytest.approx(128 / 30), pytest.approx(128 / 40)]


def test_a_step_event_without_a_figure_yet_is_read():
    ev = [{"event": "start", "total_steps": 10, "epochs": 1, "elapsed": 0.0},
          {"event": "step", "step": 1, "epoch": 1, "loss": 2.3, "accuracy": 0.1, "lr": 0.1,
           "images_per_second": None, "elapsed": 1.0}]
    assert metrics.progress(ev, 1.0).images_per_second is None
    assert math.isnan(metrics.curves(ev).images_per_second[0])


def _timed_events(step_elapsed: list[float], total: int, log_every: int = 1):
    ev = [{"event": "start", "total_steps": total, "epochs": 1, "elapsed": 0.0}]
    for s, at in enumerate(step_elapsed, start=1):
        if s % log_every == 0:
            ev.append({"event": "step", "step": s, "epoch": 1, "loss": 1.0, "accuracy": 0.5,
                       "images_per_second": 1000.0, "elapsed": at})
    return ev


def test_time_left_leaves_out_the_warm_up():
    # 5 s of set-up in the first step, then 0.1 s a step, 200 steps: after step 20 the true time
    # left is 18 s; averaging since the start (the old estimate) said 6.9 / 20 × 180 = 62 s.
    at = [5.0 + 0.1 * i for i in range(20)]
    left = metrics.seconds_left(_timed_events(at, 200), elapsed=at[-1])
    assert left == pytest.approx(18.0)


def test_time_left_counts_down_between_events_and_never_jumps_up():
    # an event every 10 steps of 0.1 s; the page asks every 0.25 s
    at = [0.1 * i for i in range(1, 201)]
    ev = _timed_events(at, 200, log_every=10)
    seen = []
    for now in [0.25 * k for k in range(4, 80)]:
        shown = [e for e in ev if e.get("elapsed", 0.0) <= now]
        seen.append(metrics.seconds_left(shown, elapsed=now))
    assert all(b <= a + 1e-9 for a, b in zip(seen, seen[1:])), "no jump up at an event"
    assert seen[-1] == pytest.approx(20.0 - 19.75, abs=1e-6)


def test_progress_says_when_only_testing_is_left():
    ev = _timed_events([0.1 * i for i in range(1, 21)], 20, log_every=5)
    assert not metrics.progress(ev[:-1], 1.6).steps_done
    assert metrics.progress(ev, 2.5).steps_done and metrics.progress(ev, 2.5).seconds_left == 0.0
    assert not metrics.progress([], None).steps_done


def test_time_left_does_not_reach_zero_during_an_evaluation():
    at = [0.1 * i for i in range(1, 101)]
    ev = _timed_events(at, 200, log_every=10)  # step 100 at 10 s, then a 30 s evaluation
    assert metrics.seconds_left(ev, elapsed=40.0) == pytest.approx(10.0 - 1.0)
