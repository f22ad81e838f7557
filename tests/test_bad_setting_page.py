"""`streamlit run streamlit_app.py` straight away (not the app/serve.py launcher, which refuses to
start) with an unusable setting: every page shows the setting's sentence, never a traceback."""
from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")


@pytest.mark.parametrize("name, raw", [("CNN_LAB_HEAVY_SLOTS", "zero"), ("CNN_LAB_RUNS_PER_CLIENT", "-3"),
                                       ("CNN_LAB_BEHIND_PROXY", "maybe")])
def test_a_bad_setting_is_one_sentence_on_the_page(monkeypatch, tmp_path, name, raw):
    monkeypatch.setenv(name, raw)
    monkeypatch.setenv("CNN_LAB_CHECKPOINT_DIR", str(tmp_path))
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["lang"] = "en"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and f"{name}={raw!r}" in errors[0] and "cannot start" in errors[0]
    assert not at.title, "no page is drawn on a misconfigured server"
