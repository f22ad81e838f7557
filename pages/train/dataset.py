"""① Set up: the dataset picker; a missing dataset is downloaded with a progress bar, and an
offline server says where to put the files, with a Retry button."""
from __future__ import annotations

import streamlit as st

import core.data as data_mod
from app.state import PERSIST, TRAIN_REQUEST
from app.text import md_escape
from app.ui import cached_dataset, t
from pages.train.custom import apply_recipe, custom_block, dataset_changed
from pages.train.keys import K

ss = st.session_state


def dataset_title(name: str) -> str:
    return t("classes.dataset_option") if name == data_mod.CUSTOM else data_mod.DATASETS[name].title


def dataset_block():
    """Dataset choice; returns the loaded Dataset or None (with the reason shown)."""
    if ss.pop(TRAIN_REQUEST, False):  # "Train on your classes" on the Your classes page
        ss[K.DATASET] = data_mod.CUSTOM
        apply_recipe()
    names = [*data_mod.DATASETS, data_mod.CUSTOM]
    c1, c2 = st.columns([1, 2], vertical_alignment="top")
    name = c1.selectbox(t("train.dataset"), names, key=K.DATASET, on_change=dataset_changed,
                        format_func={n: dataset_title(n) for n in names}.get, help=t("train.dataset_help"), **PERSIST)
    if name == data_mod.CUSTOM:
        return custom_block(c2)
    info = data_mod.DATASETS[name]
    failed = ss.setdefault(K.DL_FAILED, {})
    with c2:
        if name in failed:
            st.warning(t("train.offline", title=info.title, folder=info.folder, env=data_mod.DATA_DIR_ENV),
                       icon="📴")
            with st.expander(t("train.offline_details")):
                st.code(failed[name], language=None, wrap_lines=True)
            if st.button(t("train.retry_download"), key="train.retry"):
                failed.pop(name, None)
                st.rerun()
            return None
        if not data_mod.is_available(name):
            bar = st.progress(0.0, text=t("train.downloading", title=info.title))

            def report(fname: str, done: int, total: int) -> None:
                frac = min(1.0, done / total) if total else 0.0
                bar.progress(frac, text=t("train.downloading_file", title=info.title, file=fname,
                                          mb=f"{done / 1e6:.1f}", total=f"{total / 1e6:.1f}"))

            try:
                data_mod.download(info, report)
            except data_mod.DataError as e:
                failed[name] = str(e)
                st.rerun()
            bar.empty()
        try:
            data = cached_dataset(name)
        except data_mod.DataError as e:
            st.error(t("train.data_error", reason=str(e)))
            return None
        st.success(t("train.dataset_ready", title=info.title, train=f"{len(data.train_labels):,}",
                     test=f"{len(data.test_labels):,}", classes=", ".join(map(md_escape, info.classes))),
                   icon="✅")
    return data
