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
    streamlit_app.py: language switch, app navigation. The legacy mode runs pages/*.py scripts on
    their own (streamlit/runtime/scriptrunner/script_runner.py _mpa_v1), so the only scripts there
    are app.legacy_links' one-liners that run the shell, one per route; a page script that came
    back, or a route without its script, fails here."""
    from app.legacy_links import SCRIPT, SCRIPT_TEXT
    from app.routes import ROUTES

    pages = Path(APP).parent / "pages"
    scripts = {p.name: p.read_text(encoding="utf-8") for p in pages.glob("*.py") if p.name != "__init__.py"}
    wanted = {SCRIPT.format(url_path=r.url_path or "home") for r in ROUTES.values()}
    assert set(scripts) == wanted and all(text == SCRIPT_TEXT for text in scripts.values()), scripts
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["lang"] = "en"
    open_page(at, "predict")  # the first run of this session goes straight to the page
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Predict"
    assert at.sidebar.radio[0].options == ["English", "简体中文"], "the page ran without the app shell"


def test_every_route_has_a_translated_title_and_a_render_function():
    """app.routes is the one table of pages: each title is in both catalogs (the i18n check reads
    only literal t("…") calls), and each page package has the render() st.Page is given."""
    import importlib

    from app.routes import ROUTES
    from core.i18n import translate

    for name, route in ROUTES.items():
        for lang in ("en", "zh"):
            assert translate(lang, route.title) != route.title, (name, lang)
        if (Path(APP).parent / Path(*route.module.split("."))).is_dir():
            assert callable(importlib.import_module(route.module).render), name
