"""Saved models and the gallery are held per network (issue 23, round two): one person with many
workspaces fills neither the disk nor the gallery, a full quota says what to do, and that can be
done — a visitor deletes a saved model of their own (asked once more first).

Through the Train page (AppTest) with faked training; every session in one test process is the
same client (the loopback address), like many tabs of one person.
"""
from __future__ import annotations

import shutil

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import core.data
import core.jobs
import core.workspace
from app.session import job_manager
from app.ui import cached_dataset
from core import gallery
from core.checkpoint import DEFAULT_CHECKPOINT
from tests.fakes import FakeRun, fake_manager_factory, toy_dataset
from tests.helpers import page_app

TOY = toy_dataset(n_train=300, n_test=60)
SECRET = "app.workspace_secret"


@pytest.fixture(autouse=True)
def faked(monkeypatch, tmp_path):
    monkeypatch.setattr(core.data, "is_available", lambda name, data_dir=None: name == "mnist")
    monkeypatch.setattr(core.data, "load_dataset", lambda name="mnist", data_dir=None, progress=True: TOY)
    previous = core.jobs.set_factory(fake_manager_factory(
        lambda cfg, data, stop_event: FakeRun(cfg, data, stop_event, steps=4, step_seconds=0)))
    (tmp_path / "checkpoints").mkdir()
    shutil.copy(DEFAULT_CHECKPOINT, tmp_path / "checkpoints" / DEFAULT_CHECKPOINT.name)
    monkeypatch.setenv("CNN_LAB_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    st.cache_resource.clear()
    yield tmp_path / "checkpoints"
    job_manager().shutdown()
    cached_dataset.clear()
    core.jobs.set_factory(previous)
    st.cache_resource.clear()


def finished(lang: str = "en") -> tuple[AppTest, core.jobs.Job]:
    at = page_app("pages.train")
    at.session_state["lang"] = lang
    at.run()
    at.button(key="train.start").click().run()
    job = job_manager().get(at.session_state["train.run"], core.workspace.workspace_id(at.session_state[SECRET]))
    assert job.wait(60)
    at.session_state["train.tab_idx"] = 2
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at, job


def said(at: AppTest) -> str:
    return " ".join(str(e.value) for e in [*at.success, *at.error, *at.warning, *at.info])


def test_a_visitor_deletes_a_saved_model_after_saying_yes(faked):
    at, job = finished()
    at.button(key=f"train.save.{job.id}").click().run()
    folder = next((faked / "workspaces").iterdir())
    assert len(list(folder.glob("*.safetensors"))) == 1
    assert any("Your saved models (1)" in e.label for e in at.expander)
    at.button(key="train.delete.0").click().run()
    assert "for good? This cannot be undone." in said(at), "asked once more"
    at.button(key="train.delete_no.0").click().run()
    assert len(list(folder.glob("*.safetensors"))) == 1, "No keeps it"
    at.button(key="train.delete.0").click().run()
    at.button(key="train.delete_yes.0").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert list(folder.glob("*.safetensors")) == []
    assert "Deleted “" in said(at)
    assert not any("Your saved models" in e.label for e in at.expander)


@pytest.mark.parametrize("lang, sentence", [
    ("en", "this server keeps at most 1 KB per visitor; delete a model first."),
    ("zh", "本服务器为每位访客最多保留 1 KB；请先删除一个模型。")])
def test_the_disk_of_one_network_is_said_in_one_translated_sentence(faked, monkeypatch, lang, sentence):
    monkeypatch.setenv("CNN_LAB_CLIENT_DISK_MB", str(1 / 1024))
    st.cache_resource.clear()   # the ledger reads its budgets when made
    at, job = finished(lang)
    at.button(key=f"train.save.{job.id}").click().run()
    assert sentence in said(at), said(at)
    assert not list((faked / "workspaces").glob("*/*.safetensors")), "nothing kept over the budget"


def test_a_network_publishes_at_most_its_gallery_budget_over_all_its_workspaces(monkeypatch):
    monkeypatch.setenv("CNN_LAB_GALLERY_PER_CLIENT", "1")
    first, job1 = finished()
    first.text_input(key=f"train.publish_nick.{job1.id}").input("Ada").run()
    first.button(key=f"train.publish.{job1.id}").click().run()
    assert len(gallery.list_entries()) == 1
    second, job2 = finished()                # a new tab: a new workspace of the same network
    second.text_input(key=f"train.publish_nick.{job2.id}").input("Ada again").run()
    second.button(key=f"train.publish.{job2.id}").click().run()
    assert "Your network already has 1 models in the gallery, the most this server allows" in said(second)
    assert len(gallery.list_entries()) == 1
