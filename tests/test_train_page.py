"""Train page through Streamlit's AppTest, with a toy dataset and the training call faked.

core.jobs.TrainingRun is replaced by the scripted FakeRun of test_jobs (same event shapes, checks
its stop event between steps), so starting, watching, stopping and saving run in well under a
second each. Two AppTest sessions in one process share the page's cached JobManager, like two
browser users on one server.
"""
from __future__ import annotations

import time
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import core.data
import core.jobs
from core.data import DataError
from core.models import DEFAULT_PRESET, PRESETS, summary
from app.state import PREDICT_REQUEST, SESSION_MODELS
from app.ui import cached_dataset
from app.session import job_manager
from tests.helpers import toy_dataset
from tests.test_jobs import FakeRun

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "pages" / "train.py")
APP = str(ROOT / "streamlit_app.py")
TOY = toy_dataset(n_train=300, n_test=60)
DEFAULT = summary(PRESETS[DEFAULT_PRESET].spec())  # the page starts from the default preset


@pytest.fixture(autouse=True)
def faked(monkeypatch, tmp_path):
    """Toy data for every dataset name, fake training, a temporary checkpoints folder."""
    runs = []

    def fake_run(config, data, stop_event):
        run = FakeRun(config, data, stop_event, steps=fake_run.steps, step_seconds=fake_run.step_seconds)
        runs.append(run)
        return run

    fake_run.steps, fake_run.step_seconds = 8, 0.01
    monkeypatch.setattr(core.data, "is_available", lambda name, data_dir=None: name == "mnist")
    monkeypatch.setattr(core.data, "load_dataset", lambda name="mnist", data_dir=None, progress=True: TOY)
    monkeypatch.setattr(core.jobs, "TrainingRun", fake_run)
    monkeypatch.setenv("CNN_LAB_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    st.cache_resource.clear()  # a fresh JobManager (and dataset cache) per test
    yield fake_run, runs
    for run in runs:  # end any run a test left going (fake runs stop within one 50 ms step)
        run.stop_event.set()
    cached_dataset.clear()
    st.cache_resource.clear()


def page(lang="en", **state) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["lang"] = lang
    for k, v in state.items():
        at.session_state[k] = v
    return at.run()


def texts(elements) -> str:
    return " ".join(str(e.value) for e in elements)


def start_button(at):
    return at.button(key="train.start")


def job_of(at) -> core.jobs.Job:
    """This session's current run, from the server's JobManager (the one the page uses)."""
    run_id, owner = at.session_state["train.run"], at.session_state["train.owner"]
    return job_manager().get(run_id, owner)


def wait_until(predicate, timeout=60.0) -> bool:
    """Poll `predicate` until it holds or `timeout` seconds have passed (then False)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def show_tab(at, index):
    at.session_state["train.tab_idx"] = index
    return at.run()


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


def test_presets_fill_the_form():
    at = page()
    at.selectbox(key="train.preset").set_value("2-conv 16/32 → FC 128").run()
    assert not at.exception
    assert at.session_state["train.batch"] == 64 and at.session_state["train.epochs"] == 5
    assert at.session_state["train.optimizer"] == "adam" and at.session_state["train.lr"] == "0.001"
    assert "1568" in texts(at.success), "flatten size 32 × 7 × 7 = 1568 written out"
    assert "128-unit hidden layer" in texts(at.info)


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
    assert runs, "the (faked) training was started"
    job = job_of(at)
    assert at.session_state["train.tab_idx"] == 1, "Start opens the live view"
    assert job.active and job.id in at.query_params["run"], "the run id is kept in the URL"
    assert wait_until(lambda: job.progress().step >= 2)
    at.run()
    assert at.button(key="train.stop").label == "Stop"
    assert len(at.get("plotly_chart")) >= 2, "loss and accuracy charts"
    at.button(key="train.stop").click().run()
    assert job.stop_event.is_set()
    assert wait_until(lambda: not job.active)
    assert job.stopped and runs[0].updates < fake_run.steps, "stopped within the first epoch"
    at.run()
    assert "Stopped early" in texts(at.success)
    # the kept model is offered to the Predict page
    models = at.session_state[SESSION_MODELS]
    assert len(models) == 1 and next(iter(models)).startswith("Run 1")
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
    at.select_slider(key="train.fm_epoch").set_value(0).run()
    assert not at.exception and at.select_slider(key="train.fm_epoch").value == 0
    at = show_tab(at, 3)
    assert not at.exception
    assert at.multiselect(key="train.compare").value, "this session's run is preselected"


def test_a_second_user_is_told_a_run_is_in_progress(faked):
    fake_run, runs = faked
    fake_run.steps, fake_run.step_seconds = 1000, 0.2  # still going while bob tries, however slow CI is
    alice = page(**{"train.epochs": 20})
    start_button(alice).click().run()
    job = job_of(alice)
    assert wait_until(lambda: job.progress().step >= 2)
    bob = page()
    assert "Another user's run is in progress" in texts(bob.caption)
    start_button(bob).click().run()
    warning = texts(bob.warning)
    assert "already in progress on this server" in warning and "should end in about" in warning
    assert "train.run" not in bob.session_state
    assert job_of(alice) is job, "bob cannot see alice's run"
    # bob's session has no access to alice's job even with its id
    assert job_manager().get(job.id, bob.session_state["train.owner"]) is None
    alice.button(key="train.stop").click().run()
    assert job.wait(60)


def test_reload_with_the_run_in_the_url_reclaims_the_run():
    at = page()
    start_button(at).click().run()
    job = job_of(at)
    reloaded = AppTest.from_file(PAGE, default_timeout=60)
    reloaded.query_params["run"] = job.id
    reloaded.run()
    assert reloaded.session_state["train.run"] == job.id
    assert reloaded.session_state["train.owner"] == at.session_state["train.owner"]
    assert reloaded.session_state["train.tab_idx"] == 1
    stranger = AppTest.from_file(PAGE, default_timeout=60)
    stranger.query_params["run"] = "not-a-run"
    stranger.run()
    assert "train.run" not in stranger.session_state
    assert job.wait(60)


# ------------------------------------------------------------------ keep the model

def test_save_never_overwrites_without_confirmation(tmp_path):
    at = page()
    start_button(at).click().run()
    job = job_of(at)
    assert job.wait(60)
    at = show_tab(at, 2)
    name_key = f"train.save_name.{job.id}"
    at.text_input(key=name_key).set_value("../my model/x").run()
    assert "my-model-x.safetensors" in texts(at.caption), "names are sanitized"
    at.text_input(key=name_key).set_value("toy model").run()
    save = at.button(key=f"train.save.{job.id}")
    assert not save.disabled
    save.click().run()
    path = tmp_path / "checkpoints" / "toy-model.safetensors"
    assert path.exists() and "Saved toy-model.safetensors" in texts(at.success)
    first = path.stat().st_mtime_ns
    at.run()
    assert at.button(key=f"train.save.{job.id}").disabled, "an existing file needs confirmation"
    assert "already exists" in texts(at.warning)
    at.checkbox(key=f"train.overwrite.{job.id}").check().run()
    at.button(key=f"train.save.{job.id}").click().run()
    assert path.stat().st_mtime_ns >= first and "Saved" in texts(at.success)
    from core.checkpoint import load_checkpoint

    ckpt = load_checkpoint(path)
    assert ckpt.meta["name"] == "toy model" and ckpt.meta["history"]
    assert len(at.download_button) == 2


def test_a_mistake_opens_in_the_predict_page():
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["lang"] = "en"
    at.run()
    at.switch_page("pages/train.py").run()
    start_button(at).click().run()
    job = job_of(at)
    assert job.wait(60)
    at.session_state["train.tab_idx"] = 2
    at.run()
    wrong = [b for b in at.button if str(b.key).startswith(f"train.wrong.{job.id}.")]
    assert wrong, "the untrained toy model makes mistakes"
    index = int(str(wrong[0].key).rsplit(".", 1)[1])
    wrong[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title and at.title[0].value == "Predict", (
        [t.value for t in at.title], [b.key for b in at.button][:3], dict(at.query_params))
    name = at.session_state["train.published"][job.id]
    assert at.session_state["predict.model"] == f"session:{name}"
    assert at.session_state["predict.test_index"] == index
    assert name in at.session_state[SESSION_MODELS]


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
