"""The Class page (teacher's view) through the real app shell, with AppTest.

The server's job manager is one with the scripted FakeRun of tests/fakes.py, chosen through
core.jobs.set_factory (a gate
holds the first run on a worker until the test lets it go), so two visitors' runs are on the board
deterministically: one training, one waiting. Every wait is bounded by a deadline.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core import gallery
from tests.fakes import config, gated_class_server, toy_dataset
from tests import helpers
from tests.helpers import open_page, wait_until

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")
KEY = "correct horse battery staple"


@pytest.fixture
def server(monkeypatch, tmp_path):
    """A class server (tests/fakes.gated_class_server) and its checkpoint folder."""
    with gated_class_server(monkeypatch, tmp_path, KEY) as (manager, gate):
        yield manager, gate, tmp_path


def class_page(lang="en") -> AppTest:
    return helpers.class_page(lang)


def unlock(at: AppTest, key: str = KEY) -> AppTest:
    return helpers.unlock(at, key)


def board_text(at: AppTest) -> str:
    # every table on the page: the lesson's roster comes first, then the run board
    return " ".join(str(v) for d in at.dataframe for v in d.value.to_numpy().ravel())


def test_not_listed_without_a_teacher_key(monkeypatch):
    monkeypatch.delenv("CNN_LAB_TEACHER_KEY", raising=False)
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["lang"] = "en"
    at.run()
    assert not at.exception
    open_page(at, "class").run()  # not a registered page: a link to /class opens the home page
    assert not at.exception
    assert "How a CNN" in " ".join(s.value for s in at.subheader) and not at.text_input


def test_locked_until_the_key_is_typed(server):
    at = class_page()
    assert at.title[0].value == "🧑‍🏫 Class"
    assert not at.dataframe, "nothing of the board before unlocking"
    unlock(at, "wrong key")
    assert [e.value for e in at.error] == [
        "That is not this server's teacher key; check it with whoever started the server and try again."]
    assert not at.dataframe
    unlock(at)
    assert not at.error
    assert any("No runs yet" in i.value for i in at.info)
    assert any("No learner has opened the app yet" in i.value for i in at.info), "the teacher is no learner"


def test_board_lists_two_visitors_runs_and_the_teacher_stops_one(server):
    manager, gate, _ = server
    data = toy_dataset(n_train=64, n_test=40)
    first = manager.start("workspace-a", config(epochs=1), data, nickname="Ada")
    second = manager.start("workspace-b", config(epochs=1), data, nickname="Bo")
    wait_until(lambda: first.state == "running", what="the first run to start")

    at = unlock(class_page())
    text = board_text(at)
    assert "Ada" in text and "Bo" in text
    assert "🏃 training" in text and "⏳ waiting" in text
    assert first.id not in str(at.selectbox[0].options), "run ids never reach the browser"

    # Stop Ada's run from the teacher's page: it is training, and not the teacher's own.
    picker = at.selectbox(key="class.run_picker.en")
    picker.set_value(first.serial).run()
    at.button(key="class.stop").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert first.stop_event.is_set()
    assert first.wait(30), "the stopped run ends"
    assert first.stopped
    assert any("Asked the run of Ada to stop" in s.value for s in at.success)
    wait_until(lambda: second.state == "running", what="the waiting run to take the worker")
    at.run()
    assert "✅ finished" in board_text(at)


def test_a_finished_run_goes_to_the_gallery_then_is_featured_and_removed(server):
    manager, gate, root = server
    data = toy_dataset(n_train=64, n_test=40)
    job = manager.start("workspace-a", config(epochs=1), data, nickname="Ada")
    for _ in range(3):
        gate.release()
    assert job.wait(30)

    at = unlock(class_page("zh"))
    assert "✅ 已完成" in board_text(at)
    at.selectbox(key="class.run_picker.zh").set_value(job.serial).run()
    at.text_input(key=f"class.gallery_nickname.{job.serial}").input("Ada Lovelace").run()
    at.button(key="class.add").click().run()
    assert not at.exception, [e.value for e in at.exception]
    entries = gallery.list_entries()
    assert [(e.nickname, e.publisher) for e in entries] == [("Ada Lovelace", "teacher")]
    assert (root / "gallery" / f"{entries[0].id}.safetensors").is_file()
    assert any("已在班级作品廊中" in s.value for s in at.success)
    assert any("已把 Ada Lovelace 的模型加入班级作品廊" in s.value for s in at.success)

    at.button(key="class.feature.0").click().run()
    assert gallery.list_entries()[0].featured
    at.button(key="class.remove.0").click().run()
    assert gallery.list_entries() == []
    assert any("Ada Lovelace" in s.value for s in at.success), "the removal is confirmed"
    assert not at.exception, [e.value for e in at.exception]
