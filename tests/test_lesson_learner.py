"""The learner's side of a class (issue 24), with AppTest: the nickname + PIN given once per
workspace, coming back to one's runs with the class code (right and wrong PIN, both languages),
the Train form opened with the learner's seed and the current assignment's settings, and the
teacher kept off the roster. Fast: no training, no dataset is loaded."""
from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from app import lesson
from core import jobs
from core.jobs import JobManager
from core.lesson.assignments import make_assignment
from core.lesson.recovery import show_code
from tests.fakes import fake_factory

KEY = "correct horse battery staple"
APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")


@pytest.fixture
def server(monkeypatch, tmp_path):
    monkeypatch.setenv("CNN_LAB_TEACHER_KEY", KEY)
    monkeypatch.setenv("CNN_LAB_CHECKPOINT_DIR", str(tmp_path))
    manager = JobManager(workers=1, run_factory=fake_factory(steps=1, step_seconds=0), initial_rate=1e9)
    previous = jobs.set_factory(lambda: manager)
    st.cache_resource.clear()
    yield manager
    manager.shutdown()
    jobs.set_factory(previous)
    st.cache_resource.clear()


def _learner_box() -> None:
    """What the Train page's set-up draws first for a learner in a class (after the shell put
    them on the roster)."""
    import streamlit as st

    from app import lesson, session
    from app.lesson_forms import show_notice
    from pages.train.class_join import class_box

    session.workspace()
    lesson.record_visit()
    show_notice()
    class_box()
    st.text(f"owner={session.owner()}")


def learner(lang: str = "en") -> AppTest:
    at = AppTest.from_function(_learner_box, default_timeout=60)
    at.session_state["lang"] = lang
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def owner_of(at: AppTest) -> str:
    return next(x.value for x in at.text if x.value.startswith("owner=")).removeprefix("owner=")


def has_input(at: AppTest, key: str) -> bool:
    return any(w.key == key for w in at.text_input)


def press(at: AppTest, label: str) -> AppTest:
    return at.button[[b.label for b in at.button].index(label)].click().run()


def join(at: AppTest, nickname: str, pin: str) -> AppTest:
    at.text_input(key="train.class.nickname").input(nickname)
    at.text_input(key="train.class.pin").input(pin)
    press(at, "Join the class" if at.session_state["lang"] == "en" else "加入课堂")
    assert not at.exception, [e.value for e in at.exception]
    return at


def come_back(at: AppTest, code: str, nickname: str, pin: str, lang: str = "en") -> AppTest:
    at.text_input(key="train.class.code").input(code)
    at.text_input(key="train.class.back_nickname").input(nickname)
    at.text_input(key="train.class.back_pin").input(pin)
    press(at, "Come back" if lang == "en" else "找回")
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_learner_gives_a_nickname_and_pin_once(server):
    at = learner()
    assert "You are in a class" in at.markdown[0].value
    join(at, "Ada", "12")
    assert [e.value for e in at.error] == ["A PIN is 4 to 8 digits."]
    assert lesson.store().entry(owner_of(at)).nickname is None, "nothing kept from a refused form"

    join(at, "**Ada** <b>", "2468")
    entry = lesson.store().entry(owner_of(at))
    assert entry.nickname == "Ada b" and entry.has_pin        # cleaned where it is stored
    assert not at.error and not has_input(at, "train.class.pin"), "asked once: the form is gone"
    line = at.markdown[0].value
    assert "Ada b" in line and str(entry.seed) in line and "<b>" not in line
    assert [x.value for x in at.toast] == ["You joined the class as Ada b."]

    other = learner()
    join(other, "ada B", "1357")
    assert [e.value for e in other.error] == ["Someone in this class already uses the nickname ada B; choose another."]

    at.button(key="train.class_change").click().run()     # a new nickname, once more with a PIN
    assert at.text_input(key="train.class.nickname").value == "Ada b"
    at.button(key="train.class_keep").click().run()
    assert not has_input(at, "train.class.pin"), "kept as it was"
    at.button(key="train.class_change").click().run()
    join(at, "Ada Lovelace", "1234")
    assert lesson.store().entry(owner_of(at)).nickname == "Ada Lovelace"


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_coming_back_with_the_class_code(server, lang):
    first = learner(lang)
    join(first, "Bo", "4321")
    code = show_code(lesson.store().lesson().code)

    again = learner(lang)               # the tab was closed: a new session, a new workspace
    assert owner_of(again) != owner_of(first)
    come_back(again, code, "Bo", "1111", lang)
    wrong = {"en": "That nickname, class code and PIN do not match a learner of this lesson.",
             "zh": "昵称、班级代码和 PIN 码与本节课的任何学员都不匹配。"}[lang]
    assert [e.value for e in again.error] == [wrong]
    assert owner_of(again) != owner_of(first)

    come_back(again, code.lower().replace(" ", "-"), "bo", "4321", lang)   # typed loosely
    assert not again.error
    assert owner_of(again) == owner_of(first), "the learner's workspace (runs, models) is back"
    assert len(again.toast) == 1 and "Bo" in again.toast[0].value
    assert not has_input(again, "train.class.pin"), "back as Bo: nothing to join"
    assert [e.nickname for e in lesson.store().roster()] == ["Bo"], "the new tab's unused workspace left"


def test_wrong_pins_make_the_learner_wait_in_one_sentence(server):
    store = lesson.store()
    store.clock = lambda: 1.9e9   # the server's clock stands still: a lock lasts until it moves
    first = learner()
    join(first, "Cy", "5555")
    code = show_code(store.lesson().code)
    again = learner()
    for _ in range(4):   # three free tries, then a delay that grows
        come_back(again, code, "Cy", "0000")
    assert [e.value for e in again.error] == [
        "That nickname, class code and PIN do not match a learner of this lesson; try again in 2 seconds."]
    come_back(again, code, "Cy", "5555")  # locked: even the right PIN is not compared yet
    assert len(again.error) == 1 and again.error[0].value.startswith("Too many wrong tries; wait ")
    assert owner_of(again) != owner_of(first)
    come_back(again, "", "Cy", "5555")
    assert [e.value for e in again.error] == ["Type the class code, your nickname and your PIN."]
    store.clock = lambda: 1.9e9 + 3   # the two seconds have passed
    come_back(again, code, "Cy", "5555")
    assert not again.error and owner_of(again) == owner_of(first)


def _train_form() -> None:
    """The Train form's state as the page opens it in a class (no widgets drawn)."""
    import streamlit as st

    from app import lesson, session
    from pages.train.form import class_defaults, init_form

    session.workspace()
    lesson.record_visit()
    init_form()
    class_defaults(session.owner())
    st.text(f"owner={session.owner()}")


def test_the_train_form_opens_with_the_learners_seed_and_the_assignment(server):
    at = AppTest.from_function(_train_form, default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    seed = lesson.store().entry(owner_of(at)).seed
    assert at.session_state["train.seed"] == seed and seed != 0
    assert at.session_state["train.dataset"] == "mnist"

    lesson.store().add_assignment(make_assignment("Fashion", "", "fashion-mnist", preset="fast", max_epochs=1,
                                                  max_data_share=0.2))
    at.session_state["train.seed"] = 7    # the learner changed their seed: kept
    at.run()
    assert at.session_state["train.dataset"] == "fashion-mnist" and at.session_state["train.preset"] == "fast"
    assert at.session_state["train.epochs"] == 1 and at.session_state["train.fraction"] == 0.1
    assert at.session_state["train.seed"] == 7

    at.session_state["train.epochs"] = 5   # the learner's own change after it opened: not undone
    at.run()
    assert at.session_state["train.epochs"] == 5


def test_the_teacher_is_not_a_learner_on_the_roster(server):
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["lang"] = "en"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(lesson.store().roster()) == 1          # a visitor: on the roster
    at.session_state["app.teacher"] = True            # what the right key sets (app.session.unlock_teacher)
    at.run()
    assert not at.exception and lesson.store().roster() == []
    at.run()
    assert lesson.store().roster() == [], "and stays off it"


def test_the_train_page_in_a_class(server, monkeypatch):
    """The whole set-up tab: the brief, the class box, then the class nickname on the Start row
    (fixed) and a form that fits the assignment, so Start is enabled."""
    import core.data
    from app.ui import cached_dataset
    from tests.fakes import toy_dataset
    from tests.helpers import page_app

    toy = toy_dataset(n_train=300, n_test=60)
    monkeypatch.setattr(core.data, "is_available", lambda name, data_dir=None: True)
    monkeypatch.setattr(core.data, "load_dataset", lambda name="mnist", data_dir=None, progress=True: toy)
    cached_dataset.clear()
    lesson.store().add_assignment(make_assignment("Fashion", "Small & quick", "fashion-mnist",
                                                  max_data_share=0.05))
    at = page_app("pages.train", timeout=90)
    at.session_state["lang"] = "en"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Small &amp; quick" in " ".join(h.proto.body for h in at.get("html"))
    assert at.session_state["train.dataset"] == "fashion-mnist" and at.session_state["train.fraction"] == 0.05
    assert not at.error and not at.button(key="train.start").disabled, "opened within the assignment"
    join(at, "Ada", "2468")
    entry = lesson.store().roster()[0]
    assert entry.nickname == "Ada" and at.session_state["train.seed"] == entry.seed
    row_nick = at.text_input(key="train.nickname")
    assert row_nick.value == "Ada" and row_nick.disabled, "every run carries the class nickname"
    cached_dataset.clear()
