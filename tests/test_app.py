"""App shell: every page renders through the real entry point, in both languages, without errors."""
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.helpers import open_page

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")
PAGES = ["home", "convolution", "train", "predict"]  # url paths (app.routes)


def run_app(lang, page=None):
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["lang"] = lang
    at.run()
    if page:
        open_page(at, page).run()
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
    """A fresh session whose first request is /predict (Streamlit's legacy pages/-folder mode still
    on, as on a freshly started server; AppTest turns it on before every run) must end up inside
    streamlit_app.py: language switch, app navigation. Pages are functions and pages/ holds no
    script, so the legacy discovery (pages/*.py, streamlit/runtime/scriptrunner/script_runner.py
    _mpa_v1) has nothing to run but the entry script; if a top-level script came back, this fails."""
    root = Path(APP).parent
    scripts = [p.name for p in (root / "pages").glob("*.py") if p.name != "__init__.py"]
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["lang"] = "en"
    open_page(at, "predict")  # the first run of this session goes straight to the page
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Predict"
    assert at.sidebar.radio[0].options == ["English", "简体中文"], (
        f"the page ran without the app shell (top-level scripts in pages/: {scripts})")
