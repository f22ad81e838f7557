"""Runs per client (issue 23, round two): one person with many workspaces is held to their share.

The flood of the issue: one client opens 64 sessions (64 workspaces, all free) and presses Start in
each; the queue (60) was full in 86 s and a real learner was told the queue is full. Here the job
manager gets a client id with each start (core.jobs.client_runs): the client is refused past its
runs and its share of the queue, before anything is allocated, while another client still lines
up. Runs are held on the one worker by a gate, so every count is deterministic.
"""
from __future__ import annotations

import threading

import pytest
import streamlit as st

import core.data
import core.jobs
from app.session import job_manager
from app.ui import cached_dataset
from core import settings
from core.budgets import Budgets, ClientLedger
from core.jobs import JobLimitError, JobManager
from core.jobs.client_runs import ClientLimitError, ClientRunLimits, refusal
from tests.fakes import config, fake_factory, fake_manager_factory, FakeRun, toy_dataset
from tests.helpers import page_app, wait_until

DATA = toy_dataset(n_train=64, n_test=40)


@pytest.fixture
def held():
    """A manager with one worker whose runs wait on a gate, a 60-run queue and 1 run per workspace
    (the hosted defaults)."""
    gate = threading.Semaphore(0)
    m = JobManager(workers=1, run_factory=fake_factory(steps=3, step_seconds=0, gate=gate), initial_rate=1e9,
                   per_owner=1, max_waiting=60)
    yield m
    for _ in range(1000):
        gate.release()
    m.shutdown()


def flood(m: JobManager, client: str, sessions: int, budgets: Budgets | None = None,
          first: int = 0) -> tuple[list, list]:
    started, refused = [], []
    for i in range(first, first + sessions):
        try:
            started.append(m.start(f"{client}-ws-{i}", config(epochs=20, fraction=1.0), DATA, client=client,
                                   budgets=budgets))
        except ClientLimitError as e:
            refused.append(e)
    return started, refused


def test_one_client_with_64_workspaces_is_held_and_a_learner_still_lines_up(held):
    started, refused = flood(held, "flooder", 64)
    assert len(started) == Budgets().runs_per_client == 4
    assert len(refused) == 60 and all(e.code == "client_runs" and not e.own for e in refused)
    assert isinstance(refused[0], JobLimitError), "the page's existing handler catches it"
    assert refused[0].details == {"count": 4, "limit": 4}
    assert len(held.active()) == 4, "refused starts allocated nothing"
    learner = held.start("learner-ws", config(epochs=1), DATA, client="learner")
    assert learner.queued and held.status(learner).position == 1, "round robin: next in line, not 4th"


def test_a_learner_behind_a_flood_trains_next(held):
    """Workers take waiting runs round robin over clients: the flooder's first run holds the
    worker, the learner's run is taken before the flooder's other three."""
    flooder, _ = flood(held, "flooder", 4)
    wait_until(lambda: flooder[0].state != core.jobs.QUEUED, what="the first run to take the worker")
    learner = held.start("learner-ws", config(epochs=1), DATA, client="learner")
    assert [r.job_id for r in held.board() if r.state == core.jobs.QUEUED][0] == learner.id
    held.stop(flooder[0].id, flooder[0].owner)
    assert flooder[0].wait(30)
    wait_until(lambda: learner.state != core.jobs.QUEUED, what="the learner's run to take the worker")
    assert all(j.queued for j in flooder[1:])


def test_fair_order_is_round_robin_over_clients_and_first_come_without_clients():
    from core.jobs.client_runs import fair_order

    J = lambda name, client: type("J", (), {"name": name, "client": client})()  # noqa: E731
    waiting = [J("a2", "a"), J("a3", "a"), J("b1", "b"), J("a4", "a"), J("c1", "c"), J("b2", "b")]
    busy = [J("a1", "a")]
    assert [j.name for j in fair_order(waiting, busy)] == ["b1", "c1", "a2", "b2", "a3", "a4"]
    plain = [J(str(i), None) for i in range(5)]
    assert fair_order(plain, []) == plain


def test_the_queue_share_holds_a_client_whose_run_budget_was_raised(held):
    """The teacher raised runs per client for a class behind one NAT: the client still gets at
    most its share of the queue (25 % of 8 -> 2 waiting), and the others keep their places."""
    held.max_waiting = 8
    raised = Budgets(runs_per_client=100)
    # The first run takes the worker before the rest arrive (as in a class, where starts are seconds
    # apart); flooding all ten at once would race the worker's pick-up and count it as waiting.
    first, _ = flood(held, "school", 1, raised)
    wait_until(lambda: first[0].state != core.jobs.QUEUED, what="the first run to take the worker")
    more, refused = flood(held, "school", 9, raised, first=1)
    started = first + more
    waiting = [j for j in started if j.queued]
    assert len(waiting) == 2 and len(started) == 3
    assert refused and refused[-1].code == "client_queue" and refused[-1].details["limit"] == 2
    others = [held.start(f"other-{i}", config(epochs=1), DATA, client=f"other-{i}") for i in range(6)]
    assert all(j.queued for j in others), "six other networks fill the rest of the queue"
    with pytest.raises(JobLimitError, match="queue on this server is full"):
        held.start("late", config(epochs=1), DATA, client="late")


@pytest.mark.parametrize("share, queue, cap", [(25, 60, 15), (25, 4, 2), (25, 1, 1), (1, 60, 2), (100, 60, 60),
                                                (250, 10, 10)])
def test_the_share_of_the_queue_is_at_least_two_and_never_the_whole_queue_unless_asked(share, queue, cap):
    assert ClientRunLimits(4, share).waiting_cap(queue) == cap


def test_no_client_is_never_refused_by_client_budgets():
    """The command line (and tests) start runs with no client: only the server's limits apply."""
    jobs = [type("J", (), {"client": None, "active": True, "state": "queued"})() for _ in range(50)]
    assert refusal(None, jobs, ClientRunLimits(1, 1), 60) is None
    assert refusal("c", jobs, ClientRunLimits(1, 1), 60) is None, "other clients' runs do not count"


def test_the_teacher_stops_all_waiting_runs_and_everything_of_one_client(held):
    started, _ = flood(held, "flooder", 4)
    learner = held.start("learner-ws", config(epochs=1), DATA, client="learner")
    wait_until(lambda: started[0].state != core.jobs.QUEUED, what="the first run to take the worker")
    assert held.stop_client("flooder") == 4
    assert all(j.state == core.jobs.CANCELLED for j in started[1:]) and started[0].stop_event.is_set()
    assert learner.queued, "stopping one client leaves the others alone"
    assert held.stop_waiting() == 1 and learner.state == core.jobs.CANCELLED
    assert held.stop_client("") == 0 and held.stop_client("nobody") == 0


def test_board_rows_have_unique_numbers_and_their_client(held):
    a = held.start("ws-a", config(epochs=1), DATA, nickname="Ada", client="c1")
    b = held.start("ws-b", config(epochs=1), DATA, nickname="Ada", client="c1")
    rows = {r.job_id: r for r in held.board()}
    assert rows[a.id].serial != rows[b.id].serial and {rows[a.id].client, rows[b.id].client} == {"c1"}


def test_run_budgets_are_settings_and_ledger_budgets(monkeypatch, tmp_path):
    monkeypatch.setenv("CNN_LAB_RUNS_PER_CLIENT", "30")
    monkeypatch.setenv("CNN_LAB_QUEUE_SHARE_PERCENT", "50")
    b = Budgets.from_env()
    assert (b.runs_per_client, b.queue_share_percent) == (30, 50)
    monkeypatch.setenv("CNN_LAB_RUNS_PER_CLIENT", "lots")
    with pytest.raises(settings.SettingsError, match="CNN_LAB_RUNS_PER_CLIENT"):
        settings.check()
    monkeypatch.delenv("CNN_LAB_RUNS_PER_CLIENT")
    ledger = ClientLedger(tmp_path, budgets=Budgets())
    assert ledger.set_budget("runs_per_client", 35).runs_per_client == 35
    assert ClientLedger(tmp_path, budgets=Budgets()).budgets().runs_per_client == 35, "shared and kept"


# --------------------------------------------------------------------------- through the page

@pytest.fixture
def train_page(monkeypatch, tmp_path):
    monkeypatch.setattr(core.data, "is_available", lambda name, data_dir=None: name == "mnist")
    monkeypatch.setattr(core.data, "load_dataset", lambda name="mnist", data_dir=None, progress=True: DATA)
    gate = threading.Semaphore(0)

    def held_run(cfg, data, stop_event):
        return FakeRun(cfg, data, stop_event, steps=3, step_seconds=0, gate=gate)

    previous = core.jobs.set_factory(fake_manager_factory(held_run))
    monkeypatch.setenv("CNN_LAB_CHECKPOINT_DIR", str(tmp_path))
    monkeypatch.setenv("CNN_LAB_TRAINING_WORKERS", "1")
    monkeypatch.setenv("CNN_LAB_RUNS_PER_CLIENT", "2")
    st.cache_resource.clear()
    yield
    for _ in range(100):
        gate.release()
    job_manager().shutdown()
    cached_dataset.clear()
    core.jobs.set_factory(previous)
    st.cache_resource.clear()


def press_start(lang: str = "en"):
    at = page_app("pages.train")
    at.session_state["lang"] = lang
    at.run()
    at.button(key="train.start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize("lang, sentence", [
    ("en", "Your network already has 2 runs waiting or training, the most this server allows for one network"),
    ("zh", "你的网络已有 2 个训练在排队或进行中")])
def test_a_third_workspace_of_one_network_is_told_in_one_translated_sentence(train_page, lang, sentence):
    """Three sessions (three workspaces) from one address, runs per client 2: the third Start is
    refused with one sentence in the visitor's language, and nothing was queued for it."""
    press_start(), press_start()
    assert len(job_manager().active()) == 2
    third = press_start(lang)
    said = " ".join(w.value for w in third.warning)
    assert sentence in said and "Traceback" not in said
    assert len(job_manager().active()) == 2
