"""The lesson on the Class page (issue 24), with AppTest: the assignment form, the roster from
real (fake-trained) runs, the export, and the projector view, which must reveal no secret.

The server's job manager trains tests/fakes.py FakeRuns (core.jobs.set_factory); a gate holds
runs between steps so states are deterministic. Every wait is bounded (tests.helpers.wait_until).
"""
from __future__ import annotations

import csv
import io

import pytest

from app import lesson
from core.lesson.assignments import make_assignment
from core.lesson.export import COLUMNS
from core.lesson.recovery import RecoveryError
from tests.fakes import config, gated_class_server, toy_dataset
from tests.helpers import page_app, wait_until

KEY = "correct horse battery staple"
PAGE = "pages.class_room"


@pytest.fixture
def server(monkeypatch, tmp_path):
    with gated_class_server(monkeypatch, tmp_path, KEY) as (manager, gate):
        yield manager, gate


def teacher_page(lang="en", projector=False):
    at = page_app(PAGE, timeout=90)
    at.session_state["lang"] = lang
    at.session_state["app.teacher"] = True     # what app.session.unlock_teacher sets for the right key
    if projector:
        at.query_params["view"] = "projector"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_locked_without_the_key(server):
    at = page_app(PAGE, timeout=90)
    at.run()
    assert not at.exception
    assert at.text_input(key="class.key") and not at.dataframe and not at.metric


def test_the_assignment_form_sets_the_current_assignment(server):
    at = teacher_page()
    assert at.metric[0].label == "Class code" and len(at.metric[0].value.replace(" ", "")) == 6
    at.text_input(key="class.lesson_title").input("Beat 98 percent")
    at.text_area(key="class.lesson_brief").input("Use *two* conv layers <b>only</b>.")
    at.selectbox(key="class.lesson_dataset").set_value("fashion-mnist")
    at.selectbox(key="class.lesson_preset").set_value("fast")
    at.number_input(key="class.lesson_epochs").set_value(3)
    at.number_input(key="class.lesson_share").set_value(50)
    at.button[[b.label for b in at.button].index("Set this assignment")].click().run()
    assert not at.exception, [e.value for e in at.exception]
    current = lesson.store().current_assignment()
    assert current is not None and current.title == "Beat 98 percent" and current.dataset == "fashion-mnist"
    assert current.preset == "fast" and current.bounds.max_epochs == 3 and current.bounds.max_data_share == 0.5
    assert current.brief == "Use *two* conv layers <b>only</b>."
    assert any("is now the current assignment" in s.value for s in at.success)
    picker = [s for s in at.selectbox if s.label == "Current assignment"][0]
    assert picker.value == current.id

    # "New exercise": a new round without a current assignment.
    at.button(key="class.lesson_round").click().run()
    assert lesson.store().current_assignment() is None and lesson.store().lesson().round == 2


def learners(manager, gate, n=3):
    """n learners on the roster: the first trains (held by the gate), the second waits, the
    third only opened the app."""
    store = lesson.store()
    data = toy_dataset(n_train=64, n_test=40)
    names = ["Ada", "Bo", "Cy"][:n]
    for i, name in enumerate(names):
        store.seen(f"ws-{name}")
        store.join(f"ws-{name}", name, None, None)
    running = manager.start("ws-Ada", config(epochs=1), data, nickname="Ada")
    waiting = manager.start("ws-Bo", config(epochs=1), data, nickname="Bo")
    wait_until(lambda: running.state == "running", what="Ada's run to start")
    return running, waiting


def roster_rows(at) -> dict[str, tuple]:
    df = [d for d in at.dataframe if "Learner" in d.value.columns or "nickname" in d.value.columns][0].value
    return {row["nickname"]: row for _, row in df.iterrows()}


def test_roster_shows_each_learner_state_and_a_watch_link_but_no_ids(server):
    manager, gate = server
    running, waiting = learners(manager, gate)
    at = teacher_page()
    rows = roster_rows(at)
    assert rows["Ada"]["state"] == "Training" and rows["Bo"]["state"] == "Waiting"
    assert rows["Cy"]["state"] == "Not started"
    assert rows["Bo"]["detail"] == "position 1 in the queue"
    assert rows["Ada"]["watch"].endswith(f"/train?watch={running.watch_token}")
    assert rows["Cy"]["watch"] == "", "a blank cell, never \"None\""
    shown = " ".join(str(v) for row in rows.values() for v in row.values)
    assert "ws-" not in shown and running.id not in shown and waiting.id not in shown
    sent = every_text(at)   # the scan the projector test relies on does see the table's cells
    assert running.watch_token in sent and running.id not in sent and "ws-Ada" not in sent

    for _ in range(20):
        gate.release()
    wait_until(lambda: running.state == "finished" and waiting.state == "finished", what="both runs to finish")
    at.run()
    rows = roster_rows(at)
    assert rows["Ada"]["state"] == "Finished" and "%" in rows["Ada"]["detail"]


def test_roster_in_chinese(server):
    manager, gate = server
    learners(manager, gate)
    at = teacher_page("zh")
    df = at.dataframe[0].value
    assert list(df.columns) == ["nickname", "state", "detail", "seed", "seen", "watch"]
    rows = roster_rows(at)
    assert (rows["Ada"]["state"], rows["Bo"]["state"], rows["Cy"]["state"]) == ("训练中", "排队中", "未开始")
    assert rows["Bo"]["detail"] == "队列第 1 位"
    assert at.metric[0].label == "班级码"


def test_the_teacher_lets_locked_out_learners_try_again(server):
    """A learner told "wait …, or ask the teacher" after wrong PINs: the Class page counts the
    locks and one button lifts them."""
    store = lesson.store()
    for _ in range(4):
        with pytest.raises(RecoveryError):
            store.recover("Ada", store.lesson().code, "0000", client="school")
    at = teacher_page()
    assert any("2 come-back locks" in w.value for w in at.warning)
    at.button(key="class.clear_lockouts").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Lifted 2 come-back locks" in s.value for s in at.success)
    assert store.locked_out() == 0 and not any("come-back locks" in w.value for w in at.warning)


def test_export_csv_lists_every_learner_with_the_columns(server):
    manager, gate = server
    running, waiting = learners(manager, gate)
    at = teacher_page()
    assert [b.label for b in at.get("download_button")] == ["Results (CSV)", "Results (JSON)", "Gallery models (zip)"]
    from core.lesson.export import export_rows, roster_csv
    from core.lesson.views import sync_runs

    store = lesson.store()
    sync_runs(store, manager)
    text = roster_csv(export_rows(store.runs(all_rounds=True), store.assignments(all_rounds=True), store.roster()))
    table = list(csv.reader(io.StringIO(text)))
    assert tuple(table[0]) == COLUMNS
    assert sorted(r[0] for r in table[1:]) == ["Ada", "Bo", "Cy"]
    assert running.id not in text and "ws-" not in text


def every_text(at) -> str:
    """Everything the page sends to the browser: each element's protobuf, as text (values,
    bodies, labels, keys, help, the chart's JSON, the dataframe's Arrow bytes)."""
    out = []

    def walk(node):
        proto = getattr(node, "proto", None)
        if proto is not None:
            out.append(str(proto))
            out.append(proto.SerializeToString().decode("latin-1"))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return "\n".join(out)


def test_projector_shows_brief_code_leaderboard_and_race_and_no_secret(server):
    manager, gate = server
    store = lesson.store()
    brief = "Use <script>alert(1)</script> **two** conv layers & at most 2 epochs."
    store.add_assignment(make_assignment("Race", brief, "mnist", max_epochs=2))
    data = toy_dataset(n_train=64, n_test=40)
    jobs_ = []
    for name in ("Ada", "Bo", "Cy"):
        store.seen(f"ws-{name}")
        job = manager.start(f"ws-{name}", config(epochs=1), data, nickname=name)
        assert lesson.record_start(job, name) is None
        jobs_.append(job)
    store.set_featured("Bo", True)
    for _ in range(40):
        gate.release()
    wait_until(lambda: all(j.state == "finished" for j in jobs_), what="three runs to finish")

    at = teacher_page(projector=True)
    html = " ".join(h.proto.body for h in at.get("html"))
    assert "&lt;script&gt;alert(1)&lt;/script&gt; **two** conv layers &amp; at most 2 epochs." in html
    assert "<script>" not in html
    assert at.metric[0].value == store.lesson().code[:3] + " " + store.lesson().code[3:]
    board = at.dataframe[0].value
    assert sorted(board["Learner"]) == ["Ada", "Cy", "★ Bo"] and list(board["#"])[0] == 1
    chart = at.get("plotly_chart")[0].proto.spec
    assert all(name in chart for name in ("Ada", "Bo", "Cy"))
    assert not at.selectbox and not at.text_input, "no controls of the Class page on the shared screen"

    sent = every_text(at)
    secrets_ = [j.id for j in jobs_] + [j.watch_token for j in jobs_] + [f"ws-{n}" for n in ("Ada", "Bo", "Cy")]
    secrets_ += [e.workspace_id for e in store.roster()]
    leaked = [s for s in secrets_ if s in sent]
    assert not leaked, f"the projector sent {leaked}"
    assert "watch=" not in sent and "ws=" not in sent


def test_projector_in_chinese_without_an_assignment(server):
    at = teacher_page("zh", projector=True)
    assert "还没有布置作业" in " ".join(h.proto.body for h in at.get("html"))
    assert at.metric[0].label == "班级码"


def test_projector_needs_the_key(server):
    at = page_app(PAGE, timeout=90)
    at.query_params["view"] = "projector"
    at.run()
    assert not at.exception and not at.metric and not at.get("plotly_chart")


def _train_side(dataset: str, epochs: int) -> None:
    """What pages/train/setup.py calls: the brief on top, the bound violations as problems."""
    from pages.train.assignment import assignment_brief, assignment_problems
    import streamlit as st

    from tests.fakes import config as make_config

    assignment_brief()
    for p in assignment_problems(make_config(dataset=dataset, epochs=epochs)):
        st.error(p, icon="✋")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_train_side_shows_the_brief_and_every_violation(server, lang):
    from streamlit.testing.v1 import AppTest

    store = lesson.store()
    store.add_assignment(make_assignment("Small", "Keep it <small> & quick", "fashion-mnist", max_epochs=2))
    at = AppTest.from_function(_train_side, args=("mnist", 5), default_timeout=90)
    at.session_state["lang"] = lang
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Keep it &lt;small&gt; &amp; quick" in " ".join(h.proto.body for h in at.get("html"))
    errors = [e.value for e in at.error]
    if lang == "en":
        assert errors == ["This assignment trains on fashion-mnist; switch the dataset to fashion-mnist.",
                          "5 epochs is more than this assignment allows (2 at most)."]
    else:
        assert len(errors) == 2 and "fashion-mnist" in errors[0] and "5" in errors[1] and "2" in errors[1]
    at2 = AppTest.from_function(_train_side, args=("fashion-mnist", 2), default_timeout=90)
    at2.run()
    assert not at2.exception and not at2.error, "a config within the bounds: nothing in the way of Start"


def test_without_a_class_the_train_side_shows_nothing(monkeypatch, tmp_path):
    from streamlit.testing.v1 import AppTest

    monkeypatch.delenv("CNN_LAB_TEACHER_KEY", raising=False)
    monkeypatch.setenv("CNN_LAB_CHECKPOINT_DIR", str(tmp_path))
    at = AppTest.from_function(_train_side, args=("mnist", 5), default_timeout=90)
    at.run()
    assert not at.exception and not at.error and not at.get("html")


def test_opening_the_app_in_a_class_puts_the_visitor_on_the_roster(server):
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    app = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")
    at = AppTest.from_file(app, default_timeout=90)
    at.session_state["lang"] = "en"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    roster = lesson.store().roster()
    assert len(roster) == 1 and roster[0].nickname is None
    at.run()
    assert len(lesson.store().roster()) == 1, "the same visitor is one learner"


def test_a_taken_nickname_still_records_the_run(server):
    manager, gate = server
    store = lesson.store()
    store.seen("ws-1")
    store.join("ws-1", "Ada", None, None)
    a = store.add_assignment(make_assignment("One", "", "mnist"))
    job = manager.start("ws-2", config(epochs=1), toy_dataset(n_train=64, n_test=40), nickname="ada")
    problem = lesson.record_start(job, "ada")
    assert problem is not None and problem.code == "nickname_taken"
    assert store.run(job.id).assignment_id == a.id and store.entry("ws-2").nickname is None
