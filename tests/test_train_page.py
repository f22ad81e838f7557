"""Train page through Streamlit's AppTest, with a toy dataset and the training call faked.

The server's job manager (made by core.jobs.make_job_manager) trains the scripted FakeRun of
tests/fakes.py, chosen with core.jobs.set_factory (same event shapes, checks its stop event
between steps), so starting, watching, stopping and saving run in well under a
second each. Several AppTest sessions in one process share the server's JobManager
(app.session.job_manager, in st.cache_resource), like several browser visitors on one server;
each session has its own private workspace (app.session.workspace) under a temporary folder.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import core.data
import core.jobs
from app.models import run_ref
from app.session import job_manager
from app.state import PREDICT_REQUEST
from app.ui import cached_dataset
from core import gallery
from core.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint
from core.data import DataError
from core.models import DEFAULT_PRESET, PRESETS, summary
from core.workspace import Workspace, WorkspaceError, workspace_id
from pages.train.live import intervals
from tests.fakes import FakeRun, fake_manager_factory, toy_dataset
from tests.fakes import config as fake_config
from tests.helpers import can_unshare, open_page, page_app, wait_until

ROOT = Path(__file__).resolve().parent.parent
PAGE = "pages.train"  # the page module; page_app runs its render()
APP = str(ROOT / "streamlit_app.py")
TOY = toy_dataset(n_train=300, n_test=60)
DEFAULT = summary(PRESETS[DEFAULT_PRESET].spec())  # the page starts from the default preset
SECRET = "app.workspace_secret"  # where app.session keeps this session's workspace secret


@pytest.fixture(autouse=True)
def faked(monkeypatch, tmp_path):
    """Toy data for every dataset name, fake training, a temporary checkpoints folder that holds
    a copy of the bundled model."""
    runs = []

    def fake_run(config, data, stop_event):
        run = fake_run.run_class(config, data, stop_event, steps=fake_run.steps,
                                 step_seconds=fake_run.step_seconds)
        runs.append(run)
        return run

    fake_run.run_class, fake_run.steps, fake_run.step_seconds = FakeRun, 8, 0.01
    monkeypatch.setattr(core.data, "is_available", lambda name, data_dir=None: name == "mnist")
    monkeypatch.setattr(core.data, "load_dataset", lambda name="mnist", data_dir=None, progress=True: TOY)
    previous = core.jobs.set_factory(fake_manager_factory(fake_run))
    (tmp_path / "checkpoints").mkdir()
    shutil.copy(DEFAULT_CHECKPOINT, tmp_path / "checkpoints" / DEFAULT_CHECKPOINT.name)
    monkeypatch.setenv("CNN_LAB_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    st.cache_resource.clear()  # a fresh JobManager (and dataset cache) per test
    yield fake_run, runs
    for run in runs:  # end any run a test left going (fake runs stop within one step)
        run.stop_event.set()
    cached_dataset.clear()
    core.jobs.set_factory(previous)
    st.cache_resource.clear()


def page(lang="en", query=None, **state) -> AppTest:
    at = page_app(PAGE)
    at.session_state["lang"] = lang
    query = dict(query or {})
    if "ws" in query:  # a private link the visitor confirmed (the shell's question: tests/test_shell.py)
        at.session_state[SECRET] = query.pop("ws")
    for k, v in query.items():
        at.query_params[k] = v
    for k, v in state.items():
        at.session_state[k] = v
    return at.run()


def texts(elements) -> str:
    return " ".join(str(e.value) for e in elements)


def start_button(at):
    return at.button(key="train.start")


def owner_of(at) -> str:
    """The session's owner id: its workspace's id (a hash of the secret it keeps)."""
    return workspace_id(at.session_state[SECRET])


def job_of(at) -> core.jobs.Job:
    """This session's current run, from the server's JobManager (the one the page uses)."""
    return job_manager().get(at.session_state["train.run"], owner_of(at))


def show_tab(at, index):
    at.session_state["train.tab_idx"] = index
    return at.run()


def press_stop(at, job) -> None:
    """Stop the session's run once a worker trains it (a page drawn while the run still waited
    in the queue shows Cancel instead), from a page drawn after that."""
    wait_until(lambda: job.state in core.jobs.TRAINING_STATES or not job.active,
               what="the run to reach a worker (or end)")
    at.run()
    at.button(key="train.stop").click().run()


def finished_run(**state) -> tuple[AppTest, core.jobs.Job]:
    """A session whose (short, faked) run has finished, showing its results tab."""
    at = page(**state)
    start_button(at).click().run()
    job = job_of(at)
    assert job.wait(60)
    return show_tab(at, 2), job


def finished_run_in_app() -> tuple[AppTest, core.jobs.Job]:
    """The whole app (so a test can follow a link to Predict) on the Train page's results tab
    after a (short, faked) run has finished."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["lang"] = "en"
    at.run()
    open_page(at, "train").run()
    start_button(at).click().run()
    job = job_of(at)
    assert job.wait(60)
    at.session_state["train.tab_idx"] = 2
    at.run()
    return at, job


# ------------------------------------------------------------------ rendering

@pytest.mark.parametrize("lang, title, start", [("en", "Train", "Start training"), ("zh", "训练", "开始训练")])
def test_setup_renders_in_both_languages(lang, title, start):
    at = page(lang)
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == title
    assert start_button(at).label == start and not start_button(at).disabled
    assert DEFAULT.flatten_formula in texts(at.success), "totals with the flatten size written out"
    assert f"{DEFAULT.total_params:,}" in texts(at.success)
    assert at.data_editor, "the layer table is editable"
    assert len(at.dataframe) >= 1, "the summary table"
    frame = at.dataframe[-1].value
    assert frame.shape[0] == len(at.session_state["train.layers"])
    assert any("=" in str(v) for v in frame.iloc[:, 3]), "parameter formulas are written out"
    figures = texts(at.markdown)
    allows = "this server allows" if lang == "en" else "本服务器允许"
    assert figures.count(allows) >= 6, "every cost figure is shown with its limit"
    assert ("1.39 M multiply-adds per image (this server allows 50 M)" in figures) == (lang == "en")
    assert ("starts as soon as you press Start" in texts(at.caption)) == (lang == "en"), "what will happen"


def test_presets_fill_the_form():
    at = page()
    at.selectbox(key="train.preset").set_value("2-conv 16/32 → FC 128").run()
    assert not at.exception
    assert at.session_state["train.batch"] == 64 and at.session_state["train.epochs"] == 5
    assert at.session_state["train.optimizer"] == "adam" and at.session_state["train.lr"] == "0.001"
    assert "1568" in texts(at.success), "flatten size 32 × 7 × 7 = 1568 written out"
    assert "128-unit hidden layer" in texts(at.info)


@pytest.mark.parametrize("lang, label, explained, layer", [
    ("en", "2-conv 16/32 → FC 128 · tutorial 000",
     "conv4 outputs 64 channels of 7×7, so fc1 receives 64 × 7 × 7 = 3,136 numbers",
     "conv1 · conv 16, 5×5, stride 1, pad 2"),
    ("zh", "2-conv 16/32 → FC 128 · 教程 000",
     "卷积4 输出 64 个 7×7 的通道，所以 全连接1 接收 64 × 7 × 7 = 3,136 个数",
     "卷积1 · 卷积 16，5×5，步幅 1，填充 2")])
def test_tutorial_presets_say_which_tutorial_and_answer_the_flatten_question(lang, label, explained, layer):
    at = page(lang)
    picker = at.selectbox(key="train.preset")
    assert label in picker.options and "fast" in picker.options
    picker.set_value("4-conv 5×5 16/32/32/64").run()
    assert not at.exception
    assert ("Tutorial 002" if lang == "en" else "教程 002") in texts(at.info), "the description"
    assert "32 × 7 × 7" in texts(at.caption) and "3,136" in texts(at.caption), "the tutorial's note"
    assert explained in texts(at.markdown), "why the linear layer receives 3,136 numbers"
    names = at.dataframe[-1].value.iloc[:, 1].tolist()
    assert names[0] == layer and all(("stride" in n) == (lang == "en") for n in names if "pool" in n or "池化" in n)
    if lang == "zh":
        assert names[-1] == "全连接1 · 全连接 → 10" and "展平1 · 展平" in names
        assert not any(word in " ".join(names) for word in ("conv", "linear", "flatten", "maxpool", "pad "))


def test_the_sgd_tutorial_sets_momentum_and_a_shorter_run_is_said(monkeypatch):
    at = page()
    at.selectbox(key="train.preset").set_value("2-conv 32/64 → FC 128, SGD").run()
    ss = at.session_state
    assert (ss["train.optimizer"], ss["train.lr"], ss["train.momentum"], ss["train.batch"], ss["train.epochs"]) \
        == ("sgd", "0.01", 0.9, 64, 5)
    assert not at.slider(key="train.momentum").disabled
    assert "this server allows" not in texts(at.caption)
    monkeypatch.setenv("CNN_LAB_MAX_EPOCHS", "3")
    st.cache_resource.clear()
    at = page("zh")
    at.selectbox(key="train.preset").set_value("2-conv 16/32 → FC 128").run()
    assert at.session_state["train.epochs"] == 3
    assert "这个预设训练 5 个轮次；本服务器每次运行最多允许 3 个轮次" in texts(at.caption)


def test_a_tutorial_preset_says_it_trains_on_the_whole_set():
    at = page()
    at.selectbox(key="train.preset").set_value("2-conv 32/64 → FC 128, SGD").run()
    hint = "Tutorial 003 trains on the whole training set: set “Data used” to 100%"
    assert at.session_state["train.fraction"] < 1.0 and hint in texts(at.caption)
    at.select_slider(key="train.fraction").set_value(1.0).run()
    assert not at.exception and hint not in texts(at.caption)
    at.selectbox(key="train.preset").set_value("fast").run()
    assert "trains on the whole training set" not in texts(at.caption)


@pytest.mark.parametrize("lang, p_label, conv", [("en", "Dropout", "conv"), ("zh", "丢弃率", "卷积")])
def test_the_layer_table_speaks_the_language_and_p_has_room(lang, p_label, conv):
    columns = json.loads(page(lang).data_editor[0].proto.columns)
    assert columns["p"]["label"] == p_label and columns["p"]["width"] >= 90, "a header that is not cut off"
    options = {o["value"]: o["label"] for o in columns["type"]["type_config"]["options"]}
    assert options["conv"] == conv, "the value stays the spec's type, the label is the visitor's word"
    assert (options["linear"], options["maxpool"]) == (("linear", "maxpool") if lang == "en" else ("全连接", "最大池化"))


# ------------------------------------------------------------------ validation

def test_invalid_architecture_is_explained_and_blocks_start():
    at = page()
    key = at.data_editor[0].key
    # layer 1 (conv 5×5) gets a 28×28 kernel: the later poolings have nothing left to pool
    at.session_state[key] = {"edited_rows": {0: {"kernel": 28, "padding": 0}}, "added_rows": [],
                             "deleted_rows": []}
    at.run()
    assert not at.exception
    errors = texts(at.error)
    assert "cannot be trained yet" in errors and "smaller than" in errors
    assert start_button(at).disabled


def test_removing_the_classifier_is_explained():
    at = page()
    n = len(at.session_state["train.layers"])
    at.session_state[at.data_editor[0].key] = {"edited_rows": {}, "added_rows": [],
                                               "deleted_rows": [n - 1]}
    at.run()
    flat = DEFAULT.layers[-2].output_shape[0]  # what the flatten layer now outputs
    errors = texts(at.error)
    assert f"outputs {flat} values but the dataset has 10 classes" in errors
    assert errors.count(f"outputs {flat} values") == 1, "explained once"
    assert start_button(at).disabled


def test_a_new_layer_needs_a_type_and_then_gets_defaults():
    at = page()
    key = at.data_editor[0].key
    at.session_state[key] = {"edited_rows": {}, "added_rows": [{}], "deleted_rows": []}
    at.run()
    assert "has no type yet" in texts(at.error) and start_button(at).disabled
    n = len(at.session_state["train.layers"])
    at.session_state[key] = {"edited_rows": {}, "added_rows": [{"type": "dropout"}], "deleted_rows": []}
    at.run()
    assert len(at.session_state["train.layers"]) == n + 1
    assert at.session_state["train.layers"][-1] == {"type": "dropout", "out": None, "kernel": None,
                                                    "stride": None, "padding": None, "p": 0.25}
    # dropout after the classifier is still a valid network (it outputs 10 values)
    assert not start_button(at).disabled, texts(at.error)


@pytest.mark.parametrize("value, message", [("abc", "must be a number"), ("0", "above 0"),
                                            ("50", "at most 10"), ("nan", "above 0")])
def test_bad_learning_rate_is_explained(value, message):
    at = page()
    at.text_input(key="train.lr").set_value(value).run()
    assert message in texts(at.error)
    assert start_button(at).disabled
    at.text_input(key="train.lr").set_value("3e-4").run()
    assert not at.error and not start_button(at).disabled


def test_offline_dataset_is_said_in_one_sentence(monkeypatch):
    def no_network(info, progress=True):
        progress("t10k-images-idx3-ubyte.gz", 0, 100)
        raise DataError("Could not download — no internet here?")

    monkeypatch.setattr(core.data, "download", no_network)
    at = page()
    at.selectbox(key="train.dataset").set_value("fashion-mnist").run()
    assert not at.exception
    warning = texts(at.warning)
    assert "Fashion-MNIST is not on this machine and cannot be downloaded" in warning
    assert "CNN_LAB_DATA_DIR" in warning and "FashionMNIST/raw/" in warning
    assert warning.count(".") <= 2, "one sentence"
    assert start_button(at).disabled
    at = page("zh")
    at.selectbox(key="train.dataset").set_value("fashion-mnist").run()
    assert "无法下载" in texts(at.warning)


def test_epochs_are_capped_by_the_server(monkeypatch):
    monkeypatch.setenv("CNN_LAB_MAX_EPOCHS", "3")
    st.cache_resource.clear()
    at = page()
    box = at.number_input(key="train.epochs")
    assert box.max == 3 and "at most 3" in box.help


# ------------------------------------------------------------------ start, watch, stop

def test_start_watch_and_stop_a_faked_run(faked):
    fake_run, runs = faked
    # 10 epochs of 1000 steps of 0.2 s: the run cannot end on its own however slowly the three
    # page runs below go on a busy CI machine (8 steps an epoch once did: 16 s went by).
    fake_run.steps, fake_run.step_seconds = 1000, 0.2
    at = page(**{"train.epochs": 10})
    start_button(at).click().run()
    assert not at.exception, [e.value for e in at.exception]
    wait_until(lambda: runs, what="the (faked) training to be started by a queue worker")
    job = job_of(at)
    assert at.session_state["train.tab_idx"] == 1, "Start opens the live view"
    assert job.active and "run" not in at.query_params, "no run id in the URL (it was a key to the run)"
    link = texts(at.code)
    assert f"/train?watch={job.watch_token}" in link and job.id not in link, "a read-only watch link"
    wait_until(lambda: job.progress().step >= 2, what="two steps")
    at.run()
    assert at.button(key="train.stop").label == "Stop"
    assert len(at.get("plotly_chart")) >= 2, "loss and accuracy charts"
    at.button(key="train.stop").click().run()
    assert job.stop_event.is_set()
    wait_until(lambda: not job.active, what="the run to end")
    assert job.stopped and runs[0].updates < fake_run.steps, "stopped within the first epoch"
    at.run()
    assert "Stopped early" in texts(at.success)
    # the kept model is offered to the Predict page: app.models lists this owner's finished runs
    # that have a model, named "Run <n> · …" after the run's number
    offered = [j for j in job_manager().jobs(owner_of(at)) if not j.active and j.model is not None]
    assert offered == [job] and job.number == 1
    assert PREDICT_REQUEST not in at.session_state
    # results tab: metrics, confusion matrix, per-class accuracy
    at = show_tab(at, 2)
    assert not at.exception
    labels = [m.label for m in at.metric]
    assert "Test accuracy" in labels and any(label.startswith("Mistakes") for label in labels)


def test_a_finished_run_shows_results_and_feature_maps():
    at = page()
    start_button(at).click().run()
    job = job_of(at)
    assert job.wait(60)
    at.run()
    assert "Finished" in texts(at.success)
    assert at.select_slider(key="train.fm_epoch").value == 1, "follows the newest epoch"
    assert at.selectbox(key="train.fm_layer").value == DEFAULT.layers[0].name  # the first spatial layer
    # the probe digit and the layer's feature maps: pictures (core.figures.training.maps_image)
    assert len(at.get("image")) >= 2
    at.select_slider(key="train.fm_epoch").set_value(0).run()
    assert not at.exception and at.select_slider(key="train.fm_epoch").value == 0
    at = show_tab(at, 3)
    assert not at.exception
    assert at.multiselect(key="train.compare").value, "this session's run is preselected"


def test_a_second_user_is_told_a_run_is_in_progress(faked, monkeypatch):
    """One training slot, two visitors: the second is told beforehand that they would wait, then
    queued with position 1 and an estimate, sees it again after leaving the tab and through their
    private link, and can cancel while waiting."""
    monkeypatch.setenv("CNN_LAB_TRAINING_WORKERS", "1")
    fake_run, runs = faked
    fake_run.steps, fake_run.step_seconds = 1000, 0.2  # still going while bob tries, however slow CI is
    alice = page(**{"train.epochs": 20})
    start_button(alice).click().run()
    job = job_of(alice)
    wait_until(lambda: job.progress().step >= 2, what="two steps")
    bob = page()
    before = texts(bob.caption)
    assert "The server is busy: you'd be 1st in line, starting in about" in before, before
    assert "finishing in about" in before
    assert not start_button(bob).disabled, "a busy server queues runs instead of refusing them"
    start_button(bob).click().run()
    assert not bob.exception, [e.value for e in bob.exception]
    mine = job_of(bob)
    assert mine is not None and mine.state == core.jobs.QUEUED and mine is not job
    status = job_manager().status(mine)
    assert status.position == 1 and status.seconds_to_start is not None and status.seconds_to_finish is not None
    assert bob.session_state["train.tab_idx"] == 1, "Start opens the live view, which shows the queue"
    info = texts(bob.info)
    assert "Waiting in line: you are 1st of 1" in info and "Expected to start in about" in info, info
    assert "and to finish in about" in info
    assert bob.button(key="train.cancel").label == "Cancel"
    assert [b.key for b in bob.button if b.key == "train.stop"] == [], "nothing to stop yet"
    # leaving the tab and coming back shows the queued run again
    bob = show_tab(bob, 0)
    assert "is waiting in line" in texts(bob.info) and start_button(bob).disabled, "one run per visitor"
    bob = show_tab(bob, 1)
    assert "Waiting in line: you are 1st of 1" in texts(bob.info)
    # so does bob's private link, in a new session (a closed tab)
    again = page(query={"ws": bob.session_state[SECRET]})
    assert again.session_state["train.run"] == mine.id and "ws" not in again.query_params
    assert "Waiting in line: you are 1st of 1" in texts(again.info)
    # the Chinese page says the same
    zh = page("zh", query={"ws": bob.session_state[SECRET]})
    assert "正在排队：你排在第 1 位" in texts(zh.info)
    assert job_of(alice) is job, "bob cannot see alice's run"
    # bob's session has no access to alice's job even with its id
    assert job_manager().get(job.id, owner_of(bob)) is None
    assert not job_manager().stop(job.id, owner_of(bob)) and job.active
    bob.button(key="train.cancel").click().run()
    assert mine.state == core.jobs.CANCELLED and "cancelled before it started" in texts(bob.info)
    assert len(runs) == 1, "the cancelled run never trained"
    press_stop(alice, job)
    assert job.wait(60)


def test_a_run_id_in_the_url_is_no_key_but_the_private_link_is():
    at = page()
    start_button(at).click().run()
    job = job_of(at)
    stranger = page(query={"run": job.id})
    assert "train.run" not in stranger.session_state, "a run id in the URL reclaims nothing"
    assert owner_of(stranger) != owner_of(at)
    assert not [b for b in stranger.button if b.key in ("train.stop", "train.cancel")]
    reloaded = page(query={"ws": at.session_state[SECRET]})
    assert reloaded.session_state["train.run"] == job.id
    assert owner_of(reloaded) == owner_of(at)
    assert job.wait(60)
    reloaded.run()
    assert reloaded.session_state["train.run"] == job.id


# ------------------------------------------------------------------ watch link

def test_a_watch_link_is_read_only(faked):
    fake_run, runs = faked
    fake_run.steps, fake_run.step_seconds = 1000, 0.05
    alice = page(**{"train.epochs": 2})
    start_button(alice).click().run()
    job = job_of(alice)
    wait_until(lambda: job.progress().step >= 3, what="three steps")
    watcher = page(query={"watch": job.watch_token})
    assert not watcher.exception, [e.value for e in watcher.exception]
    assert "watching someone's run through its watch link" in texts(watcher.caption)
    assert f"Run {job.number}" in texts(watcher.markdown)
    assert len(watcher.get("plotly_chart")) >= 2, "loss and accuracy curves"
    assert watcher.get("progress"), "the run's progress"
    assert [b.key for b in watcher.button] == ["train.leave_watch"], "no Stop, no Cancel, no Save, no Start"
    assert not watcher.tabs and not watcher.data_editor, "only that run: no set-up, no other runs"
    # the watcher gets no copy of the model: it has no workspace, so app.models offers it no run
    assert SECRET not in watcher.session_state or not job_manager().jobs(owner_of(watcher))
    press_stop(alice, job)
    assert job.wait(60)
    watcher.run()
    assert "Stopped early" in texts(watcher.success)
    assert "Test accuracy" in [m.label for m in watcher.metric], "the results"
    # Reshuffle only redraws the watcher's own view of the random test images (from the run's
    # stored test evaluation): nothing else may be pressed
    assert [b.key for b in watcher.button] == ["train.reshuffle", "train.leave_watch"], "no save, no model use"
    assert not watcher.download_button and not watcher.text_input, "no download, no save name"
    assert job.id not in repr(watcher.session_state), "the run id (the owner's key) never reaches a watcher"
    unknown = page(query={"watch": "no-such-token"})
    warning = texts(unknown.warning)
    assert "does not match any run" in warning and warning.count(".") == 1, "one sentence"
    assert not unknown.get("plotly_chart")
    unknown.button(key="train.leave_watch").click().run()  # to one's own Train page, same session
    assert "watch" not in unknown.query_params and start_button(unknown) is not None


def test_a_run_through_the_queue_can_be_watched_while_it_waits(faked, monkeypatch):
    monkeypatch.setenv("CNN_LAB_TRAINING_WORKERS", "1")
    fake_run, runs = faked
    fake_run.steps, fake_run.step_seconds = 1000, 0.2
    alice = page(**{"train.epochs": 20})
    start_button(alice).click().run()
    first = job_of(alice)
    wait_until(lambda: first.progress().step >= 1, what="alice's run to hold the only worker")
    bob = page()
    start_button(bob).click().run()
    queued = job_of(bob)
    assert queued.queued
    watcher = page(query={"watch": queued.watch_token})
    assert "Waiting in line: you are 1st of 1" in texts(watcher.info)
    assert [b.key for b in watcher.button] == ["train.leave_watch"], "a watcher cannot cancel"
    assert not watcher.get("plotly_chart"), "no charts before the run starts"
    # The status polls every second; the charts only once the run trains (its start changes the
    # pair, so the status fragment asks for the full run that registers the charts' timer).
    manager = job_manager()
    assert intervals(queued, manager.status(queued)) == (core.jobs.LIVE_SECONDS, None)
    assert intervals(first, manager.status(first)) == (core.jobs.LIVE_SECONDS, core.jobs.CHART_SECONDS)
    bob.button(key="train.cancel").click().run()
    press_stop(alice, first)
    assert first.wait(60)
    assert intervals(first, manager.status(first)) == (None, None)


# ------------------------------------------------------------------ keep the model

def test_save_never_overwrites_without_confirmation(tmp_path):
    at, job = finished_run()
    name_key = f"train.save_name.{job.id}"
    at.text_input(key=name_key).set_value("../my model/x").run()
    captions = texts(at.caption)
    assert "Press Save to keep it in your private workspace as **my-model-x**" in captions, "names are sanitized"
    assert "Saved" not in captions, "nothing is said to be saved before Save is pressed"
    assert str(tmp_path) not in captions and "/" not in captions.split("private workspace")[0], \
        "no server path in any caption"
    assert "Your workspace: 0 of 20 models" in captions, "usage against the quota"
    at.text_input(key=name_key).set_value("toy model").run()
    save = at.button(key=f"train.save.{job.id}")
    assert not save.disabled
    save.click().run()
    folder = tmp_path / "checkpoints" / "workspaces" / owner_of(at)
    path = folder / "toy-model.safetensors"
    assert path.exists() and "Saved toy-model in your workspace" in texts(at.success)
    assert "✓ Saved in your private workspace as **toy-model**" in texts(at.caption), "confirmed where the name was"
    assert "Press Save" not in texts(at.caption)
    assert not (tmp_path / "checkpoints" / "toy-model.safetensors").exists(), "never the shared folder"
    assert "Your workspace: 1 of 20 models" in texts(at.caption)
    first = path.stat().st_mtime_ns
    at.run()
    assert "✓ Saved in your private workspace as **toy-model**" in texts(at.caption), "still confirmed"
    assert at.button(key=f"train.save.{job.id}").disabled and not at.warning, "saved: nothing more to do"
    # the same run saved under another name: toy-model is now just an existing model
    at.text_input(key=name_key).set_value("other").run()
    at.button(key=f"train.save.{job.id}").click().run()
    at.text_input(key=name_key).set_value("toy model").run()
    assert at.button(key=f"train.save.{job.id}").disabled, "an existing file needs confirmation"
    assert "already have a model named toy-model" in texts(at.warning)
    assert "Press Save to keep it in your private workspace as **toy-model**" in texts(at.caption)
    at.checkbox(key=f"train.overwrite.{job.id}").check().run()
    at.button(key=f"train.save.{job.id}").click().run()
    assert path.stat().st_mtime_ns >= first and "Saved" in texts(at.success)
    ckpt = load_checkpoint(path)
    assert ckpt.meta["name"] == "toy model" and ckpt.meta["history"]
    assert len(at.download_button) == 2


@pytest.mark.parametrize("lang, before, after", [
    ("en", "Press Save to keep it", "✓ Saved in your private workspace as **m1**"),
    ("zh", "按“保存”后，它会以 **m1** 为名", "✓ 已以 **m1** 为名保存在你的私人空间中")])
def test_the_name_is_announced_before_save_and_confirmed_after(lang, before, after, tmp_path):
    at, job = finished_run(lang=lang)
    at.text_input(key=f"train.save_name.{job.id}").set_value("m1").run()
    assert before in texts(at.caption) and after not in texts(at.caption)
    at.button(key=f"train.save.{job.id}").click().run()
    assert after in texts(at.caption) and before not in texts(at.caption)
    assert str(tmp_path) not in texts(at.caption) + texts(at.success), "no server folder, ever"


def test_a_second_visitor_cannot_list_load_or_overwrite_the_first_ones_models(tmp_path):
    alice, job = finished_run()
    alice.text_input(key=f"train.save_name.{job.id}").set_value("toy model").run()
    alice.button(key=f"train.save.{job.id}").click().run()
    alice_file = tmp_path / "checkpoints" / "workspaces" / owner_of(alice) / "toy-model.safetensors"
    before = alice_file.read_bytes()
    bob, bob_job = finished_run()
    assert owner_of(bob) != owner_of(alice)
    bob_ws = Workspace.open(bob.session_state[SECRET])
    assert [m.ref for m in bob_ws.list_models()] == ["bundled:mnist-default"], "only the bundled model"
    with pytest.raises(WorkspaceError):
        bob_ws.load("own:toy-model")
    # the same name in bob's workspace is bob's own model: no "Replace", alice's file untouched
    bob.text_input(key=f"train.save_name.{bob_job.id}").set_value("toy model").run()
    assert not bob.checkbox and "already have" not in texts(bob.warning)
    bob.button(key=f"train.save.{bob_job.id}").click().run()
    assert (tmp_path / "checkpoints" / "workspaces" / owner_of(bob) / "toy-model.safetensors").exists()
    assert alice_file.read_bytes() == before
    # bob's Compare tab lists his runs and the bundled model, never alice's
    bob = show_tab(bob, 3)
    labels = bob.multiselect(key="train.compare").options  # the options as shown
    assert sum("toy model" in label for label in labels) == 1, labels
    assert sum(label.startswith("Run ") for label in labels) == 1, labels


def test_the_bundled_model_cannot_be_replaced(tmp_path):
    bundled = tmp_path / "checkpoints" / DEFAULT_CHECKPOINT.name
    before = bundled.read_bytes()
    at, job = finished_run()
    at.text_input(key=f"train.save_name.{job.id}").set_value("mnist-default").run()
    error = texts(at.error)
    assert "is the name of a model that ships with CNN Lab; choose another name" in error
    assert not [b for b in at.button if b.key == f"train.save.{job.id}"], "no Save for that name"
    assert not at.checkbox, "no Replace for a model that is not the visitor's own"
    at.text_input(key=f"train.save_name.{job.id}").set_value("mnist default").run()  # the same stem
    assert "ships with CNN Lab" in texts(at.error)
    assert bundled.read_bytes() == before
    zh = page("zh", query={"ws": at.session_state[SECRET]}, **{"train.tab_idx": 2})
    zh.text_input(key=f"train.save_name.{job.id}").set_value("mnist-default").run()
    assert "CNN Lab" in texts(zh.error) and "ships" not in texts(zh.error), "translated"


def test_the_workspace_quota_is_said_in_one_sentence(monkeypatch):
    monkeypatch.setenv("CNN_LAB_MAX_MODELS", "1")
    at, job = finished_run()
    at.text_input(key=f"train.save_name.{job.id}").set_value("first").run()
    at.button(key=f"train.save.{job.id}").click().run()
    assert "Your workspace: 1 of 1 models" in texts(at.caption)
    at.text_input(key=f"train.save_name.{job.id}").set_value("second").run()
    at.button(key=f"train.save.{job.id}").click().run()
    error = texts(at.error)
    assert "2 saved models — this server keeps at most 1 per workspace; delete one first." == error, error


# ------------------------------------------------------------------ limits

def test_a_network_over_the_server_limits_is_explained_and_blocks_start():
    """The issue's example: 4096 channels of 1×1 kernels with padding 14 = 870 M multiply-adds."""
    at = page()
    at.session_state[at.data_editor[0].key] = {
        "edited_rows": {0: {"out": 4096, "kernel": 1, "stride": 1, "padding": 14}},
        "added_rows": [], "deleted_rows": []}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    errors = texts(at.error)
    assert "multiply-adds per image — this server allows 50 M" in errors, errors
    assert "This network is too big for this server" in errors
    assert start_button(at).disabled
    figures = texts(at.markdown)
    assert "multiply-adds per image — this server allows 50 M" in figures, "the figure next to its limit"
    zh = page("zh")
    zh.session_state[zh.data_editor[0].key] = {
        "edited_rows": {0: {"out": 4096, "kernel": 1, "stride": 1, "padding": 14}},
        "added_rows": [], "deleted_rows": []}
    zh.run()
    assert "本服务器" in texts(zh.error) and start_button(zh).disabled


def test_a_limit_lowered_by_the_server_blocks_the_default_preset(monkeypatch):
    monkeypatch.setenv("CNN_LAB_MAX_PARAMS", "1000")
    at = page()
    assert f"{DEFAULT.total_params / 1000:.3g} k parameters — this server allows 1 k" in texts(at.error)
    assert start_button(at).disabled


# ------------------------------------------------------------------ class gallery

def test_a_finished_run_can_be_published_to_the_class_gallery_and_removed():
    at, job = finished_run()
    owner = owner_of(at)
    at.text_input(key=f"train.publish_nick.{job.id}").set_value("Ada").run()
    at.button(key=f"train.publish.{job.id}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Published as “Ada”" in texts(at.success)
    entries = gallery.list_entries()
    assert len(entries) == 1 and entries[0].nickname == "Ada" and entries[0].publisher == owner
    assert job.nickname == "Ada", "the nickname labels the run on the teacher's board"
    assert any(r.nickname == "Ada" for r in job_manager().board())
    assert "**Your models in the class gallery**" in texts(at.markdown)
    remove = at.button(key=f"train.unpublish.{entries[0].id}")
    # another visitor does not see (or remove) alice's entry in their list
    other, other_job = finished_run()
    assert not [b for b in other.button if str(b.key).startswith("train.unpublish.")]
    remove.click().run()
    assert gallery.list_entries() == []
    at.text_input(key=f"train.publish_nick.{job.id}").set_value("  ").run()
    at.button(key=f"train.publish.{job.id}").click().run()
    assert "Choose a nickname" in texts(at.error)


def test_a_mistake_opens_in_the_predict_page():
    at, job = finished_run_in_app()
    wrong = [b for b in at.button if str(b.key).startswith(f"train.wrong.{job.id}.")]
    assert wrong, "the untrained toy model makes mistakes"
    index = int(str(wrong[0].key).rsplit(".", 1)[1])
    wrong[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title and at.title[0].value == "Predict", (
        [t.value for t in at.title], [b.key for b in at.button][:3], dict(at.query_params))
    assert at.session_state["predict.model"] == run_ref(job.id)  # the run itself, listed on demand
    assert at.session_state["predict.test_index"] == index
    assert at.selectbox(key="predict.model").value == run_ref(job.id)


def test_the_form_survives_a_visit_to_another_tab():
    at = page()
    at.select_slider(key="train.fraction").set_value(0.05).run()
    at.text_input(key="train.lr").set_value("0.003").run()
    key = at.data_editor[0].key
    at.session_state[key] = {"edited_rows": {0: {"out": 20}}, "added_rows": [], "deleted_rows": []}
    at.run()
    k = PRESETS[DEFAULT_PRESET].spec()[0]["kernel"]
    assert f"20×1×{k}×{k}" in " ".join(at.dataframe[-1].value.iloc[:, 3].astype(str))
    at = show_tab(at, 3)  # the set-up widgets are not drawn in this run
    at = show_tab(at, 0)
    assert at.select_slider(key="train.fraction").value == 0.05
    assert at.text_input(key="train.lr").value == "0.003"
    assert at.session_state["train.layers"][0]["out"] == 20, "the edited table is kept"
    assert f"20×1×{k}×{k}" in " ".join(at.dataframe[-1].value.iloc[:, 3].astype(str))


# ------------------------------------------------------------------ calibration

class CalibratedFakeRun(FakeRun):
    """FakeRun whose "done" event carries a calibration record like TrainingRun's, computed by
    core.calibration from the final evaluation's logits (the toy test set stands in for the
    hold-out: only the page's drawing of the record is under test here)."""

    def events(self):
        from core import calibration

        for event in super().events():
            if event["event"] == "done":
                r = self.last_eval
                temp = calibration.fit_temperature(r.logits, r.labels)
                raw, scaled = (calibration.bins_from_logits(r.logits, r.labels, v) for v in (1.0, temp))
                event = dict(event, calibration={
                    "temperature": temp, "holdout": len(r.labels), "fitted": True,
                    "test_ece_raw": raw.ece, "test_ece_calibrated": scaled.ece,
                    "test_reliability": {"raw": raw.to_dict(), "calibrated": scaled.to_dict()}})
            yield event


@pytest.mark.parametrize("lang, title, explain", [
    ("en", "Reliability diagram", "over-confident"), ("zh", "可靠性图", "过于自信")])
def test_results_show_the_reliability_diagram(faked, lang, title, explain):
    fake_run, _ = faked
    fake_run.run_class, fake_run.steps, fake_run.step_seconds = CalibratedFakeRun, 4, 0.02
    at, job = finished_run(lang=lang)
    assert not at.exception, [e.value for e in at.exception]
    assert job.metrics()["calibration"]["fitted"]
    shown = texts(at.markdown)
    assert title in shown and explain in shown, "the diagram's title and its one-line explanation"
    assert any("ECE" in c.proto.spec for c in at.get("plotly_chart")), "raw and calibrated series"
    watcher = page(lang, query={"watch": job.watch_token})
    assert title in texts(watcher.markdown), "a watch link shows it too"


def test_a_run_without_calibration_says_so():
    at, job = finished_run()
    assert "calibration" not in job.metrics()
    assert "no fitted temperature" in texts(at.caption)


# ------------------------------------------------------------------ through Ray

@pytest.mark.slow
def test_the_train_page_runs_a_job_through_ray(data_dir):
    """tests/ray_train_page_check.py drives this page in an AppTest session with the Ray backend,
    inside a private network namespace (loopback only: Ray binds every interface)."""
    pytest.importorskip("ray", reason="Ray not installed: pip install -r requirements-ray.txt")

    why = can_unshare()
    if why:
        pytest.skip(f"Ray runs only in a private network namespace: {why}")
    script = (f'ip link set lo up; CNN_LAB_BACKEND=ray exec "{sys.executable}" '
              f'tests/ray_train_page_check.py --data-dir "{data_dir}"')
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "CNN_LAB_CHECKPOINT_DIR")}
    p = subprocess.run(["unshare", "--net", "sh", "-c", script], cwd=ROOT, capture_output=True, text=True,
                       timeout=900, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    facts = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
    assert len(facts) == 1, p.stdout[-2000:]
    f = facts[0]
    assert f["backend"] == "ray" and not f["exception"] and f["started"], f
    assert f["ended"] and f["state"] == "finished" and f["error"] is None, f
    assert f["worker_pid"] and f["worker_pid"] != f["app_pid"], "it trained in a Ray worker process"
    assert f["steps"] >= 2 and f["has_model"], "step events streamed back, the weights came back"
    assert any(s.startswith("Finished:") for s in f["success"]), f["success"]
    assert "/train?watch=" in f["watch_link"]


# ------------------------------------------------------------------ random samples, confusion cells

def chart_with(at, needle: str) -> dict:
    """The spec of the one Plotly chart whose JSON contains `needle`."""
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    specs = [s for s in specs if needle in json.dumps(s, ensure_ascii=False)]
    assert len(specs) == 1, f"{len(specs)} charts with {needle!r}"
    return specs[0]


def grid_indices(spec: dict) -> list[int]:
    """The test indices of a sample grid, from its tiles' hover texts ("Test image #12<br>…")."""
    return [int(h.split("#", 1)[1].split("<", 1)[0]) for h in spec["data"][1]["hovertext"]]


@pytest.mark.parametrize("lang, title, mark", [("en", "Random test images", "Test image #"),
                                               ("zh", "随机抽取的测试图像", "测试图像 #")])
def test_results_show_random_test_images_and_reshuffle_draws_others(lang, title, mark):
    from core.samples import draw_indices

    at, job = finished_run(lang=lang)
    assert not at.exception, [e.value for e in at.exception]
    assert title in [s.value for s in at.subheader]
    n = len(job.result.labels)
    spec = chart_with(at, mark)
    assert grid_indices(spec) == draw_indices(n, 12, 0).tolist(), "12 by default, the first seeded draw"
    r = job.result
    wrong = set(r.wrong_indices.tolist())
    tiles = [a["text"] for a in spec["layout"]["annotations"]]
    for index, text in zip(grid_indices(spec), tiles):   # a mistake names the true class too
        assert (("<br>" in text) == (index in wrong)), (index, text)
    at.button(key="train.reshuffle").click().run()
    assert grid_indices(chart_with(at, mark)) == draw_indices(n, 12, 1).tolist(), "the next seed's draw"
    at.segmented_control(key="train.samples_n").set_value(24).run()
    assert grid_indices(chart_with(at, mark)) == draw_indices(n, 24, 1).tolist()
    watcher = page(lang, query={"watch": job.watch_token})
    assert grid_indices(chart_with(watcher, mark)) == draw_indices(n, 12, 0).tolist(), "a watch link too"


def test_a_confusion_cell_lists_its_images_and_opens_one_in_predict():
    from core.samples import evaluation_predictions, pair_indices

    at, job = finished_run_in_app()
    assert "Click a cell of the matrix above" in texts(at.caption)
    r = job.result
    predicted = evaluation_predictions(r.labels, r.wrong_indices, r.wrong_predicted)
    true_c, pred_c = int(r.labels[r.wrong_indices[0]]), int(r.wrong_predicted[0])  # a cell with a mistake
    at.selectbox(key="train.cell_true").set_value(true_c).run()
    at.selectbox(key="train.cell_pred").set_value(pred_c).run()
    assert not at.exception, [e.value for e in at.exception]
    expected = pair_indices(r.labels, predicted, true_c, pred_c)
    assert len(expected) == r.confusion[true_c, pred_c]
    assert f"{len(expected)} test images of class {true_c} were predicted as {pred_c}" in texts(at.caption)
    listed = [int(str(b.key).rsplit(".", 1)[1]) for b in at.button if str(b.key).startswith(f"train.cell.{job.id}.")]
    assert sorted(listed) == sorted(expected.tolist()[:24])
    spec = chart_with(at, "true %{y}, predicted %{x}")
    assert spec["layout"]["shapes"][0]["x0"] == pred_c - 0.5, "the chosen cell is outlined"
    at.button(key=f"train.cell.{job.id}.{listed[0]}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Predict"
    assert at.session_state["predict.test_index"] == listed[0]
    assert at.session_state["predict.model"] == run_ref(job.id)


def test_an_empty_confusion_cell_says_so_in_chinese():
    at, job = finished_run(lang="zh")
    # an empty choice ("any" class) reads in Chinese too, not Streamlit's "Choose an option"
    assert at.selectbox(key="train.wrong_true").proto.placeholder == "任意"
    assert at.selectbox(key="train.wrong_pred").proto.placeholder == "任意"
    r = job.result
    empty = next((i, j) for i in range(10) for j in range(10) if r.confusion[i, j] == 0)
    at.selectbox(key="train.cell_true").set_value(empty[0]).run()
    at.selectbox(key="train.cell_pred").set_value(empty[1]).run()
    assert f"没有类别为 {empty[0]} 的测试图像被预测成 {empty[1]}" in texts(at.info)


def test_a_run_interrupted_by_a_restart_has_one_button_to_start_it_again(faked, tmp_path):
    """With resume off, a run cut off while training by a server restart shows as interrupted with
    one "Start it again" button (core.jobs.JobManager.restart); pressing it trains it to the end.
    The restart is real: a second manager reads the first one's registry while its run trains."""
    import threading

    from core.jobs.registry import RunRegistry

    fake_run, runs = faked
    gate = threading.Semaphore(0)   # the first server's run never gets past its first step
    fake_run.run_class = lambda *a, **kw: FakeRun(*a, **{**kw, "gate": gate})
    at = page()
    owner, folder = owner_of(at), tmp_path / "runs"
    before = core.jobs.JobManager(run_factory=fake_run, registry=RunRegistry(folder), workers=1)
    job = before.start(owner, fake_config(dataset=TOY.info.name, epochs=2), TOY)
    wait_until(lambda: job.state in core.jobs.TRAINING_STATES, what="the run to reach a worker")
    fake_run.run_class = FakeRun        # the restarted server trains normally
    after = core.jobs.JobManager(run_factory=fake_run, registry=RunRegistry(folder), resume=False,
                                 data_loader=lambda config: TOY)
    core.jobs.set_factory(lambda: after)
    st.cache_resource.clear()
    try:
        at.session_state["train.run"] = job.id
        at = show_tab(at, 1)
        interrupted = job_manager().get(job.id, owner)
        assert interrupted is not None and interrupted.interrupted and interrupted.state == core.jobs.FAILED
        button = at.button(key="train.restart")
        assert button.label == "Start it again" and not at.exception
        assert "The server restarted while this run was training" in texts(at.warning)
        assert not [b for b in at.button if b.key in ("train.stop", "train.cancel")]
        button.click().run()
        assert not at.exception, [e.value for e in at.exception]
        assert interrupted.wait(60) and interrupted.state == core.jobs.FINISHED
        assert not interrupted.interrupted and interrupted.metrics()["test_accuracy"] >= 0
        at.run()
        assert not [b for b in at.button if b.key == "train.restart"], "the button is gone once it ran"
    finally:
        gate.release(10_000)
        before.shutdown(timeout=10)
        after.shutdown(timeout=10)


def test_the_code_panel_writes_the_script_only_while_open():
    """Lazy: a closed "PyTorch code" panel (every first look at Train) costs no script."""
    closed = page()
    assert not [c for c in closed.code if "class Net(nn.Module):" in c.value]
    opened = page(**{"train-code": True})
    assert not opened.exception
    assert [c for c in opened.code if "class Net(nn.Module):" in c.value]
