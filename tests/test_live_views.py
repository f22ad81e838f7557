"""Live views' shared payloads (core.live_payload) and estimates that follow the runs
(core.jobs.estimates, JobManager: estimate at submit, estimate_report, teacher stop)."""
from __future__ import annotations

import io
import threading

import numpy as np
import plotly.io
import pytest
from PIL import Image

from core import jobs, live_payload, metrics
from core.jobs import JobManager
from core.jobs.estimates import estimate_vs_actual, pace_rate, time_left
from core.live_payload import PayloadCache
from tests.fakes import config, fake_factory, toy_dataset
from tests.helpers import wait_until


def t(key, **values):
    return key


@pytest.fixture(scope="module")
def data():
    return toy_dataset(n_train=64, n_test=40)


def events(n: int, total: int = 100) -> list[dict]:
    out = [{"event": "start", "total_steps": total, "epochs": 1, "elapsed": 0.0}]
    out += [{"event": "step", "step": i, "epoch": 1, "loss": 2.0 / i, "accuracy": 0.1 + i / (2 * total),
             "lr": 0.01, "images_per_second": 900.0, "elapsed": 0.1 * i} for i in range(1, n + 1)]
    return out


# ------------------------------------------------------------------ shared payloads

def test_the_same_run_state_gives_the_same_figures_and_the_same_json():
    live_payload.PAYLOADS.clear()
    ev = events(30)
    loss, acc = live_payload.curve_figures("tok", ev, 100, "en", t)
    again = live_payload.curve_figures("tok", list(ev), 100, "en", t)   # another visitor's copy
    assert again[0] is loss and again[1] is acc
    assert plotly.io.to_json(loss, validate=False) == plotly.io.to_json(again[0], validate=False)
    newer = live_payload.curve_figures("tok", events(31), 100, "en", t)   # one more event: rebuilt
    assert newer[0] is not loss and len(newer[0].data[0].x) == len(loss.data[0].x) + 1
    assert live_payload.curve_figures("tok", ev, 100, "zh", t)[0] is not loss   # per language
    assert live_payload.curve_figures("other", ev, 100, "en", t)[0] is not loss  # per run
    assert live_payload.PAYLOADS.hits == 1


def test_feature_maps_and_probabilities_are_kept_per_snapshot():
    maps = np.random.default_rng(0).random((8, 14, 14)).astype(np.float32)
    a = live_payload.maps_grid("tok", 1, "conv1", maps)
    assert live_payload.maps_grid("tok", 1, "conv1", maps) is a
    assert live_payload.maps_grid("tok", 2, "conv1", maps) is not a
    probs = np.full(10, 0.1)
    p = live_payload.probabilities("tok", 1, probs, [str(i) for i in range(10)], 3, "en", t)
    assert live_payload.probabilities("tok", 1, probs, [str(i) for i in range(10)], 3, "en", t) is p
    img = np.arange(4, dtype=np.uint8).reshape(2, 2)
    big = live_payload.probe_image("tok", img, 3)   # PNG bytes, encoded once
    assert live_payload.probe_image("tok", img, 3) is big
    decoded = np.asarray(Image.open(io.BytesIO(big)))
    assert decoded.shape == (6, 6) and (decoded == np.kron(img, np.ones((3, 3), np.uint8))).all()


def test_a_cached_figure_is_serialized_once_and_draws_exactly_as_a_fresh_one():
    """frozen(): st.plotly_chart's to_dict() (deep copy + base64 packing) is made once per figure;
    what reaches the browser is the same JSON as the unfrozen figure's. The feature-map grid is
    a picture: the same PNG a fresh core.figures.training.maps_image makes."""
    from core.figures.training import loss_figure, maps_image

    live_payload.PAYLOADS.clear()
    maps = np.random.default_rng(1).random((8, 14, 14)).astype(np.float32)
    assert live_payload.maps_grid("tok", 1, "conv1", maps) == maps_image(maps)
    loss, _ = live_payload.curve_figures("tok", events(5), 100, "en", t)
    fresh = loss_figure(metrics.curves(events(5)), 100, t)
    assert plotly.io.to_json(loss.to_dict(), validate=False) == plotly.io.to_json(fresh.to_dict(), validate=False)
    assert loss.to_dict() is loss.to_dict() and loss.to_dict()["data"][0]["x"] is not None
    assert live_payload.frozen(None) is None


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_live_runs_curves_are_redrawn_every_few_seconds_and_at_once_at_an_epoch_or_the_end():
    clock = FakeClock()
    curves = live_payload.CurveClock(every=3.0, clock=clock)
    assert curves.shown("tok", events(10), live=True) == 11           # first look: everything
    clock.now += 1.0
    assert curves.shown("tok", events(20), live=True) == 11           # a poll a second later: same figure
    assert curves.shown("other", events(20), live=True) == 21         # per run
    clock.now += 1.4
    assert curves.shown("tok", events(25), live=True) == 11           # 2.4 s on: still the same
    clock.now += 0.3
    assert curves.shown("tok", events(30), live=True) == 31           # a 3 s poll firing early: redrawn
    clock.now += 0.5
    epoch_end = events(35) + [{"event": "epoch", "epoch": 1, "step": 35, "test_loss": 0.5, "test_accuracy": 0.8}]
    assert curves.shown("tok", epoch_end, live=True) == 37            # a new test point is news
    clock.now += 0.5
    assert curves.shown("tok", events(40), live=False) == 41          # over: every event, at once
    assert curves.shown("tok", events(3), live=True) == 4             # fewer events (restarted run)


def test_live_views_of_one_run_share_one_figure_between_redraws():
    """Two visitors a second apart get the very same (cached) figures: an identical message, so
    the browsers redraw nothing; past the refresh they get the new curves."""
    live_payload.PAYLOADS.clear()
    clock = FakeClock()
    old = live_payload.CURVES
    live_payload.CURVES = live_payload.CurveClock(every=3.0, clock=clock)
    try:
        first = live_payload.curve_figures("tok", events(10), 100, "en", t, live=True)
        clock.now += 1.0
        assert live_payload.curve_figures("tok", events(15), 100, "en", t, live=True)[0] is first[0]
        clock.now += 3.0
        later = live_payload.curve_figures("tok", events(20), 100, "en", t, live=True)[0]
        assert len(later.data[0].x) == 20 and len(first[0].data[0].x) == 10
    finally:
        live_payload.CURVES = old


def test_the_curve_clock_is_bounded():
    curves = live_payload.CurveClock(every=3.0, clock=FakeClock(), max_runs=2)
    for run in ("a", "b", "c"):
        curves.shown(run, events(1), live=True)
    assert list(curves._shown) == ["b", "c"]


def test_the_cache_is_bounded_least_recently_used_first_out():
    c = PayloadCache(max_entries=2)
    c.get("a", lambda: 1)
    c.get("b", lambda: 2)
    assert c.get("a", lambda: 0) == 1       # a is now the most recent
    c.get("c", lambda: 3)                   # b goes
    assert len(c) == 2 and c.get("b", lambda: "rebuilt") == "rebuilt"


# ------------------------------------------------------------------ estimates that follow the runs

def test_time_left_never_goes_below_zero_and_prefers_the_runs_own_pace():
    assert time_left(12.0, 100.0, 5.0) == 12.0          # its own pace, once it has steps
    assert time_left(None, 100.0, 30.0) == 70.0         # else predicted minus time had
    assert time_left(None, 100.0, 250.0) == 0.0         # slower than predicted: any moment now
    assert time_left(-3.0, None, 0.0) == 0.0
    assert time_left(None, None, 1.0) is None


def test_the_pace_of_the_running_runs_wins_over_an_older_measurement():
    assert pace_rate(1e9, 2e7) == 2e7
    assert pace_rate(1e9, None) == 1e9
    assert pace_rate(None, None) is None


def test_estimate_against_actual():
    r = estimate_vs_actual(100.0, 110.0, 160.0, (8.0, 50.0))
    assert r == {"estimated_start": 8.0, "actual_start": 10.0, "estimated_finish": 50.0,
                 "actual_finish": 60.0, "finish_error": 10.0}
    waiting = estimate_vs_actual(100.0, None, None, (None, None))
    assert waiting["actual_start"] is None and waiting["finish_error"] is None


def test_a_waiting_run_follows_the_pace_of_the_runs_ahead(data):
    """The manager's rate says a run takes a fraction of a second, but the running run goes far
    slower: the waiting run's estimate follows that pace, and its start is never in the past."""
    gate = threading.Semaphore(0)
    m = JobManager(workers=1, initial_rate=1e15, run_factory=fake_factory(steps=10, step_seconds=0, gate=gate))
    try:
        a = m.start("alice", config(epochs=1), data)
        b = m.start("bob", config(epochs=1), data)
        wait_until(lambda: a.state == jobs.RUNNING, what="alice's run to start")
        s = m.status(b)
        assert s.seconds_to_start is not None and s.seconds_to_start >= 0
        for _ in range(3):
            gate.release()
        wait_until(lambda: a.progress().step == 3, what="three steps")
        wait_until(lambda: m._live_rate([a]) is not None and m._live_rate([a]) < 1e15 / 1000,
                   what="a measurable pace")
        s = m.status(b)
        live = m._live_rate([a])
        # bob's duration at alice's pace (within the time the call took), not at the given rate
        assert s.seconds_to_finish - s.seconds_to_start == pytest.approx(b.work / live, rel=0.5)
        assert s.seconds_to_start >= 0
        for _ in range(40):
            gate.release()
        assert a.wait(60) and b.wait(60)
    finally:
        m.shutdown()


def test_the_estimate_given_at_submit_is_kept_and_reported(data):
    m = JobManager(workers=1, initial_rate=1e9, run_factory=fake_factory(steps=3, step_seconds=0))
    try:
        a = m.start("alice", config(epochs=1), data, nickname="Ada")
        assert a.estimate_at_submit[0] == 0.0 and a.estimate_at_submit[1] is not None
        assert a.wait(60)
        row = next(r for r in m.estimate_report() if r["number"] == a.number and r["nickname"] == "Ada")
        assert row["state"] == jobs.FINISHED
        assert row["estimated_finish"] == a.estimate_at_submit[1]
        assert row["actual_finish"] == pytest.approx(a.ended - a.created)
        assert row["finish_error"] == pytest.approx(row["actual_finish"] - row["estimated_finish"])
    finally:
        m.shutdown()


def test_a_teacher_stop_is_told_apart_from_the_learners_own(data):
    gate = threading.Semaphore(0)
    m = JobManager(workers=2, initial_rate=1e9, run_factory=fake_factory(steps=50, step_seconds=0, gate=gate))
    try:
        a = m.start("alice", config(epochs=1), data)
        b = m.start("bob", config(epochs=1), data)
        wait_until(lambda: a.state == jobs.RUNNING and b.state == jobs.RUNNING, what="both runs to start")
        assert m.teacher_stop(a.id)
        assert m.stop(b.id, "bob")
        for _ in range(200):
            gate.release()
        assert a.wait(60) and b.wait(60)
        assert a.stopped and a.stopped_by_teacher
        assert b.stopped and not b.stopped_by_teacher
        view = m.watch(a.watch_token)
        assert view.stopped_by_teacher
    finally:
        m.shutdown()


# ------------------------------------------------------------------ how often a view polls

def test_a_view_polls_every_second_while_its_run_trains_or_is_next_and_less_behind_others(data):
    """core.jobs.poll_seconds on a real queue: one worker, three runs."""
    gate = threading.Semaphore(0)
    m = JobManager(workers=1, initial_rate=1e9, run_factory=fake_factory(steps=5, step_seconds=0, gate=gate))
    try:
        a, b, c = (m.start(who, config(epochs=1), data) for who in ("alice", "bob", "carol"))
        wait_until(lambda: a.state == jobs.RUNNING, what="alice's run to start")
        every = {j.owner: jobs.poll_seconds(j.state, m.status(j).position) for j in (a, b, c)}
        assert every == {"alice": jobs.LIVE_SECONDS, "bob": jobs.LIVE_SECONDS, "carol": jobs.WAITING_SECONDS}
        assert jobs.LIVE_SECONDS < jobs.WAITING_SECONDS
        for _ in range(15):
            gate.release()
        assert a.wait(60) and b.wait(60) and c.wait(60)
        assert [jobs.poll_seconds(j.state, m.status(j).position) for j in (a, b, c)] == [None] * 3
    finally:
        m.shutdown()


def test_the_next_workers_worth_of_waiting_runs_are_polled_every_second():
    """On two workers, the first two waiting runs may start when the next run ends."""
    assert [jobs.poll_seconds(jobs.QUEUED, pos, workers=2) for pos in (1, 2, 3)] == [
        jobs.LIVE_SECONDS, jobs.LIVE_SECONDS, jobs.WAITING_SECONDS]
    assert jobs.poll_seconds(jobs.QUEUED, 1, workers=0) == jobs.LIVE_SECONDS


@pytest.mark.parametrize("state", [jobs.STARTING, jobs.RUNNING, jobs.STOPPING, jobs.STOPPED])
def test_a_run_that_trains_is_polled_every_second_wherever_the_queue_put_it(state):
    assert jobs.poll_seconds(state, 0) == jobs.LIVE_SECONDS


@pytest.mark.parametrize("state", [jobs.FINISHED, jobs.FAILED, jobs.CANCELLED])
def test_a_run_that_is_over_is_not_polled(state):
    assert jobs.poll_seconds(state, 0) is None


@pytest.mark.parametrize("state", jobs.TRAINING_STATES)
def test_a_live_views_charts_are_polled_every_few_seconds_while_its_run_trains(state):
    assert jobs.chart_poll_seconds(state) == jobs.CHART_SECONDS
    assert jobs.CHART_SECONDS > jobs.LIVE_SECONDS, "the progress line moves more often than the curves"
    assert live_payload.CHART_REFRESH_SECONDS == jobs.CHART_SECONDS, "new curves on every chart poll"


@pytest.mark.parametrize("state", [jobs.QUEUED, jobs.FINISHED, jobs.FAILED, jobs.CANCELLED])
def test_a_runs_charts_are_not_polled_before_it_starts_or_once_it_is_over(state):
    assert jobs.chart_poll_seconds(state) is None
