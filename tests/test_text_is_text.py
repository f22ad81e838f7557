"""Learner-supplied text is text (issue 23): a nickname, model name or class name with markdown
image syntax, HTML or a link renders literally, on one line, wherever the pages show it.

core.names.clean_name removes markup where a name is stored; app.text.md_escape is the render
side, so an old job, an old file or a missed cleaner is still harmless. The pages are checked
through AppTest: the markdown element's body holds the escaped text, never an unescaped `![`,
`[..](` or `<`.
"""
from __future__ import annotations

import json
import re
import threading

import pytest
import streamlit as st
from hypothesis import given
from hypothesis import strategies as hs

import core.data
import core.jobs
from app.session import job_manager
from app.text import md_escape
from app.ui import cached_dataset
from core.jobs import clean_nickname
from tests.fakes import FakeRun, config, fake_manager_factory, toy_dataset
from tests.helpers import page_app

HOSTILE = "![](//127.0.0.1:8799/x) <img src=x onerror=alert(1)> [click](http://evil.example) **bold** :red[x]"
DATA = toy_dataset(n_train=64, n_test=40)
PUNCT = re.compile(r"[!-/:-@\[-`{-~]")
UNESCAPED = re.compile(r"(?<!\\)[!\[\]()<>*`:]")   # a markup character without its backslash


def unescape(text: str) -> str:
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text)


@given(hs.text(max_size=80))
def test_md_escape_escapes_every_markup_character_and_loses_nothing(raw):
    out = md_escape(raw)
    assert "\n" not in out and "\r" not in out
    i = 0
    while i < len(out):   # every ASCII punctuation character comes as a backslash pair
        if out[i] == "\\":
            assert i + 1 < len(out) and PUNCT.fullmatch(out[i + 1]), out
            i += 2
        else:
            assert not PUNCT.fullmatch(out[i]), out
            i += 1
    assert unescape(out) == re.sub(r"[\r\n\u2028\u2029\x0b\x0c]+", " ", raw)


def test_md_escape_of_the_issue_nickname():
    out = md_escape(HOSTILE)
    assert "![" not in out and "](" not in out and not UNESCAPED.search(out)
    assert unescape(out) == HOSTILE, "the visitor reads exactly what was typed"
    assert md_escape(None) == ""


def test_a_nickname_is_cleaned_when_a_run_starts():
    cleaned = clean_nickname(HOSTILE)
    assert cleaned and not re.search(r"[!\[\]()<>*:/]", cleaned) and len(cleaned) <= core.jobs.MAX_NICKNAME
    assert clean_nickname("![](//x)") is None or "![" not in clean_nickname("![](//x)")


@pytest.fixture
def finished_hostile_run(monkeypatch, tmp_path):
    """A finished run whose nickname (set after the start, as an old server's job would carry)
    is the issue's markup."""
    monkeypatch.setattr(core.data, "is_available", lambda name, data_dir=None: name == "mnist")
    monkeypatch.setattr(core.data, "load_dataset", lambda name="mnist", data_dir=None, progress=True: DATA)
    previous = core.jobs.set_factory(fake_manager_factory(
        lambda cfg, data, stop_event: FakeRun(cfg, data, stop_event, steps=3, step_seconds=0)))
    monkeypatch.setenv("CNN_LAB_CHECKPOINT_DIR", str(tmp_path))
    st.cache_resource.clear()
    job = job_manager().start("ws-hostile", config(epochs=1), DATA, nickname="Ada")
    assert job.wait(60)
    job.nickname = HOSTILE            # a missed cleaner: the page must still show it as text
    yield job
    job_manager().shutdown()
    cached_dataset.clear()
    core.jobs.set_factory(previous)
    st.cache_resource.clear()


def test_the_watch_page_shows_a_hostile_nickname_as_text(finished_hostile_run):
    at = page_app("pages.train")
    at.session_state["lang"] = "en"
    at.query_params["watch"] = finished_hostile_run.watch_token
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    heads = [m.value for m in at.markdown if m.value.startswith("####")]
    assert heads, "the watch view's heading"
    body = heads[0]
    assert md_escape(HOSTILE) in body
    assert "![" not in body and "](" not in body and "<img" not in body.replace("\\<img", "")
    assert not UNESCAPED.search(body.removeprefix("####").split("by", 1)[-1]), body


def test_class_names_in_tiles_and_captions_are_escaped(monkeypatch, finished_hostile_run):
    """Class names come from a checkpoint's metadata or an uploaded folder: shown as text."""
    import pages.train.runs as runs

    monkeypatch.setattr(runs, "classes_of", lambda dataset, classes=None: tuple(f"[c{i}](http://evil) <b>" for i in range(10)))
    import pages.train.results as results
    import pages.train.maps as maps
    monkeypatch.setattr(results, "classes_of", runs.classes_of)
    monkeypatch.setattr(maps, "classes_of", runs.classes_of)
    at = page_app("pages.train")
    at.session_state["lang"] = "en"
    at.query_params["watch"] = finished_hostile_run.watch_token
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = [e.value for e in [*at.markdown, *at.caption]]
    with_classes = [s for s in shown if re.search(r"c\d\S* ?\S*evil", s)]
    assert with_classes, "some tile or caption names a class"
    for s in with_classes:
        assert "](" not in s and "\\[c" in s and "\\<b\\>" in s, s


# ------------------------------------------------------------------ Predict: a checkpoint's own names

HOSTILE_CLASSES = [f"![](//127.0.0.1:8799/x{i})" if i % 2 == 0 else f"**bold{i}** <b>x</b>" for i in range(10)]


@pytest.fixture
def hostile_checkpoint(tmp_path, data_dir, monkeypatch) -> bytes:
    """An uploaded .safetensors whose metadata names its ten classes with markup (any visitor can
    write such a file): an MNIST model, so the test set gives the page a true label too."""
    import torch

    from core.checkpoint import make_metadata, save_checkpoint
    from core.models import PRESETS, build_model

    monkeypatch.setenv("CNN_LAB_DATA_DIR", str(data_dir))
    monkeypatch.setenv("CNN_LAB_CHECKPOINT_DIR", str(tmp_path))
    torch.manual_seed(0)
    spec = PRESETS["fast"].spec()
    meta = {**make_metadata(spec, "mnist", name="hostile"), "classes": HOSTILE_CLASSES}
    path = save_checkpoint(tmp_path / "hostile.safetensors", build_model(spec), meta)
    st.cache_resource.clear()
    yield path.read_bytes()
    st.cache_resource.clear()


def _predict_texts(at) -> list[str]:
    """Every text the Predict page shows as markdown: headings, captions, alerts, image captions."""
    shown = [e.value for e in [*at.markdown, *at.caption, *at.success, *at.error, *at.info, *at.warning]]
    for image in at.get("image"):   # st.image's caption is markdown too
        shown += [img.caption for img in image.proto.imgs if img.caption]
    return shown


def _assert_literal(shown: list[str]) -> list[str]:
    named = [s for s in shown if "127.0.0.1" in s or "bold" in s]
    for s in named:
        assert "![" not in s and "](" not in s and "<b>" not in s and "**bold" not in s, s
        assert any(md_escape(c) in s for c in HOSTILE_CLASSES), s
    return named


def test_predict_shows_a_checkpoints_hostile_class_names_as_text(hostile_checkpoint):
    at = page_app("pages.predict")
    at.session_state["lang"] = "en"
    at.session_state["predict.source"] = "test"
    at.session_state["predict.test_index"] = 0
    at.session_state["predict.model"] = "upload"
    at.run()
    at.file_uploader(key="predict.model_file").set_value(("hostile.safetensors", hostile_checkpoint,
                                                          "application/octet-stream"))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = _predict_texts(at)
    head = next(s for s in shown if s.startswith("### Prediction: "))
    assert any(md_escape(c) in head for c in HOSTILE_CLASSES), head
    assert any(s.startswith("Test image 0, labelled ") and md_escape(HOSTILE_CLASSES[7]) in s for s in shown), \
        "the test image's caption names its class (test image 0 is a 7)"
    assert any(s.startswith(("Correct", "Wrong")) for s in shown), "the true label's sentence"
    named = _assert_literal(shown)
    assert len(named) >= 3
    # Plotly reads <b>, <a href> … in labels: the probability bars name the classes escaped.
    bars = [trace.get("x") or [] for chart in at.get("plotly_chart")
            for trace in json.loads(chart.proto.spec)["data"] if trace.get("type") == "bar"]
    assert any("**bold1** &lt;b&gt;x&lt;/b&gt;" in x for x in bars) and not any("<b>" in str(x) for x in bars), bars
    at.segmented_control(key="predict.view").set_value("saliency").run()
    assert not at.exception, [e.value for e in at.exception]
    shown = _predict_texts(at)
    assert any(s.startswith("**Saliency for “") for s in shown)
    assert any(s.startswith("Gradient of the score of ") for s in _assert_literal(shown))