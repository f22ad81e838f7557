"""Which model Predict uses: the selector over this visitor's models (app.models), an uploaded
checkpoint, a request sent from the Train page, and the one-line caption about the model."""
from __future__ import annotations

import streamlit as st

from app import models
from app.state import PERSIST, PREDICT_REQUEST, keep_valid
from app.text import md_escape
from app.ui import limit_reason, t, upload_limit_mb
from core.checkpoint import CheckpointError, load_checkpoint_bytes
from core.confidence import recorded_accuracy
from core.limits import LimitError, check_size
from core.limits import current as current_limits
from core.models import summary
from core.workspace import display_name
from pages.predict.keys import K


def _request_model(ref) -> str | None:
    """The model a Train-page request names, as an option of the selector; an older "file:<path>"
    only for a file of this visitor's workspace or a bundled model."""
    if not isinstance(ref, str):
        return None
    return models.legacy_file_ref(ref) if ref.startswith("file:") else ref


def apply_train_request() -> None:
    """A mistake sent from the Train page: select its model and test image (before any widget)."""
    request = st.session_state.pop(PREDICT_REQUEST, None)
    if not request:
        return
    model = _request_model(request.get("model"))
    if model is not None:
        st.session_state[K.MODEL] = model
    index = int(request.get("test_index", 0))
    st.session_state.update({K.SOURCE: "test", K.INDEX: index, K.FROM_TRAIN: index, K.VIEW: "maps"})


def model_error(error: Exception) -> str:
    """One sentence, in the visitor's language where the reason is known."""
    limit = getattr(error, "limit", None)
    if limit is not None:
        return t("predict.model_error_limit", reason=limit_reason(limit))
    code = getattr(error, "code", None)
    if code in ("no_model", "no_entry"):
        return t(f"predict.model_error_{code}")
    if isinstance(error, KeyError):  # a run that is gone (forgotten, or another session's)
        return t("predict.model_error_no_model")
    return t("predict.model_error", reason=md_escape(str(error)))  # may quote the file's own text


def choose_model():
    """The model selector; returns a core.checkpoint.Checkpoint or None (with a message shown)."""
    options = models.model_options()
    options["upload"] = t("predict.model_upload")
    keys = list(options)
    keep_valid(K.MODEL, keys, keys[0])
    choice = st.selectbox(t("predict.model"), keys, format_func=options.get, key=K.MODEL,
                          **PERSIST, help=t("predict.model_help"))
    if choice == "upload":
        if len(keys) == 1:
            st.info(t("predict.no_models"))
        return _uploaded_model()
    try:
        ckpt = models.load_model(choice)
    except (CheckpointError, OSError, KeyError) as e:
        st.error(model_error(e))
        return None
    if choice.startswith("gallery:"):
        st.caption(t("predict.gallery_note"))
    return ckpt


def _uploaded_model():
    limits = current_limits()
    file = st.file_uploader(t("predict.model_upload_label"), type=["safetensors"],
                            key=K.MODEL_FILE, help=t("predict.model_upload_help"),
                            max_upload_size=upload_limit_mb(limits.max_checkpoint_bytes))
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
        st.error(t("predict.model_error_limit", reason=limit_reason(e)))
        return None
    except CheckpointError as e:
        st.error(model_error(e))
        return None
    st.session_state[K.UPLOADED] = (file.file_id, ckpt)
    return ckpt


def model_caption(ckpt) -> str:
    info = summary(ckpt.spec, num_classes=None)
    convs = sum(1 for layer in ckpt.spec if layer["type"] == "conv")
    acc = recorded_accuracy(ckpt.meta)
    text = t("predict.model_caption", dataset=models.dataset_title(ckpt.dataset), classes=len(ckpt.classes),
             layers=len(ckpt.spec), convs=convs, params=f"{info.total_params:,}")
    if acc is not None:
        text += " · " + t("predict.model_caption_acc", acc=f"{100 * acc:.2f}")
    return text
