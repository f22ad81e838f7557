"""app.ui's uploader text: Streamlit's own "Upload" / "20MB per file • PNG, …" in the session's
language (streamlit issue #13500: no parameter for it in 1.67), built from the same limits and
file types every uploader in the app is given."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from app.ui import app_uploaders, upload_limit_mb, uploader_css
from core.images import EXTENSIONS
from tests.helpers import CONV_PAGE, PREDICT_PAGE, page_app


def test_english_needs_no_css_and_chinese_replaces_every_piece():
    uploaders = {"conv.img.upload": (20, tuple(EXTENSIONS)), "predict.model_file": (32, ("safetensors",)),
                 "other": (None, ())}
    assert uploader_css("en", uploaders, 32) == ""
    css = uploader_css("zh", uploaders, 50)
    assert 'content: "上传"' in css and 'content: "将文件拖放到这里"' in css
    assert ('.st-key-conv-img-upload [data-testid="stFileUploaderDropzoneInstructions"] span::after '
            '{font-size: 0.875rem; content: "单个文件最大 20 MB • PNG、JPG、WEBP、BMP";}') in css
    assert 'content: "单个文件最大 32 MB • SAFETENSORS"' in css
    assert 'content: "单个文件最大 50 MB"' in css, "no limit of its own: the server's maxUploadSize"
    # the English is hidden, not removed (Streamlit still owns those elements)
    assert '[data-testid="stMarkdownContainer"] > p {display: none;}' in css
    assert ".st-key-conv-img-upload [data-testid=\"stFileUploaderDropzoneInstructions\"] span {font-size: 0;" in css


def test_whole_megabytes_for_the_browser():
    assert upload_limit_mb(None) is None
    assert upload_limit_mb(20 * 2**20) == 20 and upload_limit_mb(2**18) == 1 and upload_limit_mb(20 * 2**20 + 1) == 21


@pytest.mark.parametrize("image_mb, ckpt_mb", [(None, None), ("3", "0.5")])
def test_the_table_matches_every_uploader_the_pages_draw(image_mb, ckpt_mb, checkpoints, monkeypatch):
    """Each st.file_uploader on the Convolution, Predict and Your classes pages is in app_uploaders() with the
    limit and file types it really has, so the translated line says what the uploader enforces."""
    if image_mb:
        monkeypatch.setenv("CNN_LAB_MAX_IMAGE_MB", image_mb)
        monkeypatch.setenv("CNN_LAB_MAX_CHECKPOINT_MB", ckpt_mb)
    table = app_uploaders()
    seen = {}
    for page, state in ((CONV_PAGE, {"conv.tab": "Kernels on photos"}),
                        (PREDICT_PAGE, {"predict.source": "upload"}),
                        (PREDICT_PAGE, {"predict.model": "upload"})):
        at = page_app(page)
        at.session_state["lang"] = "en"
        for k, v in state.items():
            at.session_state[k] = v
        at.run()
        assert not at.exception, at.exception
        for uploader in at.get("file_uploader"):
            seen[uploader.key] = (uploader.proto.max_upload_size_mb, tuple(uploader.proto.type))
    # Your classes: its uploaders' keys change after each upload (a fresh, empty uploader), so the
    # table names the containers around them ("classes-files" holds "classes.files.<n>").
    from app.session import _SECRET
    from core.userdata import UserData
    from core.workspace import Workspace

    ws = Workspace.create()
    UserData(ws).create_class("a")  # the image uploader is there once a class is
    at = page_app("pages.classes")
    at.session_state["lang"] = "en"
    at.session_state[_SECRET] = ws.secret
    at.run()
    assert not at.exception, at.exception
    for uploader in at.get("file_uploader"):
        box = "classes-" + uploader.key.split(".")[1]
        seen[box] = (uploader.proto.max_upload_size_mb, tuple(uploader.proto.type))
    assert set(seen) == set(table)
    for key, (max_mb, types) in table.items():
        got_mb, got_types = seen[key]
        assert got_mb == max_mb
        assert {x.lstrip(".") for x in got_types} == set(types)
