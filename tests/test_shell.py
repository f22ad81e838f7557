"""The app shell with AppTest: language in the link, the private link, the error boundary."""
from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")
ERROR_SENTENCE = re.compile(r"^Something went wrong on this part of the page\. Try again, or tell "
                            r"your teacher this error id: ([0-9a-f]{8})$")


@pytest.fixture(autouse=True)
def private_checkpoints(monkeypatch, tmp_path):
    monkeypatch.setenv("CNN_LAB_CHECKPOINT_DIR", str(tmp_path))


def app(**query) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def param(at: AppTest, name: str) -> str | None:
    """A query parameter as the address bar would show it (AppTest keeps lists after a run)."""
    value = at.query_params.get(name)
    return value[-1] if isinstance(value, list) else value


def sidebar_code(at: AppTest) -> str:
    return " ".join(c.value for c in at.sidebar.code)


# --------------------------------------------------------------------------- language

def test_a_link_with_lang_zh_opens_in_chinese_and_the_switch_updates_the_link():
    at = app(lang="zh")
    assert at.sidebar.radio[0].value == "zh"
    assert "CNN 如何" in " ".join(s.value for s in at.subheader)
    assert param(at, "lang") == "zh"
    assert "&lang=zh" in sidebar_code(at), "the private link keeps the language"

    at.sidebar.radio[0].set_value("en").run()
    assert param(at, "lang") is None, "English, the default, leaves no parameter"
    assert "How a CNN" in " ".join(s.value for s in at.subheader)
    at.sidebar.radio[0].set_value("zh").run()
    assert param(at, "lang") == "zh"


@pytest.mark.parametrize("via", ["classes.to_train", "train.to_classes"])
def test_a_page_switch_keeps_chinese_on_the_next_pages_content(via):
    """Issue 20: st.switch_page (app.routes.switch_to, from a button's callback) reruns without the
    browser's widget states and clears the query: the language radio was dropped as a stale
    widget and the Train page rendered in English while the radio still showed 简体中文."""
    from tests.helpers import open_page

    at = app(lang="zh")
    if via == "classes.to_train":   # Your classes → Train (needs one class to offer the button)
        open_page(at, "classes").run()
        at.text_input(key="classes.new_name").set_value("猫")
        at.button[0].click().run()          # the form's "创建类别"
    else:                                   # Train on your classes (none yet) → Your classes
        open_page(at, "train").run()
        at.session_state["train.dataset"] = "custom"
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    at.button(key=via).click().run()
    assert not at.exception, [e.value for e in at.exception]
    from core.i18n import translate

    title, content = {"classes.to_train": ("train.title", "train.arch_title"),
                      "train.to_classes": ("classes.title", "classes.none_yet")}[via]
    assert [x.value for x in at.title] == [translate("zh", title)], "the switched-to page, in Chinese"
    shown = [x.value for x in [*at.subheader, *at.info]]
    assert translate("zh", content) in shown, shown
    assert translate("en", content) not in shown
    assert at.sidebar.radio[0].value == "zh"
    assert param(at, "lang") == "zh", "the link keeps the language too"


def test_an_unknown_language_in_the_link_is_ignored():
    at = app(lang="xx")
    assert at.sidebar.radio[0].value == "en"
    assert param(at, "lang") is None


# --------------------------------------------------------------------------- private link

def test_the_sidebar_offers_a_private_link_that_restores_the_workspace():
    first = app()
    link = sidebar_code(first)
    secret = re.search(r"\?ws=([A-Za-z0-9_-]{32,128})", link).group(1)
    assert any("Whoever has this link can use your runs and models" in c.value
               for c in first.sidebar.caption)

    other = app(ws=secret)  # another device opens the link: it asks first (app.link_prompt)
    other.button(key="link-prompt-open").click().run()
    assert f"?ws={secret}" in sidebar_code(other), "the same workspace, not a new one"
    assert param(other, "ws") is None, "the secret is taken out of the address bar"
    assert not other.warning


def test_an_invalid_private_link_gets_one_sentence_and_a_new_workspace():
    at = app(ws="too-short")
    assert [w.value for w in at.warning] == [
        "That private link is not valid (perhaps it was cut short), so you have a new, empty "
        "workspace; copy the full link from “Your private link” in the sidebar."]
    assert "too-short" not in sidebar_code(at)
    at.run()
    assert not at.warning, "said once"


# --------------------------------------------------------------------------- error boundary

@pytest.fixture
def error_log():
    """Records what app.errors logs (Streamlit's loggers do not propagate to the root)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("cnn_lab.errors")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def assert_one_sentence_with_logged_id(at: AppTest, records) -> str:
    assert not at.exception, "no traceback element"
    errors = [e.value for e in at.error]
    assert len(errors) == 1, errors
    error_id = ERROR_SENTENCE.match(errors[0]).group(1)
    page_text = " ".join(str(getattr(el, "value", "")) for el in at.main)
    assert "Traceback" not in page_text and ".py" not in page_text
    logged = [r for r in records if error_id in r.getMessage()]
    assert logged and logged[0].exc_info, "the traceback is in the server log under that id"
    return error_id


def test_a_page_that_raises_shows_one_sentence_with_an_id(monkeypatch, error_log):
    import plotly.graph_objects as go

    def broken_figure(*a, **k):
        raise RuntimeError("/srv/secret/path exploded")

    monkeypatch.setattr(go, "Figure", broken_figure)  # the Home page draws a figure
    at = app()
    assert_one_sentence_with_logged_id(at, error_log)
    assert "exploded" not in " ".join(e.value for e in at.error)
    assert at.sidebar.radio, "the shell (navigation, sidebar) stays up"


def _fragment_script():
    import streamlit as st

    from app.errors import guarded

    @st.fragment(run_every=5)
    @guarded
    def panel():
        st.write("before the failure")
        raise ValueError("boom in a fragment")

    panel()
    st.write("after the fragment")


def test_a_guarded_fragment_that_raises_shows_one_sentence_and_the_page_goes_on(error_log):
    at = AppTest.from_function(_fragment_script, default_timeout=30)
    at.run()
    ids = {assert_one_sentence_with_logged_id(at, error_log)}
    assert "after the fragment" in [m.value for m in at.markdown]
    at.run()
    ids.add(assert_one_sentence_with_logged_id(at, error_log))
    assert len(ids) == 2, "each failure gets its own id"


def test_rerun_and_stop_pass_through_the_boundary():
    def script():
        import streamlit as st

        from app.errors import error_boundary

        st.session_state.setdefault("runs", 0)
        st.session_state.runs += 1
        with error_boundary():
            if st.session_state.runs == 1:
                st.rerun()
            st.write(f"run {st.session_state.runs}")
            st.stop()
        st.write("not reached")

    at = AppTest.from_function(script, default_timeout=30)
    at.run()
    assert not at.error and not at.exception
    assert [m.value for m in at.markdown] == ["run 2"]
