"""Add examples from files: images into one class, or a zip with one folder per class; and the
set as that zip, to keep or to import again."""
from __future__ import annotations

import streamlit as st

from app.text import md_escape
from app.userdata import report_sentence, say, store
from app.ui import t, upload_limit_mb
from core.imagefolder import MAX_ZIP_BYTES, FolderError
from core.images import EXTENSIONS, ImageError
from core.limits import current as current_limits
from core.userdata import ClassInfo, UserDataError
from core.workspace import WorkspaceError
from pages.classes.keys import FILES_BOX, ZIP_BOX, K

ss = st.session_state
REFUSED = (UserDataError, FolderError, ImageError, WorkspaceError)


def _fresh(gen_key: str) -> None:
    """A new uploader (the files are added once; the next upload starts empty)."""
    ss[gen_key] = ss.get(gen_key, 0) + 1


def _outcome(report) -> tuple[str, str]:
    kind = "success" if report.total and not report.refused else "warning"
    return kind, report_sentence(report)


def _add(action) -> None:
    """Run one addition to the store; keep what it did (or why not) to show once."""
    try:
        report = action(store())
    except REFUSED as e:
        ss[K.MSG] = ("error", say(e))
    else:
        ss[K.MSG] = _outcome(report)


def add_file_bytes(class_id: str, files: list[tuple[str, bytes]]) -> None:
    _add(lambda ud: ud.add_files(class_id, files, current_limits()))


def import_zip_bytes(data: bytes) -> None:
    _add(lambda ud: ud.import_zip(data, current_limits()))


def add_images(class_id: str) -> None:
    files = ss.get(K.uploader("files", ss.get(K.FILES_GEN, 0))) or []
    add_file_bytes(class_id, [(f.name, f.getvalue()) for f in files])
    _fresh(K.FILES_GEN)


def import_zip() -> None:
    file = ss.get(K.uploader("zip", ss.get(K.ZIP_GEN, 0)))
    if file is not None:
        import_zip_bytes(file.getvalue())
    _fresh(K.ZIP_GEN)


def upload_section(classes: list[ClassInfo]) -> None:
    limits = current_limits()
    names = {c.id: c.name for c in classes}
    target = ss.get(K.TARGET) if ss.get(K.TARGET) in names else classes[0].id
    with st.container(key=FILES_BOX):  # app.ui.app_uploaders translates Streamlit's own text by this key
        files = st.file_uploader(t("classes.files_label", name=md_escape(names[target])), type=list(EXTENSIONS),
                                 accept_multiple_files=True, key=K.uploader("files", ss.get(K.FILES_GEN, 0)),
                                 help=t("classes.files_help"), max_upload_size=upload_limit_mb(limits.max_image_bytes))
    st.button(t("classes.add_files", n=len(files or []), name=md_escape(names[target])), key="classes.add_files",
              disabled=not files, on_click=add_images, args=(target,), icon=":material/upload:")


def zip_section(has_examples: bool) -> None:
    left, right = st.columns(2, gap="large")
    with left:
        with st.container(key=ZIP_BOX):
            file = st.file_uploader(t("classes.zip_label"), type=["zip"], key=K.uploader("zip", ss.get(K.ZIP_GEN, 0)),
                                    help=t("classes.zip_help"), max_upload_size=upload_limit_mb(MAX_ZIP_BYTES))
        st.button(t("classes.import"), key="classes.import", disabled=file is None, on_click=import_zip,
                  icon=":material/unarchive:")
    with right:
        st.markdown(t("classes.export_title"))
        st.caption(t("classes.export_help"))
        if has_examples:
            st.download_button(t("classes.export"), data=store().export_zip, file_name="my_classes.zip",
                               mime="application/zip", icon=":material/download:", key="classes.export",
                               on_click="ignore")
