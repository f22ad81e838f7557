"""A lesson in a real browser: the teacher unlocks the Class page, sets an assignment, three
learners open the Train page and join with a nickname and PIN, and appear on the roster (the
teacher does not); one closes the tab and comes back with the class code; the projector view
shows the brief and the class code. Screenshots at 1280 px go to test-artifacts/screenshots/
(the README's: the Class page, the projector, a learner's set-up)."""
from __future__ import annotations

import pytest

from bench.server import streamlit_server
from core.lesson.recovery import show_code
from core.lesson.store import LessonStore
from tests.helpers import expect_idle, wait_until

pytestmark = pytest.mark.browser
KEY = "lesson browser key"
NICKS = (("Ada", "2468"), ("Bo", "1357"), ("Cy", "9753"))


def join(page, nickname: str, pin: str) -> None:
    """A learner gives their nickname and PIN on the Train page's class box."""
    page.locator(".st-key-train-class-nickname input").fill(nickname)   # the widgets' keys
    page.locator(".st-key-train-class-pin input").fill(pin)
    page.locator(".st-key-train-class").get_by_role("button", name="Join the class").click()
    page.get_by_text("In this class as").wait_for()
    expect_idle(page)


@pytest.fixture
def class_url(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_LAB_TEACHER_KEY", KEY)
    with streamlit_server(tmp_path) as url:
        yield url


def test_teacher_and_three_learners(browser, class_url, screenshot_dir, tmp_path):
    teacher_ctx = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id="Asia/Shanghai")
    learner_ctxs = [browser.new_context(viewport={"width": 1280, "height": 900}) for _ in range(3)]
    try:
        teacher = teacher_ctx.new_page()
        teacher.set_default_timeout(60_000)
        teacher.goto(f"{class_url}/class?lang=en")
        teacher.get_by_label("Teacher key").fill(KEY)
        teacher.get_by_role("button", name="Unlock").click()
        teacher.get_by_text("Class code").first.wait_for()
        expect_idle(teacher)

        teacher.get_by_label("Title").fill("Exercise 1 small and accurate")
        teacher.get_by_label("Brief").fill("Reach 98 % on MNIST with at most 2 epochs. <b>Fewer</b> parameters win ties.")
        teacher.get_by_role("spinbutton", name="At most epochs").fill("2")
        teacher.keyboard.press("Tab")
        teacher.get_by_role("button", name="Set this assignment").click()
        teacher.get_by_text("is now the current assignment").wait_for()
        expect_idle(teacher)

        learners = []
        for ctx, (nick, pin) in zip(learner_ctxs, NICKS):
            p = ctx.new_page()
            p.set_default_timeout(60_000)
            p.goto(f"{class_url}/train?lang=en")
            if nick == "Bo":   # the class box as a learner first sees it
                p.locator(".st-key-train-class-pin input").wait_for()
                expect_idle(p)
                p.locator(".st-key-train-class").screenshot(path=str(screenshot_dir / "lesson-join.png"))
            join(p, nick, pin)
            learners.append(p)
        learners[0].locator(".st-key-train-assignment").wait_for()
        learners[0].screenshot(path=str(screenshot_dir / "lesson-learner.png"))

        # Each learner is on the lesson's roster (the server's store, read here from its file)
        # with their nickname; the teacher is not. Then the teacher's roster has drawn them.
        store = LessonStore(tmp_path / "checkpoints")
        wait_until(lambda: sorted(e.nickname or "" for e in store.roster()) == sorted(n for n, _ in NICKS),
                   what="three learners with their nicknames on the roster")
        for nick, _ in NICKS:
            # the table's next refresh (its cells are drawn on a canvas: their text is hidden)
            teacher.get_by_text(nick, exact=True).first.wait_for(state="attached")
        expect_idle(teacher)
        teacher.screenshot(path=str(screenshot_dir / "lesson-class-page.png"), full_page=True)

        # Ada closes her tab: a fresh one is a new workspace; the class code brings hers back.
        ada = store.entry(next(e.workspace_id for e in store.roster() if e.nickname == "Ada"))
        learner_ctxs[0].close()
        learner_ctxs[0] = browser.new_context(viewport={"width": 1280, "height": 900})
        back = learner_ctxs[0].new_page()
        back.set_default_timeout(60_000)
        back.goto(f"{class_url}/train?lang=en")
        box = back.locator(".st-key-train-class")
        box.get_by_text("Been here before?").click()
        back.locator(".st-key-train-class-code input").fill(show_code(store.lesson().code).lower())
        back.locator(".st-key-train-class-back_nickname input").fill("ada")
        back.locator(".st-key-train-class-back_pin input").fill(NICKS[0][1])
        box.get_by_role("button", name="Come back").click()
        back.get_by_text("In this class as").wait_for()
        expect_idle(back)
        assert "Ada" in box.inner_text() and str(ada.seed) in box.inner_text()
        assert len(store.roster()) == 3, "the fresh tab's unused workspace left the roster"

        teacher.get_by_role("button", name="Projector view").click()
        teacher.locator(".cnn-projector-brief").wait_for()
        expect_idle(teacher)
        assert teacher.locator(".cnn-projector-brief").inner_text() == \
            "Reach 98 % on MNIST with at most 2 epochs. <b>Fewer</b> parameters win ties."
        html = teacher.content()
        assert "watch=" not in html and "ws=" not in html
        teacher.screenshot(path=str(screenshot_dir / "lesson-projector.png"), full_page=True)
    finally:
        for ctx in (teacher_ctx, *learner_ctxs):
            ctx.close()
