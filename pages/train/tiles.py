"""③ Results: test images as tiles — the images of one confusion-matrix cell and the mistakes,
"true → predicted, n% sure", each (for the owner) one click away from the Predict page."""
from __future__ import annotations

import streamlit as st

from app.state import PERSIST
from app.text import md_escape
from app.ui import t
from core import samples as test_samples
from core.run_results import mistakes as mistakes_of
from core.run_results import predictions
from pages.train.handoff import open_in_predict
from pages.train.keys import GALLERY_COLUMNS, GALLERY_SIZE, K
from pages.train.maps import upscale


def class_pickers(classes, none: str, labels: tuple[str, str], keys: tuple[str, str], columns):
    """Two class pickers (true, predicted) where None reads `none` (Streamlit would show its own
    English placeholder for an empty choice); returns their values."""
    options = [None] + list(range(len(classes)))
    fmt = {k: none if k is None else str(classes[k]) for k in options}.get
    return tuple(col.selectbox(label, options, key=key, format_func=fmt, placeholder=none, **PERSIST)
                 for col, label, key in zip(columns, labels, keys))


def cell_images(job, classes, owner: str | None) -> None:
    """The test images of one (true, predicted) cell: clicked in the matrix or chosen with the
    two pickers (which also serve keyboards and screen readers)."""
    r = job.result
    if r.logits is None or r.labels is None:
        return
    st.markdown(f"**{t('samples.cell_title')}**")
    c1, c2, c3 = st.columns([1, 1, 3], vertical_alignment="bottom")
    true_c, pred_c = class_pickers(classes, t("samples.cell_none"), (t("samples.cell_true"), t("samples.cell_pred")),
                                   (K.CELL_TRUE, K.CELL_PRED), (c1, c2))
    if true_c is None or pred_c is None:
        c3.caption(t("samples.cell_hint"))
        return
    predicted, confidence = predictions(job)
    listing = test_samples.cell_listing(r.labels, predicted, confidence, true_c, pred_c)
    names = dict(true=md_escape(classes[true_c]), pred=md_escape(classes[pred_c]))
    if listing.total == 0:
        c3.info(t("samples.cell_empty", **names))
        return
    text = t("samples.cell_right" if listing.correct else "samples.cell_wrong", n=f"{listing.total:,}",
             shown=len(listing.indices), **names)
    c3.caption(text + (" " + t("samples.cell_open") if owner is not None else ""))
    image_tiles(job, listing.indices, [true_c] * len(listing.indices), [pred_c] * len(listing.indices),
                listing.confidence, classes, owner, "train.cell")


def mistakes(job, classes, owner: str | None) -> None:
    """The misclassified test images, most confident first; the owner (not a watcher) can open
    one in the Predict page with this run's model."""
    st.subheader(t("train.gallery_title"))
    if len(job.result.wrong_indices) == 0:
        st.success(t("train.gallery_none"))
        return
    f1, f2, f3 = st.columns([1, 1, 2], vertical_alignment="bottom")
    true_f, pred_f = class_pickers(classes, t("train.any_class"), (t("train.filter_true"), t("train.filter_pred")),
                                   (K.WRONG_TRUE, K.WRONG_PRED), (f1, f2))
    found = mistakes_of(job, true_f, pred_f, limit=GALLERY_SIZE)
    f3.caption(t("train.gallery_caption" if owner else "train.gallery_caption_watch",
                 shown=len(found.indices), n=found.total))
    if found.total == 0:
        st.info(t("train.gallery_empty_filter"))
        return
    image_tiles(job, found.indices, found.true, found.predicted, found.confidence, classes, owner, "train.wrong")


def image_tiles(job, indices, true, predicted, confidence, classes, owner: str | None, key: str) -> None:
    """Test images as bordered tiles, GALLERY_COLUMNS to a row: "true → predicted, n% sure",
    and for the owner (not a watcher) a 🔍 button that opens the image in Predict with this model."""
    for start in range(0, len(indices), GALLERY_COLUMNS):
        cols = st.columns(GALLERY_COLUMNS)
        for j, col in enumerate(cols[:len(indices) - start]):
            k = start + j
            idx = int(indices[k])
            with col.container(border=True):
                st.image(upscale(job.data.test_images[idx].numpy(), 3), width="stretch")
                st.markdown(t("train.tile", true=md_escape(classes[true[k]]), pred=md_escape(classes[predicted[k]]),
                              conf=f"{100 * confidence[k]:.0f}"))
                if owner is not None and st.button(
                        t("train.open_predict"), key=f"{key}.{job.id}.{idx}", type="tertiary",
                        icon="🔍", help=t("train.open_predict_help", index=idx)):
                    open_in_predict(job, idx)
