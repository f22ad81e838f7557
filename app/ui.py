"""Helpers shared by the pages: translation, the language switch, cached datasets and models."""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Callable

import streamlit as st

from app.state import LANG_KEY, LANG_PARAM, PERSIST
from core.i18n import DEFAULT_LANGUAGE, LANGUAGES, translate
from core.images import EXTENSIONS
from core.imagefolder import MAX_ZIP_BYTES
from core.limits import MB
from core.limits import current as current_limits

# The size of Streamlit's own "20MB per file" line and drop overlay (its small text size in
# 1.67), which the translations keep.
INSTRUCTIONS_FONT = "0.875rem"


def lang() -> str:
    return st.session_state.get(LANG_KEY, DEFAULT_LANGUAGE)


def t(key: str, **values) -> str:
    """Translated UI text for the current session's language."""
    return translate(lang(), key, **values)


def language_from_link() -> None:
    """A new session takes its language from the link (?lang=zh); later runs keep the radio's.

    streamlit_app.py calls it before st.navigation, whose page titles are already translated,
    while the radio itself is drawn after it (see app.shell)."""
    requested = st.query_params.get(LANG_PARAM)
    if LANG_KEY not in st.session_state and requested in LANGUAGES:
        st.session_state[LANG_KEY] = requested


def language_switch() -> None:
    """Sidebar radio English / 简体中文; the choice lives in st.session_state[LANG_KEY] and in the
    address bar (?lang=zh), so a reloaded or shared link opens in the same language.

    A new session takes the language from the link; after that the radio decides and the link
    follows it (English, the default, leaves no parameter).

    The radio persists for the session (PERSIST): st.switch_page (app.routes.switch_to) reruns
    without the browser's widget states and clears the query parameters, so a radio without it
    was dropped as a stale widget on the way (runtime/scriptrunner/script_runner.py, page change
    → on_script_finished with no widget ids) and the next page rendered in English while the
    browser's radio still showed 简体中文."""
    language_from_link()
    st.sidebar.radio(
        translate(lang(), "common.language_label"),
        options=list(LANGUAGES),
        format_func=LANGUAGES.get,
        key=LANG_KEY,
        horizontal=True,
        **PERSIST,
    )
    keep_language_in_link()


def keep_language_in_link() -> None:
    """Write the session's language into the address bar (a page switch in the sidebar drops
    query parameters, so every run puts it back); only when it differs, to send nothing new."""
    current = lang()
    wanted = None if current == DEFAULT_LANGUAGE else current
    if st.query_params.get(LANG_PARAM) != wanted:
        if wanted is None:
            del st.query_params[LANG_PARAM]
        else:
            st.query_params[LANG_PARAM] = wanted


def language_query() -> str:
    """"&lang=zh" for links this app hands out (private link), "" for the default language."""
    return "" if lang() == DEFAULT_LANGUAGE else f"&{LANG_PARAM}={lang()}"


def option_labels(prefix: str) -> Callable[[object], str]:
    """format_func for option widgets: option value → the text of key f"{prefix}{value}".

    The language is read now, not when Streamlit (or AppTest) later calls the function."""
    current = lang()
    return lambda value: translate(current, f"{prefix}{value}")


@st.cache_resource(show_spinner=False)
def cached_dataset(name: str, data_dir: str | None = None):
    """One in-memory copy of a dataset per server process, shared read-only by every session.

    Raises core.data.DataError (one human sentence) when it is neither on disk nor downloadable.
    To show a download progress bar, call core.data.download(info, callback) first.
    """
    from core import data

    return data.load_dataset(name, data_dir, progress=False)


@st.cache_resource(show_spinner=False, max_entries=32)
def cached_checkpoint(path: str, mtime: float):
    """A saved checkpoint loaded once per (path, modification time); models are used read-only
    (eval mode, no_grad), so sessions can share them."""
    from core.checkpoint import load_checkpoint

    return load_checkpoint(path)


def load_saved_checkpoint(path):
    """cached_checkpoint keyed by the file's mtime, so a re-saved file is re-read."""
    p = Path(path)
    return cached_checkpoint(str(p), p.stat().st_mtime)


# --------------------------------------------------------------------------- file uploaders

def upload_limit_mb(limit_bytes: int | None) -> int | None:
    """A byte limit as st.file_uploader's max_upload_size (whole MB, at least 1; None: the
    server's own maxUploadSize): the browser refuses a bigger file before sending it, and core
    checks the exact limit again."""
    return None if limit_bytes is None else max(1, math.ceil(limit_bytes / MB))


def app_uploaders() -> dict[str, tuple[int | None, tuple[str, ...]]]:
    """Every st.file_uploader in the app: its key → (max_upload_size in MB, file types), from the
    same limits (core.limits) and extensions the pages pass to it (tests check they agree)."""
    limits = current_limits()
    image = (upload_limit_mb(limits.max_image_bytes), tuple(EXTENSIONS))
    return {
        "conv.img.upload": image,                       # Convolution: a photo to filter
        "predict.image_file": image,                    # Predict: a picture of a digit
        "predict.model_file": (upload_limit_mb(limits.max_checkpoint_bytes), ("safetensors",)),
        "classes-files": image,                         # Your classes: images for one class (a container key)
        "classes-zip": (upload_limit_mb(MAX_ZIP_BYTES), ("zip",)),  # Your classes: a zip, one folder per class
    }


def _css_string(text: str) -> str:
    """`text` as a CSS string literal (content: "…")."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def _type_names(types: tuple[str, ...], sep: str) -> str:
    """File types as Streamlit lists them (PNG, JPG, …; jpeg is the same as jpg), joined by sep."""
    names = []
    for ext in types:
        name = "JPG" if ext.lower() == "jpeg" else ext.upper().lstrip(".")
        if name not in names:
            names.append(name)
    return sep.join(names)


def uploader_css(language: str, uploaders: dict[str, tuple[int | None, tuple[str, ...]]],
                 server_max_mb: int) -> str:
    """CSS that shows Streamlit's own file-uploader text in `language` ("" for the default one).

    Streamlit 1.67 has no parameter for the dropzone's "Upload" button, its "20MB per file •
    PNG, JPG" line or the "Drag and drop a file here" overlay (streamlit issue #13500), so the
    English is hidden and the translation shown through ::after. The selectors are the test ids
    and structure of streamlit/static's FileUploader (1.67): stFileUploaderDropzone >
    [button | stFileUploaderDropzoneInstructions > div > span | overlay div > span]. The size
    line is per uploader (its st-key-<key> class), with the limit and types that uploader uses;
    an uploader missing from `uploaders` keeps Streamlit's line rather than show a wrong limit.
    """
    if language == DEFAULT_LANGUAGE:
        return ""
    zone = '[data-testid="stFileUploaderDropzone"]'
    label = f'{zone} [data-testid="stBaseButton-secondary"] [data-testid="stMarkdownContainer"]'
    rules = [
        f"{label} > p {{display: none;}}",
        f"{label}::after {{content: {_css_string(translate(language, 'uploader.button'))};}}",
        f"{zone} > div:not([data-testid]) > span {{font-size: 0;}}",
        f"{zone} > div:not([data-testid]) > span::after {{font-size: {INSTRUCTIONS_FONT}; "
        f"content: {_css_string(translate(language, 'uploader.drop'))};}}",
    ]
    sep = translate(language, "uploader.type_sep")
    for key, (max_mb, types) in uploaders.items():
        size = max_mb if max_mb is not None else server_max_mb
        text = (translate(language, "uploader.limits", size=size, types=_type_names(types, sep)) if types
                else translate(language, "uploader.limit_only", size=size))
        css_key = re.sub(r"[^A-Za-z0-9_-]", "-", key)
        span = f'.st-key-{css_key} [data-testid="stFileUploaderDropzoneInstructions"] span'
        rules.append(f"{span} {{font-size: 0; white-space: normal;}}")  # the translation may wrap
        rules.append(f"{span}::after {{font-size: {INSTRUCTIONS_FONT}; content: {_css_string(text)};}}")
    return "\n".join(rules)


def localize_uploaders() -> None:
    """Once per run (streamlit_app.py): every file uploader's built-in text in the session's
    language (nothing to add for English, Streamlit's own)."""
    css = uploader_css(lang(), app_uploaders(), int(st.get_option("server.maxUploadSize")))
    if css:
        st.html(f"<style>\n{css}\n</style>")


def limit_reason(limit) -> str:
    """A core.limits.LimitError (or the limit a CheckpointError carries) as the visitor reads it:
    "padding 50 — this server allows at most 14"."""
    return t(f"train.limit_{limit.key}", **limit.details)
