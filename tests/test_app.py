"""App shell: every page renders through the real entry point, in both languages, without errors."""
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.helpers import switch_to

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")
# A file page by its path; a page module (a render function in st.Page) by its url_path.
PAGES = ["pages/home.py", "pages/convolution.py", "train", "pages/predict.py"]


def run_app(lang, page=None):
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["lang"] = lang
    at.run()
    if page:
        at.switch_page(page) if page.endswith(".py") else switch_to(at, page)
        at.run()
    return at


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders(page, lang):
    at = run_app(lang, page)
    assert not at.exception, [e.value for e in at.exception]
    assert at.title, "each page has a title"


def test_language_choice_changes_text():
    """Same app, two sessions: English and 简体中文 (the browser smoke test clicks the real switch)."""
    en, zh = run_app("en"), run_app("zh")
    assert en.sidebar.radio[0].options == ["English", "简体中文"]
    assert "How a CNN" in " ".join(s.value for s in en.subheader)
    assert "CNN 如何" in " ".join(s.value for s in zh.subheader)


def test_home_links_to_the_three_pages():
    at = run_app("en")
    text = " ".join(m.value for m in at.markdown)
    for name in ("Convolution", "Train", "Predict"):
        assert name in text


def test_a_deep_link_runs_inside_the_app_shell():
    """A fresh session whose first request is /train (Streamlit's old pages/-folder mode still on,
    as on a freshly started server) must end up inside streamlit_app.py: language switch, app
    navigation. This guards app/shell.py, the one place that uses Streamlit's private
    PagesManager; if a Streamlit upgrade breaks it, this fails here, not only in a browser."""
    from streamlit.runtime.pages_manager import PagesManager

    assert hasattr(PagesManager, "uses_pages_directory"), (
        "Streamlit no longer has PagesManager.uses_pages_directory: rework app/shell.py "
        "(deep links on a fresh server) for this Streamlit version")
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["lang"] = "en"
    switch_to(at, "train")  # the first run of this session goes straight to the page
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Train"
    assert at.sidebar.radio[0].options == ["English", "简体中文"], (
        "the page ran without the app shell: app/shell.py's deep-link rerun no longer works")
