"""Predict: draw, upload or pick a digit, watch the model decide, and look inside it.

The page only wires widgets to core: preprocessing (core.preprocess), models (core.checkpoint),
activations, receptive fields and saliency (core.features). Per-user state lives in
st.session_state under keys starting with "predict."; models are cached per server process.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import plotly.graph_objects as go
import streamlit as st

from app.session import workspace
from app.shell import ensure_app_shell
from app.state import PERSIST, PREDICT_REQUEST, SESSION_MODELS
from app.ui import cached_dataset, lang, load_saved_checkpoint, t
from core import gallery
from core.checkpoint import CheckpointError, load_checkpoint_bytes
from core.data import DATASETS, DataError, is_available
from core.calibration import calibration_from_meta, temperature_from_meta
from core.canvas import decode_canvas_png
from core.samples import DEFAULT_COUNT, SAMPLE_COUNTS, draw_indices
from core.samples import predict as predict_samples
from core.features import (
    SCALE_MODES, conv_filters, input_gradient, layer_outputs, probabilities, receptive_field,
    run_inference, saliency, source_conv, value_ranges,
)
from core.figures import PLOT_CONFIG
from core.figures.samples import picked_index, samples_figure
from core.figures.predict import (ACTIVATION_SCALE, channel_grid_figure, fmt, kernel_grid_figure, map_figure,
                                  pixel_tile, probability_figure, square_axes)
from core.images import EXTENSIONS, ImageError, check_image_size, fit_within, load_image_bytes
from core.limits import MB, LimitError, check_size
from core.limits import current as current_limits
from core.layers import describe, localize_label
from core.models import layer_label, normalize_layer, summary
from core.preprocess import Preprocessed, from_dataset_image, preprocess
from core.workspace import display_name

CANVAS_SIZE = 280
LOW_CONFIDENCE = 0.5
MAX_GRID_CHANNELS = 256


class K:
    """This page's session-state keys ("predict.<name>"; the convention is in app/state.py)."""
    MODEL, SOURCE, INDEX = "predict.model", "predict.source", "predict.test_index"
    CANVAS_GEN, FROM_TRAIN, STROKE = "predict.canvas_gen", "predict.from_train", "predict.stroke"
    LAYER, SCALE, CHANNEL, GRID = "predict.layer", "predict.scale", "predict.channel", "predict.grid"
    RF_LAYER, RF_CHANNEL, RF_ROW, RF_COL = "predict.rf_layer", "predict.rf_channel", "predict.rf_row", "predict.rf_col"
    RF_SHOWN, RF_GRAD, RF_MAP = "predict.rf_shown", "predict.rf_grad", "predict.rf_map"
    VIEW, TARGET, CALIBRATED = "predict.view", "predict.saliency_target", "predict.calibrated"
    MODEL_FILE, UPLOADED = "predict.model_file", "predict.uploaded_model"
    IMAGE_FILE, UPLOAD_CACHE, DATA_FAILED = "predict.image_file", "predict.upload_cache", "predict.data_failed"
    SAMPLES, SAMPLES_N, SAMPLES_SEED = "predict.samples", "predict.samples_n", "predict.samples_seed"
    SAMPLES_CACHE = "predict.samples_cache"

    @staticmethod
    def canvas(generation: int) -> str:
        """The canvas widget's key; a new generation is a cleared canvas."""
        return f"predict.canvas.{generation}"


MAX_UPLOAD_SIDE = 1024  # photos are shrunk to this first: the digit ends up 20 px tall anyway


@dataclass(frozen=True)
class InputInfo:
    """Where the input came from and, when there is none to predict, why not."""
    kind: str                              # "draw", "upload" or "test"
    name: str | None = None                # an upload's file name
    original: tuple[int, int] | None = None  # an upload's (height, width) before shrinking
    index: int | None = None               # a test image's index ...
    label: int | None = None               # ... and its true class
    error: str | None = None               # a sentence to show instead of a prediction
    error_shown: bool = False              # the input already showed its own error
    waiting: bool = False                  # no file uploaded yet


# --------------------------------------------------------------------------- state helpers

def _train_request_model(ref) -> str | None:
    """The model a Train-page request names, as an option of this page's selector.

    Refs are "own:<stem>", "bundled:<stem>", "gallery:<id>" or "session:<name>". An older
    "file:<path>" is accepted only for a file of this visitor's workspace or a bundled model:
    a path never reaches another visitor's models."""
    if not isinstance(ref, str):
        return None
    if not ref.startswith("file:"):
        return ref
    path = Path(ref.removeprefix("file:"))
    ws = workspace()
    for entry in ws.list_models():
        if ws.model_path(entry.ref) == path:
            return entry.ref
    return None


def _apply_train_request() -> None:
    """A mistake sent from the Train page: select its model and test image (before any widget)."""
    request = st.session_state.pop(PREDICT_REQUEST, None)
    if not request:
        return
    model = _train_request_model(request.get("model"))
    if model is not None:
        st.session_state[K.MODEL] = model
    st.session_state[K.SOURCE] = "test"
    st.session_state[K.INDEX] = int(request.get("test_index", 0))
    st.session_state[K.FROM_TRAIN] = int(request.get("test_index", 0))
    st.session_state[K.VIEW] = "maps"


def _keep_valid(key: str, options, default) -> None:
    """Reset a widget's stored value when it is not among the current options (model changed)."""
    if key in st.session_state and st.session_state[key] not in options:
        st.session_state[key] = default


def _labels(group: str, options) -> dict[str, str]:
    """Option -> translated label, computed now (a format_func must not depend on when it runs)."""
    return {o: t(f"predict.{group}_{o}") for o in options}


def _clamp(key: str, low: int, high: int, default: int) -> None:
    value = st.session_state.get(key, default)
    st.session_state[key] = int(min(max(value if isinstance(value, int) else default, low), high))


# --------------------------------------------------------------------------- model

def _accuracy(meta: dict) -> float | None:
    metrics = meta.get("metrics") or {}
    value = metrics.get("test_accuracy", metrics.get("accuracy"))
    return float(value) if isinstance(value, (int, float)) else None


def _dataset_title(name: str) -> str:
    info = DATASETS.get(name)
    return info.title if info else str(name)


def _pct(acc: float | None) -> str:
    return "?" if acc is None else f"{100 * acc:.2f}"


def _model_label(meta: dict, kind: str, name: str | None = None) -> str:
    """"mnist-default — MNIST, 99.52% test accuracy · ships with CNN Lab" (kind: bundled, own,
    session)."""
    acc = _accuracy(meta)
    dataset = _dataset_title(meta.get("dataset", "?"))
    name = name or display_name(meta.get("name"))
    if kind == "session":
        return t("predict.model_label_session", name=name, dataset=dataset)
    text = (t("predict.model_label_noacc", name=name, dataset=dataset) if acc is None
            else t("predict.model_label", name=name, dataset=dataset, acc=_pct(acc)))
    return text + " · " + t(f"predict.model_kind_{kind}")


def _gallery_label(entry) -> str:
    """"★ digits-v2 — by Mia · 98.91% test accuracy · class gallery" (the star: featured)."""
    key = "predict.model_label_gallery" if entry.test_accuracy is not None else "predict.model_label_gallery_noacc"
    text = t(key, name=entry.name, nickname=entry.nickname, acc=_pct(entry.test_accuracy))
    return ("★ " if entry.featured else "") + text


def _model_options() -> dict[str, str]:
    """Option -> label: the bundled models and this visitor's own (their workspace), this
    session's unsaved runs, the class gallery (featured first), and "upload". Never another
    visitor's private models: only the workspace lists saved files."""
    options: dict[str, str] = {}
    for entry in workspace().list_models():
        options[entry.ref] = _model_label(entry.meta, "bundled" if entry.bundled else "own", entry.name)
    for name, ckpt in (st.session_state.get(SESSION_MODELS) or {}).items():
        options[f"session:{name}"] = _model_label(ckpt.meta, "session", name)
    for entry in gallery.list_entries():
        options[f"gallery:{entry.id}"] = _gallery_label(entry)
    options["upload"] = t("predict.model_upload")
    return options


def _load_model(choice: str):
    """The chosen model, loaded once per file and modification time (shared by all sessions)."""
    kind, _, rest = choice.partition(":")
    if kind == "session":
        return st.session_state[SESSION_MODELS][rest]
    path = gallery.model_path(rest) if kind == "gallery" else workspace().model_path(choice)
    return load_saved_checkpoint(path)


def _model_error(error: Exception) -> str:
    """One sentence, in the visitor's language where the reason is known."""
    limit = getattr(error, "limit", None)
    if limit is not None:
        return t("predict.model_error_limit", reason=t(f"train.limit_{limit.key}", **limit.details))
    code = getattr(error, "code", None)
    if code in ("no_model", "no_entry"):
        return t(f"predict.model_error_{code}")
    if isinstance(error, KeyError):  # an unsaved run that is gone (a new session)
        return t("predict.model_error_no_model")
    return t("predict.model_error", reason=str(error))


def _choose_model():
    """The model selector; returns a core.checkpoint.Checkpoint or None (with a message shown)."""
    options = _model_options()
    keys = list(options)
    _keep_valid(K.MODEL, keys, keys[0])
    choice = st.selectbox(t("predict.model"), keys, format_func=options.get, key=K.MODEL,
                          **PERSIST, help=t("predict.model_help"))
    if choice == "upload":
        if len(keys) == 1:
            st.info(t("predict.no_models"))
        return _uploaded_model()
    try:
        ckpt = _load_model(choice)
    except (CheckpointError, OSError, KeyError) as e:
        st.error(_model_error(e))
        return None
    if choice.startswith("gallery:"):
        st.caption(t("predict.gallery_note"))
    return ckpt


def _upload_limit_mb(limit: int | None) -> int | None:
    """A byte limit as st.file_uploader's max_upload_size (whole MB, at least 1): the browser
    refuses a bigger file before sending it; core checks the exact limit again."""
    return None if limit is None else max(1, math.ceil(limit / MB))


def _uploaded_model():
    limits = current_limits()
    file = st.file_uploader(t("predict.model_upload_label"), type=["safetensors"],
                            key=K.MODEL_FILE, help=t("predict.model_upload_help"),
                            max_upload_size=_upload_limit_mb(limits.max_checkpoint_bytes))
    if file is None:
        st.session_state.pop(K.UPLOADED, None)
        return None
    cached = st.session_state.get(K.UPLOADED)
    if cached and cached[0] == file.file_id:
        return cached[1]
    source = display_name(file.name, "the file")  # the name is the visitor's: no markup
    try:
        check_size("checkpoint_bytes", file.size, limits)  # before the bytes are read
        ckpt = load_checkpoint_bytes(file.getvalue(), source, limits=limits)
    except LimitError as e:
        st.error(t("predict.model_error_limit", reason=t(f"train.limit_{e.key}", **e.details)))
        return None
    except CheckpointError as e:
        st.error(_model_error(e))
        return None
    st.session_state[K.UPLOADED] = (file.file_id, ckpt)
    return ckpt


def _model_caption(ckpt) -> str:
    info = summary(ckpt.spec, num_classes=None)
    convs = sum(1 for layer in ckpt.spec if layer["type"] == "conv")
    acc = _accuracy(ckpt.meta)
    text = t("predict.model_caption", dataset=_dataset_title(ckpt.dataset), classes=len(ckpt.classes),
             layers=len(ckpt.spec), convs=convs, params=f"{info.total_params:,}")
    if acc is not None:
        text += " · " + t("predict.model_caption_acc", acc=f"{100 * acc:.2f}")
    return text


# --------------------------------------------------------------------------- input

def _clear_canvas() -> None:
    st.session_state.pop(K.canvas(st.session_state.get(K.CANVAS_GEN, 0)), None)
    st.session_state[K.CANVAS_GEN] = st.session_state.get(K.CANVAS_GEN, 0) + 1


def _draw_input(ckpt) -> tuple[Preprocessed | None, InputInfo]:
    from streamlit_drawable_canvas import st_canvas

    width = st.slider(t("predict.stroke_width"), 4, 40, 20, key=K.STROKE,
                      **PERSIST, help=t("predict.stroke_help"))
    gen = st.session_state.setdefault(K.CANVAS_GEN, 0)
    result = st_canvas(stroke_width=width, stroke_color="#000000", background_color="#FFFFFF",
                       update_streamlit=True, height=CANVAS_SIZE, width=CANVAS_SIZE,
                       drawing_mode="freedraw", return_image_data=True, key=K.canvas(gen))
    cols = st.columns([1, 2], vertical_alignment="center")
    cols[0].button(t("predict.clear"), on_click=_clear_canvas, icon=":material/delete:",
                   key="predict.clear")
    cols[1].caption(t("predict.canvas_hint"))
    objects = (result.json_data or {}).get("objects") or []
    png = result.image_bytes if objects else None
    if not png:
        return None, InputInfo("draw")
    try:
        image = decode_canvas_png(png)
    except ValueError:  # a truncated message from the browser: treat as not drawn yet
        return None, InputInfo("draw")
    return preprocess(image, ckpt.mean, ckpt.std), InputInfo("draw")


def _upload_input(ckpt) -> tuple[Preprocessed | None, InputInfo]:
    limits = current_limits()
    max_mb = _upload_limit_mb(limits.max_image_bytes)
    file = st.file_uploader(t("predict.upload_label"), type=list(EXTENSIONS), key=K.IMAGE_FILE,
                            help=t("predict.upload_help", max_mb=max_mb or "—"),
                            max_upload_size=max_mb)
    if file is None:
        st.session_state.pop(K.UPLOAD_CACHE, None)
        return None, InputInfo("upload", waiting=True)
    # Every click in the explorer reruns the page: decode and preprocess each upload only once.
    key = (file.file_id, ckpt.mean, ckpt.std)
    cached = st.session_state.get(K.UPLOAD_CACHE)
    if cached and cached[0] == key:
        return cached[1], cached[2]
    try:
        check_image_size(file.size, limits)  # before the bytes are read
        image = load_image_bytes(file.getvalue(), limits)
    except ImageError as e:
        return None, InputInfo("upload", error=t(f"predict.image_error_{e.code}", **e.details))
    info = InputInfo("upload", name=file.name, original=image.shape[:2])
    pre = preprocess(fit_within(image, MAX_UPLOAD_SIDE), ckpt.mean, ckpt.std)
    st.session_state[K.UPLOAD_CACHE] = (key, pre, info)
    return pre, info


def _random_index(n: int) -> None:
    st.session_state[K.INDEX] = int(np.random.default_rng().integers(n))


def _retry_data(dataset: str) -> None:
    st.session_state.get(K.DATA_FAILED, {}).pop(dataset, None)


def _test_data(dataset: str):
    """The model's dataset (downloaded on first use, with a spinner), or None after showing why not.

    A failed download is remembered for the session: without it every rerun of the page would
    wait for the network again. A button tries again."""
    failed = st.session_state.setdefault(K.DATA_FAILED, {})
    if dataset not in failed:
        try:
            if is_available(dataset):
                return cached_dataset(dataset)
            with st.spinner(t("predict.downloading", dataset=_dataset_title(dataset))):
                return cached_dataset(dataset)
        except DataError as e:
            failed[dataset] = str(e)
    st.error(t("predict.data_error", reason=failed[dataset]))
    st.button(t("predict.data_retry"), on_click=_retry_data, args=(dataset,), key="predict.data_retry",
              icon=":material/refresh:")
    return None


def _test_input(ckpt) -> tuple[Preprocessed | None, InputInfo]:
    data = _test_data(ckpt.dataset)
    if data is None:
        return None, InputInfo("test", error_shown=True)
    n = len(data.test_labels)
    _clamp(K.INDEX, 0, n - 1, 0)
    cols = st.columns([3, 2], vertical_alignment="bottom")
    index = cols[0].number_input(t("predict.test_index", last=n - 1), 0, n - 1, step=1, key=K.INDEX)
    cols[1].button(t("predict.random"), on_click=_random_index, args=(n,), icon=":material/casino:",
                   key="predict.random")
    image = data.test_images[int(index)].numpy()
    label = int(data.test_labels[int(index)])
    st.image(pixel_tile(image / 255.0, 168), caption=t("predict.test_caption", index=int(index),
                                                     label=ckpt.classes[label]))
    if st.session_state.get(K.FROM_TRAIN) == int(index):
        st.info(t("predict.from_train"))
    _test_samples(ckpt, data, int(index))
    pre = from_dataset_image(image, ckpt.mean, ckpt.std)
    return pre, InputInfo("test", index=int(index), label=label)


SAMPLE_COLUMNS, SAMPLE_GRID_PX = 6, 380  # the input column fits six tiles of about 60 px


def _reshuffle_samples() -> None:
    st.session_state[K.SAMPLES_SEED] = st.session_state.get(K.SAMPLES_SEED, 0) + 1


def _pick_sample(drawn) -> None:
    """on_select of the sample grid: the clicked test image becomes the input."""
    index = picked_index(st.session_state.get(K.SAMPLES), drawn)
    if index is not None:
        st.session_state[K.INDEX] = index


def _test_samples(ckpt, data, current: int) -> None:
    """A random draw of test images with this model's answers (one batch); a click on one makes
    it the input. The confidence is the one the prediction shows (calibrated unless switched off)."""
    st.markdown(f"**{t('samples.pick_title')}**")
    st.session_state.setdefault(K.SAMPLES_N, DEFAULT_COUNT)
    c1, c2 = st.columns([2, 1], vertical_alignment="bottom")
    count = c1.segmented_control(t("samples.count"), SAMPLE_COUNTS, key=K.SAMPLES_N, required=True,
                                 help=t("samples.count_help"), **PERSIST)
    c2.button(t("samples.reshuffle"), icon="🔀", on_click=_reshuffle_samples, key="predict.reshuffle",
              help=t("samples.reshuffle_help"))
    indices = draw_indices(len(data.test_labels), int(count), st.session_state.get(K.SAMPLES_SEED, 0))
    temperature = _temperature(ckpt)
    if temperature is None or not st.session_state.get(K.CALIBRATED, True):
        temperature = 1.0
    # The page reruns on every click in the explorer: run the model on the draw only when it changed.
    # (The cache keeps the model too, so its id cannot be reused by another while cached.)
    key = (st.session_state.get(K.MODEL), id(ckpt.model), tuple(indices.tolist()), temperature)
    cached = st.session_state.get(K.SAMPLES_CACHE)
    if cached and cached[0] == key:
        drawn = cached[1]
    else:
        drawn = run_inference(predict_samples, ckpt.model, data.test_images, data.test_labels, indices,
                              ckpt.mean, ckpt.std, temperature)
        st.session_state[K.SAMPLES_CACHE] = (key, drawn, ckpt.model)
    images = data.test_images.numpy()[drawn.indices]
    st.plotly_chart(samples_figure(images, drawn, ckpt.classes, t, columns=SAMPLE_COLUMNS,
                                   width_px=SAMPLE_GRID_PX, selected=current, clickable=True),
                    config=PLOT_CONFIG, key=K.SAMPLES, width="content", on_select=lambda: _pick_sample(drawn),
                    selection_mode="points")
    st.caption(t("samples.pick_hint"))


def _input(ckpt) -> tuple[Preprocessed | None, InputInfo]:
    sources = ("draw", "upload", "test")
    _keep_valid(K.SOURCE, sources, "draw")
    st.session_state.setdefault(K.SOURCE, "draw")
    source = st.segmented_control(t("predict.source"), sources, required=True,
                                  format_func=_labels("source", sources).get, key=K.SOURCE,
                                  **PERSIST)
    if source == "upload":
        return _upload_input(ckpt)
    if source == "test":
        return _test_input(ckpt)
    return _draw_input(ckpt)


# --------------------------------------------------------------------------- small figures

# --------------------------------------------------------------------------- prediction + steps

def _temperature(ckpt) -> float | None:
    """The softmax temperature fitted after the model's training, or None when it has none (an
    older checkpoint, or a run without a hold-out): its probabilities are then the raw softmax."""
    record = calibration_from_meta(ckpt.meta)
    fitted = record.get("temperature") if record else None
    if not isinstance(fitted, (int, float)) or isinstance(fitted, bool):
        return None
    temperature = temperature_from_meta(ckpt.meta)
    return temperature if temperature == float(fitted) else None  # out of range: ignored


def _pct1(p: float) -> str:
    return f"{100 * p:.1f}"


def _show_prediction(ckpt, outputs, info: InputInfo) -> np.ndarray:
    """The prediction, its probabilities (calibrated by default, raw one click away) and why the
    two differ; returns the probabilities shown, for the rest of the page."""
    temperature = _temperature(ckpt)
    raw = probabilities(outputs)
    calibrated = probabilities(outputs, temperature) if temperature is not None else None
    st.session_state.setdefault(K.CALIBRATED, True)
    use_calibrated = calibrated is not None and bool(st.session_state[K.CALIBRATED])
    probs = calibrated if use_calibrated else raw
    top = int(probs.argmax())  # the same class either way: scaling keeps the order
    classes = [str(c) for c in ckpt.classes]
    st.markdown(f"### {t('predict.prediction', label=classes[top], pct=_pct1(probs[top]))}")
    if calibrated is not None:
        st.toggle(t("predict.calib_toggle"), key=K.CALIBRATED, help=t("predict.calib_toggle_help"), **PERSIST)
        shown_t = f"{temperature:.2f}"
        note = (t("predict.calib_caption", t=shown_t, raw=_pct1(raw[top])) if use_calibrated
                else t("predict.calib_caption_raw", t=shown_t, calibrated=_pct1(calibrated[top])))
        st.caption(note + " " + t("predict.calib_why"))
    else:
        st.caption(t("predict.calib_none"))
    true = info.label
    if true is not None:
        key = "predict.true_right" if true == top else "predict.true_wrong"
        (st.success if true == top else st.error)(t(key, label=classes[true]))
    if probs[top] < LOW_CONFIDENCE:
        st.warning(t("predict.low_confidence", pct=_pct1(probs[top])))
    st.plotly_chart(probability_figure(probs, classes, top, true, t), config=PLOT_CONFIG,
                    key="predict.probs")
    return probs


def _show_steps(pre: Preprocessed, info: InputInfo) -> None:
    steps = pre.steps
    if info.kind == "test":
        st.caption(t("predict.steps_dataset_note"))
        return
    h, w = steps["input"].shape
    ink = np.dstack([steps["ink"]] * 3)
    if pre.bbox is not None:
        top, left, bottom, right = pre.bbox
        thick = max(1, round(max(h, w) / 140))
        cv2.rectangle(ink, (left, top), (right - 1, bottom - 1), (1.0, 0.25, 0.1), thick)
    ch, cw = steps["cropped"].shape
    sh, sw = steps["scaled"].shape
    shown = [
        (steps["input"], t("predict.step_input", w=w, h=h) if info.original in (None, (h, w))
         else t("predict.step_input_shrunk", w=w, h=h, ow=info.original[1], oh=info.original[0])),
        (ink, t("predict.step_ink_inverted") if pre.inverted else t("predict.step_ink")),
        (steps["cropped"], t("predict.step_cropped", w=cw, h=ch)),
        (steps["scaled"], t("predict.step_scaled", w=sw, h=sh)),
        (steps["centered"], t("predict.step_centered")),
    ]
    cols = st.columns(len(shown))
    for col, (img, caption) in zip(cols, shown):
        col.image(pixel_tile(img), caption=caption, width=140)


# --------------------------------------------------------------------------- feature maps

def _layer_options(ckpt, outputs) -> dict[int, str]:
    """Layer index -> "conv2 · conv 32, 3×3, stride 1, pad 1 → 32×14×14" (in the visitor's language)."""
    labels = {}
    for i, out in enumerate(outputs):
        text = f"{localize_label(out.name, lang())} · {describe(normalize_layer(ckpt.spec[i], i), lang())}"
        if ckpt.spec[i]["type"] != "linear":  # "linear → 10" already says its size
            text += " → " + "×".join(str(s) for s in out.output.shape)
        labels[i] = text
    return labels


def _select_channel(chart_key: str, channel_key: str) -> None:
    """on_select callback of a channel grid: the clicked tile becomes the enlarged channel."""
    event = st.session_state.get(chart_key)
    points = (event or {}).get("selection", {}).get("points", []) if event else []
    for p in points:
        if p.get("curve_number") == 1 and p.get("point_index") is not None:
            st.session_state[channel_key] = int(p["point_index"])
            return


def _filter_section(ckpt, layer: int, channel: int) -> None:
    """The weights of the filter that produced `channel` (the layer's own, or the conv before it)."""
    src = source_conv(ckpt.spec, layer)
    if src is None:
        return
    weights, bias = conv_filters(ckpt.model, src)
    kernel = weights[channel]                     # [in, k, k]
    n_in, k = kernel.shape[0], kernel.shape[1]
    name = _layer_name(ckpt, src)
    st.markdown(f"**{t('predict.filter_title', layer=name, channel=channel)}**")
    left, right = st.columns([2, 3])
    with left:
        limit = float(np.abs(kernel).max()) or 1.0
        fig = (map_figure(kernel[0], -limit, limit, "RdBu_r", height=240, text=k <= 7, t=t) if n_in == 1
               else kernel_grid_figure(kernel, limit, 60))
        st.plotly_chart(fig, config=PLOT_CONFIG, key="predict.filter_fig")
    with right:
        caption = t("predict.filter_caption", n_in=n_in, k=k, bias=fmt(float(bias[channel])))
        if src != layer:
            caption += " " + t("predict.filter_caption_source", src=name,
                               layer=_layer_name(ckpt, layer))
        st.caption(caption)
        if n_in == 1 and weights.shape[0] > 1:
            st.markdown(t("predict.all_filters", layer=name, n=weights.shape[0]))
            limit = float(np.abs(weights).max()) or 1.0
            st.plotly_chart(kernel_grid_figure(weights[:, 0], limit, 70), config=PLOT_CONFIG,
                            key="predict.all_filters_fig")


def _layer_name(ckpt, index: int) -> str:
    return localize_label(layer_label(ckpt.spec, index), lang())  # "conv2", "卷积2"


def _flat_section(ckpt, outputs, layer: int, mode: str) -> None:
    values = outputs[layer].output.numpy()
    if layer == len(outputs) - 1:
        classes = [str(c) for c in ckpt.classes]
        fig = go.Figure(go.Bar(x=classes, y=values, marker_color=["#1c7ed6" if v == values.max()
                                                                   else "#9aa5b1" for v in values],
                               hovertemplate="%{x}: %{y:.3f}<extra></extra>"))
        fig.update_layout(height=300, margin=dict(l=10, r=10, t=10, b=10),
                          xaxis=dict(type="category"), yaxis=dict(title=t("predict.logit_axis")))
        st.plotly_chart(fig, config=PLOT_CONFIG, key="predict.flat_fig")
        st.caption(t("predict.logits_caption"))
        return
    ranges = value_ranges(outputs, layer, "layer" if mode == "map" else mode)
    lo, hi = ranges[0]
    prev = outputs[layer - 1].output if layer > 0 else None
    if ckpt.spec[layer]["type"] == "flatten" and prev is not None and prev.dim() == 3:
        width = prev.shape[1] * prev.shape[2]
        note = t("predict.flatten_caption", c=prev.shape[0], h=prev.shape[1], w=prev.shape[2],
                 n=values.size)
    else:
        width = 32 if values.size > 32 else values.size
        note = t("predict.flat_caption", n=values.size, width=width)
    rows = math.ceil(values.size / width)
    padded = np.full(rows * width, np.nan)
    padded[:values.size] = values
    fig = go.Figure(go.Heatmap(z=padded.reshape(rows, width), zmin=lo, zmax=hi,
                               colorscale=ACTIVATION_SCALE, colorbar=dict(thickness=12, len=0.9),
                               customdata=np.arange(rows * width).reshape(rows, width),
                               hovertemplate=t("predict.unit_hover") + "<extra></extra>"))
    fig.update_layout(height=int(min(700, max(120, rows * 900 / width + 20))),
                      margin=dict(l=4, r=4, t=4, b=4))
    square_axes(fig)
    st.plotly_chart(fig, config=PLOT_CONFIG, key="predict.flat_fig")
    st.caption(note + " " + t("predict.range_caption", lo=fmt(lo), hi=fmt(hi)))


def _feature_maps(ckpt, outputs) -> None:
    labels = _layer_options(ckpt, outputs)
    _keep_valid(K.LAYER, list(labels), 0)
    c1, c2 = st.columns([3, 2], vertical_alignment="bottom")
    layer = c1.selectbox(t("predict.layer"), list(labels), format_func=labels.get, key=K.LAYER,
                         **PERSIST, help=t("predict.layer_help"))
    _keep_valid(K.SCALE, SCALE_MODES, "layer")
    st.session_state.setdefault(K.SCALE, "layer")
    mode = c2.segmented_control(t("predict.scale"), SCALE_MODES, required=True,
                                format_func=_labels("scale", SCALE_MODES).get, key=K.SCALE,
                                **PERSIST, help=t("predict.scale_help"),
                                disabled=layer == len(outputs) - 1)  # logits: a bar chart
    st.caption(t(f"predict.kind_{outputs[layer].kind}"))
    out = outputs[layer]
    if not out.spatial:
        _flat_section(ckpt, outputs, layer, mode)
        return
    maps = out.output.numpy()
    n = maps.shape[0]
    shown = min(n, MAX_GRID_CHANNELS)
    _clamp(K.CHANNEL, 0, shown - 1, 0)
    ranges = value_ranges(outputs, layer, mode)
    left, right = st.columns([3, 2])
    with left:
        st.markdown(f"**{t('predict.grid_title', n=n, h=maps.shape[1], w=maps.shape[2])}**")
        st.plotly_chart(channel_grid_figure(maps[:shown], ranges[:shown], mode,
                                            st.session_state[K.CHANNEL], t),
                        config=PLOT_CONFIG, key=K.GRID, on_select=lambda: _select_channel(
                            K.GRID, K.CHANNEL), selection_mode="points")
        if mode == "map":
            st.caption(t("predict.range_map"))
        else:
            st.caption(t(f"predict.range_{mode}", lo=fmt(ranges[0, 0]), hi=fmt(ranges[0, 1])))
        if shown < n:
            st.caption(t("predict.grid_truncated", shown=shown, n=n))
    with right:
        channel = st.number_input(t("predict.channel"), 0, shown - 1, step=1, key=K.CHANNEL,
                                  help=t("predict.channel_help"))
        m = maps[channel]
        lo, hi = ranges[channel]
        st.plotly_chart(map_figure(m, lo, hi, t=t), config=PLOT_CONFIG, key="predict.enlarged")
        st.caption(t("predict.channel_stats", channel=channel, lo=fmt(m.min()), hi=fmt(m.max()),
                     mean=fmt(m.mean()), active=f"{100 * (m > 0).mean():.0f}"))
    _filter_section(ckpt, layer, channel)


# --------------------------------------------------------------------------- receptive field

def _select_position(chart_key: str) -> None:
    event = st.session_state.get(chart_key)
    points = (event or {}).get("selection", {}).get("points", []) if event else []
    for p in points:
        if p.get("curve_number") == 1 and p.get("x") is not None:
            st.session_state[K.RF_ROW], st.session_state[K.RF_COL] = int(p["y"]), int(p["x"])
            return


def _strongest(maps: np.ndarray, channel: int) -> None:
    r, c = np.unravel_index(int(np.argmax(maps[channel])), maps[channel].shape)
    st.session_state[K.RF_ROW], st.session_state[K.RF_COL] = int(r), int(c)


def _receptive_field_view(ckpt, pre: Preprocessed, outputs) -> None:
    spatial = [o.index for o in outputs if o.spatial]
    labels = _layer_options(ckpt, outputs)
    _keep_valid(K.RF_LAYER, spatial, spatial[-1])
    c1, c2 = st.columns([3, 2], vertical_alignment="bottom")
    st.session_state.setdefault(K.RF_LAYER, spatial[-1])
    layer = c1.selectbox(t("predict.rf_layer"), spatial,
                         format_func=labels.get, key=K.RF_LAYER, **PERSIST,
                         help=t("predict.rf_layer_help"))
    maps = outputs[layer].output.numpy()
    n, h, w = maps.shape
    _clamp(K.RF_CHANNEL, 0, n - 1, 0)
    channel = c2.number_input(t("predict.channel"), 0, n - 1, step=1, key=K.RF_CHANNEL)
    if st.session_state.get(K.RF_SHOWN) != (layer, channel):
        _strongest(maps, channel)  # a new map: start where it responds most
        st.session_state[K.RF_SHOWN] = (layer, channel)
    _clamp(K.RF_ROW, 0, h - 1, h // 2)
    _clamp(K.RF_COL, 0, w - 1, w // 2)
    c3, c4, c5 = st.columns([1, 1, 1], vertical_alignment="bottom")
    row = c3.number_input(t("predict.rf_row"), 0, h - 1, step=1, key=K.RF_ROW)
    col = c4.number_input(t("predict.rf_col"), 0, w - 1, step=1, key=K.RF_COL)
    c5.button(t("predict.rf_strongest"), on_click=_strongest, args=(maps, channel),
              key="predict.rf_strongest", icon=":material/my_location:")
    rf = receptive_field(ckpt.spec, layer, row, col, tuple(pre.tensor.shape[1:]))
    st.session_state.setdefault(K.RF_GRAD, True)
    show_grad = st.toggle(t("predict.rf_gradient"), key=K.RF_GRAD,
                          help=t("predict.rf_gradient_help"))
    left, right = st.columns(2)
    with left:
        st.markdown(f"**{t('predict.rf_map_title', layer=localize_label(outputs[layer].name, lang()), channel=channel)}**")
        lo, hi = float(maps[channel].min()), float(maps[channel].max())
        st.plotly_chart(map_figure(maps[channel], lo, hi if hi > lo else lo + 1, marker=(row, col),
                                    clickable=True, height=360, t=t),
                        config=PLOT_CONFIG, key=K.RF_MAP,
                        on_select=lambda: _select_position(K.RF_MAP), selection_mode="points")
        st.caption(t("predict.rf_click_hint"))
    with right:
        st.markdown(f"**{t('predict.rf_input_title')}**")
        view = pre.model_view
        fig = go.Figure(go.Heatmap(z=view, colorscale="gray", zmin=0, zmax=1, showscale=False,
                                   hovertemplate=t("predict.pixel_hover") + "<extra></extra>"))
        if show_grad:
            grad = np.abs(run_inference(input_gradient, ckpt.model, pre.tensor, layer, channel, row, col))
            peak = float(grad.max())
            if peak > 0:
                fig.add_trace(go.Heatmap(
                    z=np.where(grad > 0, grad / peak, np.nan), zmin=0, zmax=1, showscale=False,
                    colorscale=[[0, "rgba(255,75,75,0.15)"], [1, "rgba(255,75,75,0.85)"]],
                    hovertemplate=t("predict.grad_hover") + "<extra></extra>"))
        # Dim what lies outside the region, then outline it.
        mask = rf.mask(view.shape)
        fig.add_trace(go.Heatmap(z=np.where(mask, np.nan, 1.0), zmin=0, zmax=1, showscale=False,
                                 colorscale=[[0, "rgba(20,30,60,0.7)"], [1, "rgba(20,30,60,0.7)"]],
                                 hoverinfo="skip"))
        fig.add_shape(type="rect", x0=rf.left - 0.5, x1=rf.right - 0.5, y0=rf.top - 0.5,
                      y1=rf.bottom - 0.5, line=dict(color="#ffd43b", width=3))
        fig.update_layout(height=360, margin=dict(l=4, r=4, t=4, b=4))
        square_axes(fig, show_ticks=True)
        st.plotly_chart(fig, config=PLOT_CONFIG, key="predict.rf_input")
    text = t("predict.rf_text", layer=localize_label(outputs[layer].name, lang()), row=row, col=col, top=rf.top,
             bottom=rf.bottom - 1, left=rf.left, right=rf.right - 1, h=rf.height, w=rf.width,
             size=view.shape[0])
    if rf.clipped:
        text += " " + t("predict.rf_clipped", fh=rf.full_height, fw=rf.full_width)
    text += " " + t("predict.rf_jump", jump=rf.jump)
    st.info(text)


# --------------------------------------------------------------------------- saliency

def _saliency_view(ckpt, pre: Preprocessed, probs: np.ndarray) -> None:
    classes = [str(c) for c in ckpt.classes]
    top = int(probs.argmax())
    options = [-1] + list(range(len(classes)))
    _keep_valid(K.TARGET, options, -1)
    names = {i: f"{classes[i]} ({100 * probs[i]:.1f}%)" for i in options[1:]}
    names[-1] = t("predict.saliency_predicted", label=classes[top])
    target = st.selectbox(t("predict.saliency_target"), options, key=K.TARGET, format_func=names.get,
                          help=t("predict.saliency_target_help"))
    sal = run_inference(saliency, ckpt.model, pre.tensor, None if target < 0 else target)
    view = pre.model_view
    left, right = st.columns(2)
    with left:
        st.markdown(f"**{t('predict.saliency_overlay', label=classes[sal.target])}**")
        fig = go.Figure([
            go.Heatmap(z=view, colorscale="gray", zmin=0, zmax=1, showscale=False, hoverinfo="skip"),
            go.Heatmap(z=sal.magnitude, zmin=0, zmax=1,
                       colorscale=[[0, "rgba(255,210,0,0)"], [0.2, "rgba(255,210,0,0)"],
                                   [0.5, "rgba(255,140,0,0.55)"], [1, "rgba(255,30,30,0.95)"]],
                       colorbar=dict(thickness=12, len=0.9, tickvals=[0, 1],
                                     ticktext=["0", t("predict.cbar_max")]),
                       hovertemplate=t("predict.saliency_hover") + "<extra></extra>"),
        ])
        fig.update_layout(height=360, margin=dict(l=4, r=4, t=4, b=4))
        square_axes(fig, show_ticks=True)
        st.plotly_chart(fig, config=PLOT_CONFIG, key="predict.saliency_overlay")
    with right:
        st.markdown(f"**{t('predict.saliency_signed')}**")
        limit = float(np.abs(sal.gradient).max()) or 1.0
        st.plotly_chart(map_figure(sal.gradient, -limit, limit, "RdBu_r", height=360, t=t),
                        config=PLOT_CONFIG, key="predict.saliency_signed_fig")
    st.caption(t("predict.saliency_caption", label=classes[sal.target], score=fmt(sal.score)))


# --------------------------------------------------------------------------- page

def _explorer(ckpt, pre: Preprocessed, outputs, probs: np.ndarray) -> None:
    st.subheader(t("predict.inside"))
    views = ("maps", "rf", "saliency")
    _keep_valid(K.VIEW, views, "maps")
    st.session_state.setdefault(K.VIEW, "maps")
    view = st.segmented_control(t("predict.view"), views, required=True,
                                format_func=_labels("view", views).get, key=K.VIEW,
                                **PERSIST, label_visibility="collapsed")
    if view == "rf":
        _receptive_field_view(ckpt, pre, outputs)
    elif view == "saliency":
        _saliency_view(ckpt, pre, probs)
    else:
        _feature_maps(ckpt, outputs)


def _ready(pre: Preprocessed | None, info: InputInfo) -> bool:
    """True when there is an input to predict; otherwise say why not, in one sentence."""
    if info.error:
        st.error(info.error)
    elif info.error_shown:
        pass
    elif info.waiting:
        st.info(t("predict.upload_waiting"))
    elif pre is None or pre.blank:
        st.info(t("predict.nothing_drawn") if info.kind == "draw" else t("predict.nothing_found"))
    else:
        return True
    return False


def main() -> None:
    ensure_app_shell()
    _apply_train_request()
    st.title(t("predict.title"))
    st.caption(t("predict.intro"))
    ckpt = _choose_model()
    if ckpt is None:
        return
    st.caption(_model_caption(ckpt))
    left, right = st.columns([1, 1.35], gap="large")
    with left:
        pre, info = _input(ckpt)
    with right:
        if not _ready(pre, info):
            return  # never a guess: no prediction, no explorer
        outputs = run_inference(layer_outputs, ckpt.model, ckpt.spec, pre.tensor)
        probs = _show_prediction(ckpt, outputs, info)
    st.subheader(t("predict.steps_title"))
    _show_steps(pre, info)
    _explorer(ckpt, pre, outputs, probs)


if __name__ == "__main__":  # Streamlit runs pages as __main__; importing (bench, tests) doesn't
    main()
