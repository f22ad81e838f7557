"""Per-run caps (core.jobs.caps, core.limits.evaluation_batch): a run estimated longer than the
server allows is refused at Start with what to shrink; a run that overruns its estimate is stopped
like a Stop press and keeps its model; an evaluation's batch fits the activation limit."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest

from core import settings
from core.jobs import FINISHED, JobManager
from core.jobs.caps import OVERRUN_REASON, OVERRUN_SENTENCE, GuardedSink, RunCaps, RunTooLong, format_duration
from core.limits import EVAL_BATCH, Limits, activation_bytes, evaluation_batch
from core.models import FLATTEN, conv, linear, pool, summary
from core.train import TrainConfig
from fakes import SPEC, fake_factory, toy_dataset
from helpers import ROOT, wait_until

WIDE = [conv(1300, 1, 1, 0), pool(28), FLATTEN, linear(10)]   # the hostile tester's spec (issue 23)


# --------------------------------------------------------------------------- refused at Start

def test_a_run_estimated_over_the_cap_is_refused_with_what_to_shrink():
    data = toy_dataset()
    config = TrainConfig(spec=[dict(layer) for layer in SPEC], epochs=20)
    work_per_second = 1.5e8          # ≈ 4 min for this run: over a 1-minute cap
    m = JobManager(run_factory=fake_factory(), workers=1, initial_rate=work_per_second)
    m.caps = RunCaps(max_seconds=60)
    with pytest.raises(RunTooLong) as refused:
        m.start("a", config, data)
    e = refused.value
    assert e.limit == 60 and e.seconds > 60
    text = str(e)
    assert "this server allows runs of up to 60 s" in text
    share = 60 / e.seconds
    assert f"{int(20 * share)} epochs instead of 20" in text
    assert "% of the data instead of 100%" in text
    assert "multiply-adds per image instead of" in text
    assert m.all_jobs() == []          # nothing was queued
    ok = m.start("a", TrainConfig(spec=[dict(layer) for layer in SPEC], epochs=1, fraction=0.01), data)
    assert ok.wait(60) and ok.state == FINISHED
    m.shutdown()


def test_durations_read_like_a_person_would_say_them():
    assert [format_duration(s) for s in (12, 600, 31_200)] == ["12 s", "10 min", "8 h 40 min"]


def test_the_default_cap_is_ten_minutes_on_a_class_server_and_none_on_a_laptop():
    assert settings.max_run_seconds({}) is None and RunCaps(None).deadline(100) is None
    assert settings.max_run_seconds({settings.TEACHER_KEY: "k"}) == 600
    assert settings.max_run_seconds({settings.MAX_RUN_SECONDS: "90"}) == 90
    assert settings.backend({settings.TEACHER_KEY: "k"}) == "process"
    assert settings.backend({}) == "local"
    with pytest.raises(settings.SettingsError):
        settings.overrun_factor({settings.RUN_OVERRUN: "0.5"})


# --------------------------------------------------------------------------- stopped when overrunning

class _Sink:
    def __init__(self):
        self.events = []
        self.stop_event = threading.Event()

    def record(self, event, snapshot=None):
        self.events.append(event)


def test_the_watchdog_stops_a_run_once_it_overruns_its_deadline_and_says_why():
    now = [0.0]
    sink = _Sink()
    guarded = GuardedSink(sink, sink.stop_event.set, deadline=100.0, clock=lambda: now[0])
    try:
        guarded.record({"event": "step", "step": 1})
        now[0] = 99.0
        guarded.record({"event": "step", "step": 2})
        assert not sink.stop_event.is_set()
        now[0] = 100.5
        guarded.record({"event": "step", "step": 3})
        assert sink.stop_event.is_set()
        guarded.record({"event": "stopped", "step": 3})
        guarded.record({"event": "done", "stopped": True})
    finally:
        guarded.close()
    assert sink.events[-2]["reason"] == sink.events[-1]["reason"] == OVERRUN_REASON
    assert sink.events[-1]["message"] == OVERRUN_SENTENCE


def test_the_deadline_is_the_estimate_times_the_margin_and_at_least_a_minute_over():
    caps = RunCaps(max_seconds=600, overrun_factor=2.0)
    assert caps.deadline(10) == 70 and caps.deadline(300) == 600 and caps.deadline(None) is None


def test_a_run_that_overruns_is_stopped_like_a_stop_press_and_keeps_its_model():
    gate = threading.Semaphore(0)          # the run takes a step only when the test lets it: never
    m = JobManager(run_factory=fake_factory(gate=gate), workers=1, initial_rate=1e15)
    m.caps = RunCaps(max_seconds=600, overrun_factor=1.0, min_extra_seconds=0.0)
    job = m.start("a", TrainConfig(spec=[dict(layer) for layer in SPEC], epochs=2), toy_dataset())
    assert job.wait(60), "the overrunning run was not stopped"
    m.shutdown()
    assert job.state == FINISHED and job.stopped and job.model is not None
    assert job.metrics()["reason"] == OVERRUN_REASON
    assert [e["event"] for e in job.events()][-2:] == ["stopped", "done"]


# --------------------------------------------------------------------------- evaluation memory

def test_the_evaluation_batch_comes_from_the_activation_limit():
    wide = summary(WIDE)
    batch = evaluation_batch(wide, Limits())
    assert 1 <= batch < EVAL_BATCH
    assert activation_bytes(wide, batch) <= Limits().max_activation_bytes
    assert evaluation_batch(summary(SPEC), Limits()) == EVAL_BATCH       # small models: as before
    assert evaluation_batch(wide, Limits.none()) == EVAL_BATCH


def test_an_evaluation_stays_within_the_activation_limit():
    limit_mb = 256
    env = dict(os.environ, CNN_LAB_MAX_ACTIVATION_MB=str(limit_mb), PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, str(ROOT / "tests" / "eval_memory_probe.py"), "1000"],
                       capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["eval_batch"] < 1000
    # 1,000 images at once would need ≈ 8 GB; in batches that fit the limit the peak stays under it.
    assert out["above_mb"] <= limit_mb, out
