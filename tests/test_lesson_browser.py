"""A lesson in a real browser: the teacher unlocks the Class page, sets an assignment, three
learners open the app and appear on the roster, the projector view shows the brief and the class
code. Screenshots of both views at 1280 px go to test-artifacts/screenshots/ (the README's)."""
from __future__ import annotations

import pytest

from bench.server import streamlit_server
from core.lesson.store import LessonStore
from tests.helpers import expect_idle, wait_until

pytestmark = pytest.mark.browser
KEY = "lesson browser key"


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

        for ctx in learner_ctxs:
            p = ctx.new_page()
            p.set_default_timeout(60_000)
            p.goto(f"{class_url}/?lang=en")
            expect_idle(p)

        # Each learner is on the lesson's roster (the server's store, read here from its file);
        # the teacher's own visit counts too. Then the page's two-second roster has drawn them.
        store = LessonStore(tmp_path / "checkpoints")
        wait_until(lambda: len(store.roster()) >= 4, what="three learners on the roster")
        expect_idle(teacher)
        teacher.wait_for_timeout(2500)   # one roster refresh (a screenshot only; nothing asserted on it)
        teacher.screenshot(path=str(screenshot_dir / "lesson-class-page.png"), full_page=True)

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
