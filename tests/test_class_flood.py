"""The Class page against a flood (issue 23, round two), through the real app shell with AppTest.

One network (client) started many runs: the teacher cancels every waiting run, or stops
everything of that visitor, picks runs by unique labels, and raises the per-network budgets for a
lesson. Nothing the teacher's browser receives — widget ids and keys, labels, options, values,
the board's table — holds a run id, a watch token or a client id. Runs wait on a gate, so every
state is deterministic; every wait is bounded.
"""
from __future__ import annotations


import pytest
from streamlit.testing.v1 import AppTest

from core import jobs
from core.jobs import JobManager
from tests.fakes import config, gated_class_server, toy_dataset
from tests import helpers
from tests.helpers import wait_until

KEY = "correct horse battery staple"
DATA = toy_dataset(n_train=64, n_test=40)


@pytest.fixture
def server(monkeypatch, tmp_path):
    with gated_class_server(monkeypatch, tmp_path, KEY) as (manager, gate):
        yield manager, gate


def class_page(lang="en") -> AppTest:
    return helpers.class_page(lang)


def unlock(at: AppTest, key: str = KEY) -> AppTest:
    return helpers.unlock(at, key)


def everything_sent(at: AppTest) -> str:
    """Every element and block the browser would receive, as protobuf text (ids, keys, labels,
    options, values, the table's Arrow bytes)."""
    out, stack = [], [at._tree]
    while stack:
        node = stack.pop()
        proto = getattr(node, "proto", None)
        if proto is not None:
            out.append(str(proto))
        stack.extend(getattr(node, "children", {}).values())
    return "\n".join(out)


def flood(manager: JobManager, client: str, n: int, nickname: str | None = None) -> list[jobs.Job]:
    return [manager.start(f"{client}-ws-{i}", config(epochs=1), DATA, nickname=nickname, client=client)
            for i in range(n)]


def test_no_run_id_watch_token_or_client_id_reaches_the_teachers_browser(server):
    manager, gate = server
    runs = flood(manager, "client-one", 3, "Ada") + flood(manager, "client-two", 1, "Bo")
    for _ in range(3):
        gate.release()
    assert runs[0].wait(30), "one finished run: its gallery form (a nickname input) is drawn too"
    at = unlock(class_page())
    at.selectbox(key="class.run_picker.en").set_value(runs[0].serial).run()
    assert at.text_input(key=f"class.gallery_nickname.{runs[0].serial}").value == "Ada"
    sent = everything_sent(at)
    assert "Ada" in sent and "#1" in sent, "the scan sees the page"
    for job in runs:
        assert job.id not in sent and job.watch_token not in sent
    assert "client-one" not in sent and "client-two" not in sent


def test_twin_runs_get_unique_labels_and_the_stop_button_follows_the_pick(server):
    manager, _ = server
    twins = flood(manager, "c", 2)   # same (no) nickname, architecture and second
    twins[1].stop()                  # the waiting twin is cancelled already
    at = unlock(class_page())
    picker = at.selectbox(key="class.run_picker.en")
    labels = list(picker.options)   # what the browser gets: the labels only
    assert len(set(labels)) == len(labels) == 2, labels
    picker.set_value(twins[0].serial).run()
    assert not at.button(key="class.stop").disabled, "the running twin can be stopped"
    at.selectbox(key="class.run_picker.en").set_value(twins[1].serial).run()
    assert at.button(key="class.stop").disabled, "the cancelled twin cannot"


def test_the_teacher_cancels_every_waiting_run_then_stops_one_visitor(server):
    manager, _ = server
    flooder = flood(manager, "flooder", 4)
    learner = flood(manager, "learner", 1, "Bo")[0]
    wait_until(lambda: flooder[0].state != jobs.QUEUED, what="the first run to take the worker")
    at = unlock(class_page())
    assert at.button(key="class.stop_waiting").label == "Cancel all 4 waiting runs"
    visitors = at.selectbox(key="class.visitor_picker.en")
    assert list(visitors.options) == ["visitor 1", "visitor 2"], "most runs first, ids never shown"
    assert at.button(key="class.stop_visitor").label == "Stop all 4 runs of visitor 1"
    at.button(key="class.stop_visitor").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert all(j.stop_event.is_set() or j.state == jobs.CANCELLED for j in flooder)
    assert any("Stopped 4 runs of visitor 1" in s.value for s in at.success)
    # The stopped run frees the worker within milliseconds, so the other visitor's run is next:
    # wait for it to take the worker (asserting "still queued" here would race that hand-over).
    wait_until(lambda: learner.state == jobs.RUNNING, what="the other visitor's run to start")
    assert not learner.stop_event.is_set(), "the other visitor's run was not touched"
    late = flood(manager, "latecomer", 1, "Cy")[0]
    at.run()
    at.button(key="class.stop_waiting").click().run()
    assert late.state == jobs.CANCELLED
    assert learner.state == jobs.RUNNING, "cancelling the waiting runs leaves running ones alone"
    assert any("Cancelled 1 waiting runs" in s.value for s in at.success)


def test_the_teacher_raises_the_budgets_for_a_lesson_and_goes_back(server):
    from app.session import ledger

    at = unlock(class_page())
    at.number_input(key="class.budget.runs_per_client").set_value(35)
    at.number_input(key="class.budget.workspaces_per_hour").set_value(60)
    at.button[[b.label for b in at.button].index("Save budgets")].click().run()
    assert not at.exception, [e.value for e in at.exception]
    b = ledger().budgets()
    assert (b.runs_per_client, b.workspaces_per_hour) == (35, 60)
    assert any("2 budgets changed" in s.value for s in at.success)
    at.button(key="class.budgets_reset").click().run()
    assert ledger().budgets().runs_per_client == 4


def test_a_locked_out_teacher_key_says_how_long_to_wait(server, monkeypatch):
    """After the free attempts every wrong key locks the client out for longer; the page says for
    how long, also in a new session of the same network (the gate's clock is frozen: no wall-clock
    in the test)."""
    import app.session
    from core.teacher_gate import TeacherGate

    gate = TeacherGate(clock=lambda: 1000.0)
    monkeypatch.setattr(app.session, "teacher_gate", lambda: gate)
    at = class_page()
    for _ in range(3):
        unlock(at, "wrong key")
    assert [e.value for e in at.error] == [
        "That is not this server's teacher key; check it with whoever started the server and try again."]
    unlock(at, "wrong key")
    assert [e.value for e in at.error] == ["Too many wrong keys; try again in 2 s."]
    unlock(at)  # even the right key is not compared while locked out
    assert not at.dataframe and [e.value for e in at.error] == ["Too many wrong keys; try again in 2 s."]
    zh = class_page("zh")
    assert [w.value for w in zh.warning] == ["错误的密钥太多；请在 2 秒后再试。"]


def test_nothing_of_the_board_without_the_key(server):
    manager, _ = server
    flood(manager, "c", 1)
    at = class_page()
    assert not at.dataframe and not [b for b in at.button if b.key in ("class.stop_waiting", "class.stop_visitor")]
