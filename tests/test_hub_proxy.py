"""The class hub's proxy (core.jobs.hub_proxy.HubManager) against the hub's own methods
(core.jobs.class_hub.ClassHub) in one process: a local JobManager with scripted runs behind the
hub, and every call's arguments and answer sent through pickle, as Ray sends them between
processes. What this checks is the proxy's side of the boundary — live views fed incrementally
(only the events after the count a server holds cross), a restarted run's history sent again from
0, refusals raised as themselves, owner checks, models as checkpoint bytes. The real transport
(a Ray cluster, two app servers, the hub's restart) is tests/test_two_servers.py."""
from __future__ import annotations

import pickle
import threading
from types import SimpleNamespace

import pytest

from core.jobs import FAILED, FINISHED, JobLimitError, JobManager
from core.jobs.class_hub import ClassHub
from core.jobs import hub_proxy
from core.jobs.hub_proxy import HubManager
from core.train_config import ConfigError
from tests.fakes import FakeRun, config, toy_dataset
from tests.helpers import wait_until

TOY = toy_dataset(n_train=120, n_test=40)


class TaskError(Exception):
    """What ray.get raises when the actor's method raised: the original exception as `cause`."""

    def __init__(self, cause):
        super().__init__(str(cause))
        self.cause = cause


class Wire:
    """The hub's handle as Ray gives it (`hub.method.remote(*args)`, then `ray.get(ref)`), with
    arguments and answers pickled both ways; keeps each answer (`sent`)."""

    exceptions = SimpleNamespace(RayTaskError=TaskError, RayError=type("RayError", (Exception,), {}))

    def __init__(self, hub: ClassHub):
        self.hub, self.sent = hub, []

    def __getattr__(self, method):
        def remote(*args):
            args = pickle.loads(pickle.dumps(args))
            try:
                answer = getattr(self.hub, method)(*args)
            except Exception as e:  # noqa: BLE001 — travels back as the task's error
                return TaskError(pickle.loads(pickle.dumps(e)))
            raw = pickle.dumps(answer)
            self.sent.append((method, answer))
            return pickle.loads(raw)
        return SimpleNamespace(remote=remote)

    def get(self, ref, timeout=None):
        if isinstance(ref, TaskError):
            raise ref
        return ref


@pytest.fixture
def hub():
    gate = threading.Semaphore(0)   # a run takes one step per release

    def run_factory(cfg, data, stop_event):
        return FakeRun(cfg, data, stop_event, steps=6, step_seconds=0.0, gate=gate)

    manager = JobManager(run_factory=run_factory, workers=1, initial_rate=1e9, per_owner=1)
    inner = ClassHub(manager=manager)
    inner._datasets["mnist"] = TOY          # the hub's copy of the named dataset (toy here)

    def proxy():
        server = HubManager(hub=wire, ray=wire)
        server._datasets["mnist"] = TOY     # each app server's own copy
        return server

    wire = Wire(inner)
    yield SimpleNamespace(wire=wire, gate=gate, manager=manager, proxy=proxy)
    gate.release(10_000)
    manager.shutdown(timeout=10)


def test_a_run_started_on_one_server_is_watched_incrementally_on_another(hub, monkeypatch):
    monkeypatch.setattr(hub_proxy, "SYNC_SECONDS", 0.0)   # every tick asks (no wait between them)
    a, b = hub.proxy(), hub.proxy()          # two app servers, one hub
    job = a.start("alice", config(epochs=2), TOY, nickname="Al")
    assert job.queued or job.active and job.number == 1 and a.max_epochs == hub.manager.max_epochs
    view = b.watch(job.watch_token)
    assert view is not None and b.watch("not-a-token") is None
    assert b.get(job.id, "mallory") is None, "a run id is only its owner's key"
    seen = 0
    for steps in range(1, 5):                # four steps, each polled like a live view's tick
        hub.gate.release()                   # the hub's run then holds "start" and `steps` steps
        wait_until(lambda: len(hub.manager.get(job.id, "alice").events()) >= steps + 1, what="a step")
        hub.wire.sent.clear()
        before = seen
        events = view.events(seen)
        seen += len(events)
        assert events and view.state in ("running", "starting")
        answers = [a for m, a in hub.wire.sent if m == "sync"]
        assert len(answers) == 1, "one call per tick"
        _, first, sent_events, _, _ = answers[0]
        assert first == before and sent_events == events, \
            "a tick carries the events after the ones this server holds, not the whole history"
    assert seen == len(hub.manager.get(job.id, "alice").events()) == 5
    # the teacher on B stops it; A's learner sees it stopped
    assert b.teacher_stop(job.id)
    hub.gate.release(10_000)
    assert a.get(job.id, "alice").wait(30)
    mine = a.get(job.id, "alice")
    assert mine.state == FINISHED and mine.stopped and mine.stopped_by_teacher
    assert [e["event"] for e in mine.events()] == [e["event"] for e in hub.manager.get(job.id, "alice").events()]
    assert [s.epoch for s in mine.snapshots()] == [s.epoch for s in hub.manager.get(job.id, "alice").snapshots()]
    # the model crosses as checkpoint bytes and predicts as the hub's does
    x = TOY.normalized(TOY.test_images[:5])
    assert (mine.model(x).argmax(1) == hub.manager.get(job.id, "alice").model(x).argmax(1)).all()
    assert mine.result is not None and mine.metrics()["test_accuracy"] == mine.result.accuracy
    # a finished run, fully copied, is not asked about again
    hub.wire.sent.clear()
    mine.events(), mine.snapshots(), mine.progress()
    assert not [m for m, _ in hub.wire.sent if m == "sync"]
    # the teacher's board and lists are the hub's
    assert [r.job_id for r in b.board()] == [job.id] and [j.id for j in b.jobs("alice")] == [job.id]


def test_refusals_come_back_as_themselves(hub):
    a, b = hub.proxy(), hub.proxy()
    a.start("alice", config(epochs=1), TOY)
    with pytest.raises(JobLimitError) as refused:
        b.start("alice", config(epochs=1), TOY)   # per_owner=1, over both servers
    assert refused.value.own, "the refusal's facts crossed too"
    with pytest.raises(ConfigError, match="at most"):
        b.start("bob", config(epochs=hub.manager.max_epochs + 1), TOY)


def test_a_restarted_run_is_sent_again_from_its_start(hub):
    a, b = hub.proxy(), hub.proxy()
    job = a.start("alice", config(epochs=1), TOY)
    hub.gate.release(10_000)
    assert a.get(job.id, "alice").wait(30)
    held = b.get(job.id, "alice")
    assert held.state == FINISHED and len(held.events()) > 3
    # as a restart with resume off leaves it: interrupted, then its owner's button starts it over
    inner = hub.manager.get(job.id, "alice")
    inner.state, inner.interrupted, inner.error = FAILED, True, "interrupted"
    held._sync(force=True)
    assert held.interrupted and held.state == FAILED
    assert b.restart(job.id, "alice")
    assert held.wait(30) and held.state == FINISHED and not held.interrupted
    assert [e["event"] for e in held.events()] == [e["event"] for e in inner.events()], \
        "the old history was replaced, not appended to"
