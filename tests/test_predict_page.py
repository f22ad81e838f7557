"""Predict page through Streamlit's AppTest, in English and Simplified Chinese.

The page runs against a temporary checkpoint folder holding the bundled default model (or, while
that is not trained yet, an untrained model of the "fast" preset: the page must work with any
model; only the checks of *which* class is predicted need the trained one). The drawing canvas
is a custom component AppTest cannot draw on, so a drawing is injected the way the component
reports it: a PNG data URL in the widget's session-state value.
"""
from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from core.canvas import canvas_value
from core.models import summary
from core.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint, make_metadata
from core.data import load_dataset
from core.features import layer_outputs, receptive_field, value_ranges
from core.models import PRESETS, build_model
from core.preprocess import from_dataset_image
from app.models import run_ref
from app.session import _SECRET
from app.state import PREDICT_REQUEST
from core.workspace import Workspace
from tests.fakes import finished_run
from tests.helpers import page_app

PAGE = "pages.predict"
PREDICTION = {"en": re.compile(r"^### Prediction: (\S+) \((\d{1,3}\.\d)%\)$"),
              "zh": re.compile(r"^### 预测：(\S+)（(\d{1,3}\.\d)%）$")}
NOTHING_DRAWN = {"en": "Nothing drawn yet", "zh": "还没有画任何内容"}
NOT_AN_IMAGE = {"en": "This file is not a PNG, JPEG, WebP or BMP image.",
                "zh": "此文件不是 PNG、JPEG、WebP 或 BMP 图像。"}
TRAINED = DEFAULT_CHECKPOINT.exists()
needs_trained = pytest.mark.skipif(not TRAINED, reason=f"{DEFAULT_CHECKPOINT.name} not trained yet")


# `checkpoints` (a folder with the bundled model, else an untrained stand-in) is a fixture of
# tests/conftest.py: test_uploader_text uses it too.


@pytest.fixture
def mnist(data_dir, monkeypatch):
    monkeypatch.setenv("CNN_LAB_DATA_DIR", str(data_dir))
    return load_dataset("mnist", data_dir, progress=False)


def run_page(lang: str = "en", **state) -> AppTest:
    at = page_app(PAGE)
    at.session_state["lang"] = lang
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.message for e in at.exception]
    return at


def prediction(at: AppTest, lang: str = "en") -> tuple[str, float] | None:
    for md in at.markdown:
        m = PREDICTION[lang].match(md.value)
        if m:
            return m.group(1), float(m.group(2))
    return None


def texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def png_bytes(image: np.ndarray) -> bytes:
    ok_, buf = cv2.imencode(".png", image)
    assert ok_
    return buf.tobytes()


def photo_of(mnist_image: np.ndarray, rng, size=(900, 1200), light=35.0, contrast=0.75, dim=1.0,
             noise=6.0, digit=420) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """An MNIST digit as a phone photo of paper: enlarged, dark ink multiplying the paper, light
    falling off across the sheet, sensor noise, a warm tint; also where the digit was put
    (top, left, bottom, right)."""
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w]
    paper = (200 + light * (xx / w) - light * (yy / h)) * dim + rng.normal(0, noise, (h, w))
    big = cv2.resize(mnist_image, (digit, digit), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255
    top, left = (h - digit) // 2 + int(rng.integers(-60, 60)), (w - digit) // 2 + int(rng.integers(-120, 120))
    paper[top:top + digit, left:left + digit] *= 1 - contrast * big
    grey = np.clip(paper, 0, 255)
    rgb = np.dstack([grey, grey * 0.97, grey * 0.9]).astype(np.uint8)
    return rgb, (top, left, top + digit, left + digit)


def canvas_state(image_rgba: np.ndarray | None) -> dict:
    """The drawing canvas's widget value (app/draw_canvas.py): the PNG as a data URL."""
    if image_rgba is None:
        return canvas_value(None)
    return canvas_value(png_bytes(cv2.cvtColor(image_rgba, cv2.COLOR_RGBA2BGRA)))


def drawn(strokes) -> np.ndarray:
    img = np.full((280, 280, 4), 255, np.uint8)
    for a, b in strokes:
        cv2.line(img, a, b, (0, 0, 0, 255), 20, cv2.LINE_AA)
    return img


# --------------------------------------------------------------------------- input paths

@pytest.mark.parametrize("lang", ["en", "zh"])
def test_test_set_image_gives_a_prediction(lang, checkpoints, mnist):
    at = ok(run_page(lang, **{"predict.source": "test", "predict.test_index": 0}))
    label, pct = prediction(at, lang)
    assert label in [str(c) for c in range(10)] and 0 < pct <= 100
    # The bar chart and the "what the model sees" and explorer sections are there.
    assert len(at.get("plotly_chart")) >= 3
    if TRAINED:
        assert label == "7" and pct > 90  # test image 0 is a 7
        assert (at.success[0].value.startswith("Correct") if lang == "en" else "正确" in at.success[0].value)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_canvas_blank_drawing_and_clear(lang, checkpoints):
    at = ok(run_page(lang))
    assert NOTHING_DRAWN[lang] in texts(at.info)
    assert prediction(at, lang) is None
    at.session_state["predict.canvas.0"] = canvas_state(drawn([((140, 40), (140, 240))]))
    at = ok(at.run())
    label, _ = prediction(at, lang)
    if TRAINED:
        assert label == "1"
    # Clear gives a fresh, empty canvas: back to "nothing drawn", never a guess.
    at.button(key="predict.clear").click()
    at = ok(at.run())
    assert at.session_state["predict.canvas_gen"] == 1
    assert NOTHING_DRAWN[lang] in texts(at.info) and prediction(at, lang) is None


def test_a_drawing_with_no_ink_is_nothing_drawn(checkpoints):
    at = run_page(**{"predict.canvas.0": canvas_state(np.full((280, 280, 4), 255, np.uint8))})
    assert NOTHING_DRAWN["en"] in texts(ok(at).info) and prediction(at) is None


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_bad_upload_gives_one_sentence(lang, checkpoints):
    at = ok(run_page(lang, **{"predict.source": "upload"}))
    at.file_uploader(key="predict.image_file").set_value(("digit.png", b"this is not a picture", "image/png"))
    at = ok(at.run())
    assert [e.value for e in at.error] == [NOT_AN_IMAGE[lang]]
    assert prediction(at, lang) is None


def test_upload_errors_are_specific(checkpoints):
    at = ok(run_page(**{"predict.source": "upload"}))
    # a small valid PNG whose header (with its CRC, which Pillow checks) declares 5000×300
    small = png_bytes(np.zeros((3, 3), np.uint8))
    ihdr = b"IHDR" + struct.pack(">II", 5000, 300) + small[24:29]
    huge = small[:12] + ihdr + struct.pack(">I", zlib.crc32(ihdr)) + small[33:]
    at.file_uploader(key="predict.image_file").set_value(("huge.png", huge, "image/png"))
    assert [e.value for e in ok(at.run()).error] == [
        "The image is 5000×300 pixels; images may be at most 4096×4096."]
    truncated = png_bytes(np.full((50, 50), 200, np.uint8))[:-30]
    at.file_uploader(key="predict.image_file").set_value(("cut.png", truncated, "image/png"))
    assert [e.value for e in ok(at.run()).error] == [
        "This PNG file is damaged or incomplete and cannot be read."]
    blank = png_bytes(np.full((200, 200, 3), 240, np.uint8))
    at.file_uploader(key="predict.image_file").set_value(("blank.png", blank, "image/png"))
    at = ok(at.run())
    assert not at.error and "No digit found" in texts(at.info) and prediction(at) is None


def test_uploaded_photo_is_preprocessed_and_predicted(checkpoints, mnist):
    photo, _ = photo_of(mnist.test_images[0].numpy(), np.random.default_rng(0), size=(1200, 1600))  # a 7
    at = ok(run_page(**{"predict.source": "upload"}))
    at.file_uploader(key="predict.image_file").set_value(
        ("seven.png", png_bytes(cv2.cvtColor(photo, cv2.COLOR_RGB2BGR)), "image/png"))
    at = ok(at.run())
    label, _ = prediction(at)
    captions = [c for img in at.image for c in img.captions]
    assert len(captions) == 5 and captions[0] == "1. Input (1024×768, shrunk from 1600×1200)"
    assert "inverted from dark-on-light" in captions[1] and "Longest side scaled to 20 px" in captions[3]
    if TRAINED:
        assert label == "7"
    # Exploring reruns the page; the upload is decoded and preprocessed only once.
    cached = at.session_state["predict.upload_cache"]
    at = ok(at.segmented_control(key="predict.scale").set_value("map").run())
    assert at.session_state["predict.upload_cache"][1] is cached[1]


@pytest.mark.parametrize("conditions", [
    dict(light=35.0, contrast=0.75),            # light falling off across the sheet
    dict(light=60.0, contrast=0.5),             # strong gradient, pale pencil
    dict(light=20.0, contrast=0.7, dim=0.45),   # dim room: the paper itself is darker than mid-grey
    dict(light=30.0, contrast=0.7, digit=220),  # digit small in the frame
])
def test_photos_of_paper_are_cropped_to_the_digit(conditions, mnist):
    """The ink box must hug the digit: a darker corner, noise specks or dim light must neither
    count as ink (the digit would shrink) nor hide the digit."""
    from core.preprocess import preprocess

    rng = np.random.default_rng(1)
    model = load_checkpoint(DEFAULT_CHECKPOINT) if TRAINED else None
    correct = 0
    for i in range(10):
        digit = mnist.test_images[i].numpy()
        photo, (top, left, bottom, right) = photo_of(digit, rng, **conditions)
        pre = preprocess(photo)
        assert not pre.blank and pre.inverted
        t_, l_, b_, r_ = pre.bbox
        assert top - 3 <= t_ and l_ >= left - 3 and b_ <= bottom + 3 and r_ <= right + 3, (i, pre.bbox)
        clean = preprocess(np.where(digit > 0, 255 - digit, 255).astype(np.uint8)).model_view
        assert np.corrcoef(pre.model_view.ravel(), clean.ravel())[0, 1] > 0.8, i
        if model is not None:
            outs = layer_outputs(model.model, model.spec, pre.tensor)
            correct += int(outs[-1].output.argmax()) == int(mnist.test_labels[i])
    if model is not None:
        assert correct >= 9, f"{correct}/10 photographed digits recognised"


# --------------------------------------------------------------------------- models

def test_uploaded_checkpoint_is_used_and_garbage_is_rejected(checkpoints, mnist):
    at = ok(run_page(**{"predict.source": "test", "predict.model": "upload"}))
    assert prediction(at) is None  # no model yet: nothing is guessed
    at.file_uploader(key="predict.model_file").set_value(("model.safetensors", b"\x00" * 100, "application/octet-stream"))
    at = ok(at.run())
    # The reason may quote the file's own metadata, so it is shown as text (app.text.md_escape).
    assert len(at.error) == 1 and at.error[0].value.startswith(r"This model cannot be used: model\.safetensors")
    at.file_uploader(key="predict.model_file").set_value(("model.safetensors", checkpoints.read_bytes(),
                                                          "application/octet-stream"))
    at = ok(at.run())
    assert "cannot be used" not in texts(at.error) and prediction(at) is not None


def test_class_names_come_from_the_models_dataset(checkpoints, monkeypatch):
    """A Fashion-MNIST model names clothes; its test set, absent offline, gives one sentence."""
    import core.data

    calls = []

    def no_network(info, progress=True):
        calls.append(info.name)
        raise core.data.DataError(f"Could not download {info.title} — no internet here?")

    monkeypatch.setattr(core.data, "download", no_network)
    monkeypatch.setattr(core.data, "is_available", lambda name, data_dir=None: False)
    torch.manual_seed(0)
    spec = PRESETS["2-conv 16/32 → FC 128"].spec()
    from core.checkpoint import from_model

    fashion = from_model(build_model(spec), make_metadata(spec, "fashion-mnist", name="clothes"))
    ws = Workspace.create()
    job = finished_run(ws.id, fashion)
    at = ok(run_page(**{_SECRET: ws.secret, "predict.model": run_ref(job.id),
                        "predict.canvas.0": canvas_state(drawn([((140, 40), (140, 240))]))}))
    head = next(md.value for md in at.markdown if md.value.startswith("### Prediction: "))
    assert re.match(r"^### Prediction: (.+) \(\d+\.\d%\)$", head).group(1) in fashion.classes
    assert "Dataset Fashion-MNIST" in texts(at.caption)
    at = ok(at.segmented_control(key="predict.source").set_value("test").run())
    assert [e.value for e in at.error] == [
        "The test set is not available: Could not download Fashion-MNIST — no internet here?"]
    assert prediction(at) is None
    ok(at.run())
    assert calls == ["fashion-mnist"], "a failed download must not be retried on every rerun"
    at = ok(at.button(key="predict.data_retry").click().run())
    assert calls == ["fashion-mnist"] * 2 and len(at.error) == 1


def test_random_test_image(checkpoints, mnist):
    at = ok(run_page(**{"predict.source": "test"}))
    seen = set()
    for _ in range(3):
        at = ok(at.button(key="predict.random").click().run())
        index = at.number_input(key="predict.test_index").value
        assert 0 <= index < len(mnist.test_labels)
        assert at.image[0].captions == [f"Test image {index}, labelled {int(mnist.test_labels[index])}"]
        seen.add(index)
    assert len(seen) > 1


def test_session_model_and_train_page_request(checkpoints, mnist):
    """A mistake sent from the Train page opens that model and test image."""
    ckpt = load_checkpoint(checkpoints)
    ws = Workspace.create()
    job = finished_run(ws.id, ckpt)
    at = ok(run_page(**{_SECRET: ws.secret, PREDICT_REQUEST: {"model": run_ref(job.id), "test_index": 8}}))
    assert at.selectbox(key="predict.model").value == run_ref(job.id)
    assert at.number_input(key="predict.test_index").value == 8
    assert "mistakes sent from the Train page" in texts(at.info)
    assert prediction(at) is not None and PREDICT_REQUEST not in at.session_state


# --------------------------------------------------------------------------- explorer

def test_a_new_answer_is_sent_before_the_charts_and_the_explorer_never_waits(checkpoints, monkeypatch):
    """app/paint_first.py: after a new prediction the page pauses once before the heavy charts (so
    a busy browser paints the answer first); turning the explorer's knobs on the same digit, or
    switching calibration, never pauses; another drawing does."""
    import app.paint_first as paint_first_module

    log = []

    class Clock:
        @staticmethod
        def sleep(seconds):
            log.append(("pause", seconds))

    monkeypatch.setattr(paint_first_module, "time", Clock)
    at = ok(run_page())
    assert log == []                                             # nothing drawn: no answer
    at.session_state["predict.canvas.0"] = canvas_state(drawn([((140, 40), (140, 240))]))
    at = ok(at.run())
    assert prediction(at) is not None and log == [("pause", paint_first_module.PAUSE_SECONDS)]
    at = ok(at.number_input(key="predict.channel").set_value(2).run())
    at = ok(at.toggle(key="predict.calibrated").set_value(False).run())
    assert len(log) == 1, "the same digit: the explorer and the toggle answer at once"
    at.session_state["predict.canvas.0"] = canvas_state(drawn([((60, 140), (220, 140))]))
    at = ok(at.run())
    assert len(log) == 2, "a new drawing is a new answer"
    at.button(key="predict.clear").click()
    at = ok(at.run())
    at.session_state["predict.canvas.1"] = canvas_state(drawn([((60, 140), (220, 140))]))
    at = ok(at.run())
    assert len(log) == 3, "the same digit drawn again after Clear: the screen had no answer"


def test_feature_map_explorer_controls(checkpoints, mnist):
    ckpt = load_checkpoint(checkpoints)
    pre = from_dataset_image(mnist.test_images[0].numpy(), ckpt.mean, ckpt.std)
    outs = layer_outputs(ckpt.model, ckpt.spec, pre.tensor)
    at = ok(run_page(**{"predict.source": "test", "predict.test_index": 0}))
    layer_box = at.selectbox(key="predict.layer")
    assert len(layer_box.options) == len(ckpt.spec)
    assert layer_box.options[0].startswith("conv1 · conv ")
    for i, out in enumerate(outs):  # every layer renders: grid + enlarged map, or the vector view
        at = ok(at.selectbox(key="predict.layer").set_value(i).run())
        md = texts(at.markdown)
        if out.spatial:
            assert f"All {out.output.shape[0]} channels ({out.output.shape[1]}×{out.output.shape[2]} each)" in md
        else:
            assert "channels" not in md.split("Inside")[-1]
    # Colour-scale modes change the written value range.
    at = ok(at.selectbox(key="predict.layer").set_value(2).run())
    at = ok(at.segmented_control(key="predict.scale").set_value("global").run())
    lo, hi = value_ranges(outs, 2, "global")[0]
    assert f"every layer of the network: dark purple {lo:.3g} … yellow {hi:.3g}." in texts(at.caption)
    at = ok(at.segmented_control(key="predict.scale").set_value("map").run())
    assert "Each map uses its own range" in texts(at.caption)
    # Choosing a channel enlarges it and shows the filter that made it.
    at = ok(at.number_input(key="predict.channel").set_value(3).run())
    m = outs[2].output[3]
    assert f"Channel 3: min {float(m.min()):.3g}, max {float(m.max()):.3g}" in texts(at.caption)
    assert "Filter 3 of conv1" in texts(at.markdown)


def test_receptive_field_and_saliency_views(checkpoints, mnist):
    ckpt = load_checkpoint(checkpoints)
    at = ok(run_page(**{"predict.source": "test", "predict.test_index": 0}))
    at = ok(at.segmented_control(key="predict.view").set_value("rf").run())
    # The view opens on the deepest layer that still has a spatial map (whatever its type).
    deepest = max(r.index for r in summary(ckpt.spec).layers if len(r.output_shape) == 3)
    assert at.selectbox(key="predict.rf_layer").value == deepest
    at.number_input(key="predict.rf_row").set_value(1)
    at.number_input(key="predict.rf_col").set_value(2)
    at = ok(at.run())
    rf = receptive_field(ckpt.spec, deepest, 1, 2)
    assert (f"depends on input rows {rf.top}–{rf.bottom - 1} and columns {rf.left}–{rf.right - 1}: "
            f"a {rf.height}×{rf.width} pixel region" in texts(at.info))
    # Another map: the position jumps to where that map responds most.
    at = ok(at.selectbox(key="predict.rf_layer").set_value(0).run())  # the first conv: one kernel
    ckpt_pre = from_dataset_image(mnist.test_images[0].numpy(), ckpt.mean, ckpt.std)
    first = layer_outputs(ckpt.model, ckpt.spec, ckpt_pre.tensor)[0].output[0]
    r, c = (int(v) for v in np.unravel_index(int(first.argmax()), first.shape))
    assert (at.number_input(key="predict.rf_row").value, at.number_input(key="predict.rf_col").value) == (r, c)
    rf = receptive_field(ckpt.spec, 0, r, c)
    assert f"at row {r}, column {c} depends on input rows {rf.top}–{rf.bottom - 1}" in texts(at.info)
    if not rf.clipped:
        assert rf.width == rf.height == ckpt.spec[0]["kernel"]
    at = ok(at.segmented_control(key="predict.view").set_value("saliency").run())
    assert any(md.value.startswith("**Saliency for “") for md in at.markdown)
    at = ok(at.selectbox(key="predict.saliency_target").set_value(3).run())
    assert "**Saliency for “3” over the input**" in texts(at.markdown)


def test_explorer_in_chinese(checkpoints, mnist):
    at = ok(run_page("zh", **{"predict.source": "test", "predict.test_index": 0}))
    assert "个通道" in texts(at.markdown)
    options = at.selectbox(key="predict.layer").options
    assert options[0].startswith("卷积1 · 卷积 ") and "步幅" in options[0], "layer names and descriptions in Chinese"
    assert not any(w in " ".join(options) for w in ("conv", "stride", "pad ", "linear", "maxpool", "fc1"))
    at = ok(at.number_input(key="predict.channel").set_value(3).run())
    assert "卷积1" in texts(at.markdown), "the filter's layer too"
    at = ok(at.segmented_control(key="predict.view").set_value("rf").run())
    assert "像素区域" in texts(at.info)
    at = ok(at.segmented_control(key="predict.view").set_value("saliency").run())
    assert "的显著性" in texts(at.markdown)


# --------------------------------------------------------------------------- workspaces, gallery, limits

def _workspace_with(root: Path, *names: str, model_from: Path):
    """A fresh workspace under `root` holding a copy of the model at `model_from` under each name."""
    from core.workspace import Workspace

    ws = Workspace.create(root)
    source = load_checkpoint(model_from)
    for name in names:
        ws.save(name, source.model, {**source.meta, "name": name,
                                     "metrics": {**source.meta.get("metrics", {}), "test_accuracy": 0.9876}})
    return ws


def test_model_list_is_own_bundled_session_and_gallery_never_another_visitors(checkpoints, mnist):
    from app.session import _SECRET
    from core import gallery

    root = checkpoints.parent
    mine = _workspace_with(root, "my-digits", model_from=checkpoints)
    theirs = _workspace_with(root, "someone-elses-private", model_from=checkpoints)
    ckpt = load_checkpoint(checkpoints)
    plain = gallery.publish(ckpt.model, {**ckpt.meta, "name": "shared-plain",
                                         "metrics": {"test_accuracy": 0.9812}}, "Leo", theirs.id)
    star = gallery.publish(ckpt.model, {**ckpt.meta, "name": "shared-star",
                                        "metrics": {"test_accuracy": 0.9934}}, "Mia", theirs.id)
    gallery.set_featured(star.id, True)
    run = finished_run(mine.id, ckpt, {"test_accuracy": 0.9876})
    at = ok(run_page(**{_SECRET: mine.secret,
                        "predict.source": "test", "predict.test_index": 0}))
    box = at.selectbox(key="predict.model")
    labels = ([f"mnist-default — MNIST, {100 * ckpt.meta['metrics']['test_accuracy']:.2f}% test accuracy · "
               "ships with CNN Lab"] if TRAINED else [])
    labels += ["my-digits — MNIST, 98.76% test accuracy · your model",
               "Run 1 · custom · 98.8% — MNIST, unsaved (Train page)",
               "★ shared-star — by Mia · 99.34% test accuracy · class gallery",  # featured first
               "shared-plain — by Leo · 98.12% test accuracy · class gallery",
               "Upload a checkpoint…"]
    assert box.options == labels  # nothing of the other workspace's private models
    refs = (["bundled:mnist-default"] if TRAINED else []) + [
        "own:my-digits", run_ref(run.id), f"gallery:{star.id}", f"gallery:{plain.id}"]
    # Every kind of model predicts; a gallery model says where it comes from.
    for ref in refs:
        at = ok(at.selectbox(key="predict.model").set_value(ref).run())
        assert prediction(at) is not None, ref
        assert ("class gallery: shared by a classmate, read-only" in texts(at.caption)) == ref.startswith("gallery:")
    # A Train-page request for another visitor's file (an old "file:" path) never selects it.
    at = ok(run_page(**{_SECRET: mine.secret, PREDICT_REQUEST: {
        "model": f"file:{theirs.model_path('own:someone-elses-private')}", "test_index": 3}}))
    assert at.selectbox(key="predict.model").value != "own:someone-elses-private"
    assert at.number_input(key="predict.test_index").value == 3
    # ... while one for the visitor's own saved file opens it.
    at = ok(run_page(**{_SECRET: mine.secret, PREDICT_REQUEST: {
        "model": f"file:{mine.model_path('own:my-digits')}", "test_index": 4}}))
    assert at.selectbox(key="predict.model").value == "own:my-digits"


def test_another_visitor_sees_neither_workspace_models_nor_can_name_them(checkpoints):
    from app.session import _SECRET

    theirs = _workspace_with(checkpoints.parent, "private-one", model_from=checkpoints)
    at = ok(run_page(**{"predict.model": "own:private-one"}))  # a fresh visitor guessing the ref
    box = at.selectbox(key="predict.model")
    assert box.value != "own:private-one" and not any("private-one" in o for o in box.options)
    at = ok(run_page(**{_SECRET: theirs.secret}))
    assert any(o.startswith("private-one — ") for o in at.selectbox(key="predict.model").options)


def test_a_deleted_model_is_one_sentence(checkpoints, mnist):
    from app.session import _SECRET

    ws = _workspace_with(checkpoints.parent, "short-lived", model_from=checkpoints)
    at = ok(run_page(**{_SECRET: ws.secret, "predict.model": "own:short-lived", "predict.source": "test"}))
    assert prediction(at) is not None
    ws.delete("own:short-lived")  # in another tab
    at = ok(at.run())
    assert at.selectbox(key="predict.model").value != "own:short-lived" and not at.error


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_an_image_over_the_servers_limit_is_refused_before_reading(lang, checkpoints, monkeypatch):
    monkeypatch.setenv("CNN_LAB_MAX_IMAGE_MB", "1")
    at = ok(run_page(lang, **{"predict.source": "upload"}))
    uploader = at.file_uploader(key="predict.image_file")
    assert uploader.proto.max_upload_size_mb == 1  # the browser refuses bigger files itself
    at = ok(uploader.set_value(("big.png", b"\x89PNG" + b"\x00" * (3 * 2**19), "image/png")).run())
    expected = {"en": "The file is 1.5 MB; images may be at most 1 MB.",
                "zh": "文件大小为 1.5 MB，图像最大只能是 1 MB。"}
    assert [e.value for e in at.error] == [expected[lang]] and prediction(at, lang) is None


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_checkpoint_over_the_servers_limit_is_refused(lang, checkpoints, monkeypatch):
    monkeypatch.setenv("CNN_LAB_MAX_CHECKPOINT_MB", "0.25")
    at = ok(run_page(lang, **{"predict.model": "upload", "predict.source": "test"}))
    uploader = at.file_uploader(key="predict.model_file")
    assert uploader.proto.max_upload_size_mb == 1  # whole MB for the browser; core checks 0.25
    at = ok(uploader.set_value(("m.safetensors", checkpoints.read_bytes(), "application/octet-stream")).run())
    size = f"{checkpoints.stat().st_size / 2**10:.3g} KB"
    expected = {"en": f"This model cannot be used on this server: the file is {size} — this server "
                      "accepts checkpoints of at most 256 KB.",
                "zh": f"此模型无法在本服务器上使用：文件大小为 {size}——本服务器只接受不超过 256 KB 的检查点。"}
    assert [e.value for e in at.error] == [expected[lang]] and prediction(at, lang) is None


def test_a_checkpoint_declaring_a_huge_conv_is_refused_before_building(checkpoints, monkeypatch):
    """Issue 12: a small file whose metadata declares conv out 4096, padding 50 once drove the
    server to gigabytes before failing; it must be refused from its header alone."""
    import json

    import core.checkpoint
    from safetensors.torch import save as save_bytes

    built = []
    real_build = core.checkpoint.build_model
    monkeypatch.setattr(core.checkpoint, "build_model", lambda *a, **k: built.append(a) or real_build(*a, **k))
    spec = [{"type": "conv", "out": 4096, "kernel": 1, "padding": 50}, {"type": "relu"},
            {"type": "flatten"}, {"type": "linear", "out": 10}]
    data = save_bytes({"0.weight": torch.zeros(1)},
                      metadata={"cnn_lab": json.dumps(make_metadata(spec, "mnist", name="huge"))})
    at = ok(run_page(**{"predict.model": "upload", "predict.source": "test"}))
    at = ok(at.file_uploader(key="predict.model_file").set_value(("huge.safetensors", data, "application/octet-stream")).run())
    assert [e.value for e in at.error] == [
        "This model cannot be used on this server: padding 50 — this server allows at most 14."]
    assert built == [] and prediction(at) is None


# --------------------------------------------------------------------------- calibrated confidence

@pytest.mark.parametrize("lang", ["en", "zh"])
def test_calibrated_confidence_by_default_and_raw_one_click_away(lang, checkpoints, mnist):
    """Issue 14 §2: a model with a fitted temperature shows softmax(logits / T) wherever the page
    shows a probability; the toggle shows the raw softmax; the caption says why they differ."""
    from core.checkpoint import from_model
    from core.features import probabilities

    ckpt = load_checkpoint(checkpoints)
    meta = {k: v for k, v in ckpt.meta.items() if k != "calibration"}
    calibrated_model = from_model(ckpt.model, {**meta, "calibration": {"temperature": 0.5}})
    pre = from_dataset_image(mnist.test_images[0].numpy(), ckpt.mean, ckpt.std)
    outs = layer_outputs(ckpt.model, ckpt.spec, pre.tensor)
    raw, scaled = probabilities(outs), probabilities(outs, 0.5)
    top = int(raw.argmax())
    ws = Workspace.create()
    cal_run = finished_run(ws.id, calibrated_model, {"calibration": {"temperature": 0.5}})
    at = ok(run_page(lang, **{_SECRET: ws.secret, "predict.model": run_ref(cal_run.id),
                              "predict.source": "test", "predict.test_index": 0}))
    toggle = at.toggle(key="predict.calibrated")
    assert toggle.value is True and toggle.label == {"en": "Calibrated confidence", "zh": "校准后的置信度"}[lang]
    assert prediction(at, lang) == (str(top), round(100 * scaled[top], 1))
    why = {"en": "label smoothing", "zh": "标签平滑"}[lang]
    caption = {"en": f"Calibrated with temperature T = 0.50 (raw softmax: {100 * raw[top]:.1f}%).",
               "zh": f"已用温度 T = 0.50 校准（原始 softmax：{100 * raw[top]:.1f}%）。"}[lang]
    assert caption in texts(at.caption) and why in texts(at.caption)
    # The saliency target list shows the same (calibrated) numbers.
    at = ok(at.segmented_control(key="predict.view").set_value("saliency").run())
    assert f"{top} ({100 * scaled[top]:.1f}%)" in at.selectbox(key="predict.saliency_target").options
    # One click: the raw softmax, everywhere; the predicted class is the same.
    at = ok(at.toggle(key="predict.calibrated").set_value(False).run())
    assert prediction(at, lang) == (str(top), round(100 * raw[top], 1))
    assert f"{top} ({100 * raw[top]:.1f}%)" in at.selectbox(key="predict.saliency_target").options
    raw_caption = {"en": f"Raw softmax (calibrated with T = 0.50: {100 * scaled[top]:.1f}%).",
                   "zh": f"原始 softmax（用 T = 0.50 校准后：{100 * scaled[top]:.1f}%）。"}[lang]
    assert raw_caption in texts(at.caption)
    # A model without a fitted temperature: the raw softmax, with a note, and no toggle.
    plain = from_model(ckpt.model, meta)
    plain_run = finished_run(ws.id, plain)
    at = ok(run_page(lang, **{_SECRET: ws.secret, "predict.model": run_ref(plain_run.id),
                              "predict.source": "test", "predict.test_index": 0}))
    assert not at.toggle and prediction(at, lang) == (str(top), round(100 * raw[top], 1))
    assert {"en": "no fitted temperature", "zh": "没有拟合好的温度"}[lang] in texts(at.caption)


# --------------------------------------------------------------------------- random test samples

def sample_grid(at: AppTest) -> dict:
    """The spec of the test-set input's sample grid (its tiles' hover texts carry the indices)."""
    import json

    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    grids = [s for s in specs if any(d.get("type") == "image" for d in s["data"])]
    assert len(grids) == 1
    return grids[0]


def grid_indices(spec: dict) -> list[int]:
    return [int(h.split("#", 1)[1].split("<", 1)[0]) for h in spec["data"][1]["hovertext"]]


@pytest.mark.parametrize("lang, title, wrong_mark", [("en", "Or pick one of these", "true"),
                                                     ("zh", "或者从这些图像中挑一张", "实为")])
def test_test_set_input_offers_random_samples_with_this_models_answers(lang, title, wrong_mark, checkpoints, mnist):
    from core.calibration import temperature_from_meta
    from core.samples import draw_indices, predict

    at = ok(run_page(lang, **{"predict.source": "test", "predict.test_index": 0}))
    assert title in texts(at.markdown)
    spec = sample_grid(at)
    n = len(mnist.test_labels)
    indices = draw_indices(n, 12, 0)
    assert grid_indices(spec) == indices.tolist(), "12 by default, the first seeded draw"
    ckpt = load_checkpoint(checkpoints)
    expected = predict(ckpt.model, mnist.test_images, mnist.test_labels, indices, ckpt.mean, ckpt.std,
                       temperature_from_meta(ckpt.meta))
    tiles = [a["text"] for a in spec["layout"]["annotations"]]
    for k, text in enumerate(tiles):    # the model's answer and confidence; a mistake with its true label
        assert text.startswith(f"{expected.predicted[k]} · {100 * expected.confidence[k]:.0f}%")
        assert (wrong_mark in text) == (not expected.correct[k])
    at = ok(at.button(key="predict.reshuffle").click().run())
    assert grid_indices(sample_grid(at)) == draw_indices(n, 12, 1).tolist(), "Reshuffle: the next seed"
    at = ok(at.segmented_control(key="predict.samples_n").set_value(6).run())
    assert grid_indices(sample_grid(at)) == draw_indices(n, 6, 1).tolist()


def test_the_current_test_image_is_outlined_in_the_sample_grid(checkpoints, mnist):
    from core.samples import draw_indices

    first = int(draw_indices(len(mnist.test_labels), 12, 0)[3])
    at = ok(run_page(**{"predict.source": "test", "predict.test_index": first}))
    assert len(sample_grid(at)["layout"].get("shapes", [])) == 1, "the input is one of the draw"
    at = ok(at.number_input(key="predict.test_index").set_value(
        next(i for i in range(100) if i not in draw_indices(len(mnist.test_labels), 12, 0))).run())
    assert not sample_grid(at)["layout"].get("shapes"), "not in the draw: nothing outlined"


# --------------------------------------------------------------------------- runs listed on demand

def test_a_run_that_finishes_while_predict_is_open_is_offered_on_the_next_run(checkpoints):
    """Issue 19: the model list is built from the job manager each run (app.models), keyed by the
    run's id; a run of another visitor is never listed, and naming it gets one sentence."""
    ckpt = load_checkpoint(checkpoints)
    ws, other = Workspace.create(), Workspace.create()
    at = ok(run_page(**{_SECRET: ws.secret}))
    assert not any(o.startswith("run:") for o in at.selectbox(key="predict.model").options)
    job = finished_run(ws.id, ckpt, {"test_accuracy": 0.9876})
    theirs = finished_run(other.id, ckpt)
    at = ok(at.run())
    box = at.selectbox(key="predict.model")
    runs = [o for o in box.options if "unsaved (Train page)" in o]
    assert runs == ["Run 1 · custom · 98.8% — MNIST, unsaved (Train page)"]
    at = ok(box.set_value(run_ref(job.id)).run())
    assert at.selectbox(key="predict.model").value == run_ref(job.id)
    at = ok(run_page(**{_SECRET: ws.secret, PREDICT_REQUEST: {"model": run_ref(theirs.id), "test_index": 0}}))
    assert at.selectbox(key="predict.model").value != run_ref(theirs.id), "another visitor's run is not an option"
