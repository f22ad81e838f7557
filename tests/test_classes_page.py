"""The "Your classes" page through Streamlit's AppTest, in English and Simplified Chinese: create
classes, add drawings (injected as the canvas component reports them: a PNG data URL in its
widget value, as in tests/test_predict_page.py), thumbnails and counts, rename, delete, the zip
round trip, and refusals as sentences."""
from __future__ import annotations

import io
import json
import re
import zipfile

import cv2
import numpy as np
import pytest

from app.session import _SECRET
from core.canvas import canvas_value
from core.userdata import UserData
from core.workspace import Workspace
from tests.helpers import page_app

PAGE = "pages.classes"
TEXT = {
    "en": {"created": "Class 'bar' created", "none": "No classes yet", "added": "Added to bar",
           "count3": "3 examples", "exists": "There is already a class named 'Bar'"},
    "zh": {"created": "已创建类别“bar”", "none": "还没有类别", "added": "已添加到 bar",
           "count3": "3 个示例", "exists": "已经有名为“Bar”的类别"},
}


@pytest.fixture
def workspace(tmp_path, monkeypatch) -> Workspace:
    monkeypatch.setenv("CNN_LAB_CHECKPOINT_DIR", str(tmp_path))
    return Workspace.create(tmp_path)


def canvas_state(image_rgba: np.ndarray) -> dict:
    """The drawing canvas's widget value (app/draw_canvas.py): the PNG as a data URL."""
    ok, buf = cv2.imencode(".png", cv2.cvtColor(image_rgba, cv2.COLOR_RGBA2BGRA))
    assert ok
    return canvas_value(buf.tobytes())


def drawn(shape: str, jitter: int = 0) -> np.ndarray:
    img = np.full((280, 280, 4), 255, np.uint8)
    black = (0, 0, 0, 255)
    if shape == "bar":
        cv2.line(img, (140 + jitter, 40), (140 - jitter, 240), black, 20, cv2.LINE_AA)
    elif shape == "dash":
        cv2.line(img, (40, 140 + jitter), (240, 140 - jitter), black, 20, cv2.LINE_AA)
    else:
        cv2.circle(img, (140, 140), 80 + jitter, black, 20, cv2.LINE_AA)
    return img


def run(at):
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def new_app(ws: Workspace, lang: str):
    at = page_app(PAGE)
    at.session_state["lang"] = lang
    at.session_state[_SECRET] = ws.secret
    return run(at)


def create(at, name: str):
    at.text_input(key="classes.new_name").input(name)
    next(b for b in at.button if b.key and b.key.startswith("FormSubmitter:classes.create")).click()
    return run(at)


def texts(at) -> str:
    parts = [e.value for kind in ("success", "error", "info", "warning", "markdown", "caption") for e in at.get(kind)]
    return "\n".join(map(str, parts))


def add(at, shape: str, jitter: int = 0):
    gen = at.session_state["classes.canvas_gen"]
    at.session_state[f"classes.canvas.{gen}"] = canvas_state(drawn(shape, jitter))
    run(at)
    at.button(key="classes.add").click()
    return run(at)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_create_draw_add_rename_delete(workspace, lang):
    say = TEXT[lang]
    at = new_app(workspace, lang)
    assert say["none"] in texts(at)
    for name in ("bar", "dash", "ring"):
        create(at, name)
    assert say["created"] in texts(at) or len(UserData(workspace).classes()) == 3
    ud = UserData(workspace)
    assert [c.name for c in ud.classes()] == ["bar", "dash", "ring"]
    at.session_state["classes.target"] = ud.classes()[0].id
    for j in (-8, 0, 8):
        add(at, "bar", j)
        assert say["added"] in texts(at)
    # Each Add cleared the canvas (a new generation) and stored the 28×28 model view.
    assert at.session_state["classes.canvas_gen"] == 3
    bar = ud.classes()[0]
    assert bar.count == 3 and say["count3"] in texts(at)
    images = [e.image for e in ud.examples(bar.id)]
    assert all(i.shape == (28, 28) and i.dtype == np.uint8 and i.max() > 200 for i in images)
    assert len(at.get("image")) == 1  # one thumbnails picture (bar); the canvas is clear: no preview
    # A blank canvas adds nothing: the Add button stays disabled.
    assert at.button(key="classes.add").disabled
    # Rename to a name another class has (ignoring case): refused with a sentence.
    dash = ud.classes()[1]
    at.text_input(key=f"classes.rename.{dash.id}").input("Bar")
    at.button(key=f"classes.rename_btn.{dash.id}").click()
    run(at)
    assert say["exists"] in "\n".join(e.value for e in at.error)
    at.text_input(key=f"classes.rename.{dash.id}").input("横线")
    at.button(key=f"classes.rename_btn.{dash.id}").click()
    run(at)
    assert [c.name for c in ud.classes()] == ["bar", "横线", "ring"]
    # Delete example 2 of bar, then the ring class.
    at.number_input(key=f"classes.example.{bar.id}").set_value(2)
    at.button(key=f"classes.del_ex.{bar.id}").click()
    run(at)
    assert [e.id for e in ud.examples(bar.id)] == [e.id for i, e in enumerate(ud.examples(bar.id))]
    assert ud.classes()[0].count == 2
    ring = ud.classes()[2]
    at.button(key=f"classes.del_class.{ring.id}").click()
    run(at)
    assert [c.name for c in ud.classes()] == ["bar", "横线"]


def _page_after(kind: str, payload) -> None:
    """The page after one upload: st.file_uploader's value cannot be set in AppTest, so the
    script hands the bytes to the function the upload button's callback calls, once."""
    import streamlit as st

    from pages import classes
    from pages.classes import files

    if not st.session_state.get("test.done"):
        st.session_state["test.done"] = True
        if kind == "zip":
            files.import_zip_bytes(payload)
        else:
            files.add_file_bytes(st.session_state["test.class"], payload)
    classes.render()


def upload_app(ws: Workspace, lang: str, kind: str, payload, class_id: str | None = None):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_page_after, args=(kind, payload), default_timeout=60)
    at.session_state["lang"] = lang
    at.session_state[_SECRET] = ws.secret
    if class_id:
        at.session_state["test.class"] = class_id
    return run(at)


REPORT = {"en": "Added 6 example(s) to bar, 圆.", "zh": "已向 bar, 圆 添加 6 个示例。"}
NOT_ZIP = {"en": "This file is not a zip archive", "zh": "此文件不是 zip 压缩包"}
BLANK = {"en": "1 image(s) had nothing drawn", "zh": "1 张图片上没有画任何内容"}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_zip_export_import_round_trip_and_refusals(workspace, lang):
    ud = UserData(workspace)
    for name, shape in (("bar", "bar"), ("圆", "ring")):
        c = ud.create_class(name)
        for j in (-6, 0, 6):
            ud.add_drawing(c.id, drawn(shape, j))
    at = new_app(workspace, lang)
    (button,) = at.get("download_button")  # the export, once there are examples
    exported = ud.export_zip()
    with zipfile.ZipFile(io.BytesIO(exported)) as z:
        assert sorted({n.split("/")[0] for n in z.namelist()}) == ["bar", "圆"]
    before = {c.name: [e.image for e in ud.examples(c.id)] for c in ud.classes()}
    ud.clear()
    at = upload_app(workspace, lang, "zip", exported)
    assert REPORT[lang] in "\n".join(e.value for e in at.success)
    after = {c.name: [e.image for e in ud.examples(c.id)] for c in ud.classes()}
    assert sorted(after) == ["bar", "圆"]
    for name in before:
        assert len(after[name]) == 3 and all(np.array_equal(a, b) for a, b in zip(before[name], after[name]))
    # A file that is not a zip: one sentence, nothing changed, the page still up.
    at = upload_app(workspace, lang, "zip", b"not a zip at all")
    assert NOT_ZIP[lang] in "\n".join(e.value for e in at.error)
    assert sum(c.count for c in ud.classes()) == 6
    # Images into one class: a blank one is left out and said so.
    blank = cv2.imencode(".png", np.full((50, 50), 255, np.uint8))[1].tobytes()
    ring = cv2.imencode(".png", drawn("ring", 3)[..., :3])[1].tobytes()
    at = upload_app(workspace, lang, "files", [("ring.png", ring), ("blank.png", blank)], ud.classes()[1].id)
    assert BLANK[lang] in "\n".join(e.value for e in [*at.success, *at.warning])
    assert ud.classes()[1].count == 4


def test_limits_are_refused_with_a_sentence(workspace, monkeypatch):
    monkeypatch.setenv("CNN_LAB_MAX_CLASS_EXAMPLES", "2")
    at = new_app(workspace, "en")
    create(at, "bar")
    create(at, "dash")
    for j in (0, 4):
        add(at, "bar", j)
    add(at, "bar", 8)
    assert "at most 2" in "\n".join(e.value for e in at.error)
    assert [c.count for c in UserData(workspace).classes()] == [0, 2]  # the class made last takes the drawings


# ------------------------------------------------------------------ train on your classes

def three_classes(ws: Workspace, per_class: int = 6) -> UserData:
    ud = UserData(ws)
    for name, shape in (("竖线", "bar"), ("dash", "dash"), ("ring", "ring")):
        c = ud.create_class(name)
        for j in range(per_class):
            ud.add_drawing(c.id, drawn(shape, 3 * j - 8))
    return ud


@pytest.fixture
def fresh_server(monkeypatch):
    """A fresh JobManager (the real local backend) for this test, runs capped at 2 epochs."""
    import streamlit as st

    monkeypatch.setenv("CNN_LAB_MAX_EPOCHS", "2")
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


@pytest.mark.parametrize("lang, split, few", [("en", "examples train the model", "each one moves"),
                                               ("zh", "个示例用于训练模型", "个百分点")])
def test_train_on_your_classes_and_see_their_names(workspace, fresh_server, lang, split, few):
    from app.session import job_manager
    from core.workspace import workspace_id

    three_classes(workspace)
    at = page_app("pages.train", timeout=120)
    at.session_state["lang"] = lang
    at.session_state[_SECRET] = workspace.secret
    at.session_state["train.use_classes"] = True  # as "Train on your classes" on the classes page does
    run(at)
    assert at.selectbox(key="train.dataset").value == "custom"
    shown = "\n".join(str(e.value) for e in [*at.success, *at.caption])
    assert "竖线, dash, ring" in shown and split in shown and few in shown
    # The recipe: all of the examples, augmentation on, the last layer three wide.
    assert at.session_state["train.fraction"] == 1.0 and at.session_state["train.augment"] is True
    assert [r for r in at.session_state["train.layers"] if r["type"] == "linear"][-1]["out"] == 3
    at.button(key="train.start").click()
    run(at)
    job = job_manager().get(at.session_state["train.run"], workspace_id(workspace.secret))
    assert job.config.classes == ["竖线", "dash", "ring"] and job.config.dataset == "custom"
    assert job.wait(120) and job.result is not None, job.state
    at.session_state["train.tab_idx"] = 2
    run(at)
    # The confusion matrix and the per-class chart name the classes.
    figures = [json.dumps(json.loads(c.proto.spec), ensure_ascii=False) for c in at.get("plotly_chart")]
    assert sum(all(name in f for name in ("竖线", "dash", "ring")) for f in figures) >= 2
    # Predict reads a new drawing with the class names (a 2-epoch model: which one is not checked).
    from app.models import run_ref

    at = page_app("pages.predict", timeout=120)
    at.session_state["lang"] = lang
    at.session_state[_SECRET] = workspace.secret
    at.session_state["predict.model"] = run_ref(job.id)
    at.session_state["predict.canvas.0"] = canvas_state(drawn("ring", 5))
    run(at)
    heading = re.compile(r"^### (?:Prediction: |预测：)(\S+)[ （(]")
    names = [m.group(1) for m in (heading.match(md.value) for md in at.markdown) if m]
    assert names and names[0] in ("竖线", "dash", "ring"), [md.value for md in at.markdown][:5]
    assert len(at.segmented_control(key="predict.source").options) == 2  # no server test set: draw, upload


def test_not_enough_examples_is_said_on_the_train_page(workspace, fresh_server):
    ud = UserData(workspace)
    ud.create_class("only one")
    at = page_app("pages.train")
    at.session_state["lang"] = "en"
    at.session_state[_SECRET] = workspace.secret
    at.session_state["train.use_classes"] = True
    run(at)
    assert "Training needs at least 2 classes" in "\n".join(e.value for e in at.warning)
    assert at.button(key="train.start").disabled
