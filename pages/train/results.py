"""③ Results: a finished run's metrics, confusion matrix, per-class accuracy, calibration, test
images and mistakes; then keep / share its model. results_body is also the watch view's."""
from __future__ import annotations

import streamlit as st

from app.format import duration, pct
from app.state import PERSIST
from app.ui import lang, t
from core import calibration
from core.figures import PLOT_CONFIG
from core.figures.samples import clicked_marker
from core.figures.training import confusion_cell, confusion_figure, per_class_figure
from core.run_results import config_of
from pages.train.keep import keep_model
from pages.train.keys import K
from pages.train.live import watch_link
from pages.train.runs import classes_of, current_job, manager, run_label
from pages.train.samples import random_samples
from pages.train.share import share_model
from pages.train.tiles import cell_images, mistakes

ss = st.session_state


def results_tab(owner: str) -> None:
    finished = [j for j in manager().jobs(owner) if not j.active and j.result is not None]
    if not finished:
        job = current_job(owner)
        st.info(t("train.results_wait") if job is not None and job.active else t("train.results_none"),
                icon="⏳" if job is not None and job.active else "👈")
        return
    ids = [j.id for j in finished]
    cur = ss.get(K.RUN)
    if ss.get(K.RESULT_RUN) not in ids:
        ss[K.RESULT_RUN] = cur if cur in ids else ids[-1]
    by_id = {j.id: j for j in finished}
    st.columns([1, 1])[0].selectbox(t("train.result_run"), ids[::-1], key=K.RESULT_RUN,
                                    format_func={i: run_label(j) for i, j in by_id.items()}.get, **PERSIST)
    job = by_id[ss[K.RESULT_RUN]]
    results_body(job, owner)
    watch_link(job)
    keep_model(owner, job)
    share_model(owner, job)


def results_body(job, owner: str | None) -> None:
    """Everything a finished run shows (owner None: a watch link's read-only view)."""
    r, m, cfg = job.result, job.metrics(), config_of(job)
    classes = classes_of(cfg.dataset, cfg.classes)
    c = st.columns(5)
    c[0].metric(t("train.m_test_acc"), pct(r.accuracy, 2))
    c[1].metric(t("train.m_test_loss"), f"{r.loss:.4f}")
    c[2].metric(t("train.m_mistakes", n=f"{r.n:,}"), f"{len(r.wrong_indices):,}")
    c[3].metric(t("train.m_epochs_stopped") if job.stopped else t("train.m_epochs"),
                f"{m.get('epochs_completed', 0)} / {cfg.epochs}")
    c[4].metric(t("train.m_time"), duration(m.get("train_seconds")),
                help=t("train.m_time_help", ips=f"{m.get('images_per_second', 0):,.0f}"))
    left, right = st.columns([6, 5])
    cell = (ss.get(K.CELL_TRUE), ss.get(K.CELL_PRED))
    with left:
        st.markdown(t("train.confusion_title"))
        st.plotly_chart(confusion_figure(r.confusion, classes, t, selected=cell if None not in cell else None),
                        config=PLOT_CONFIG, key=K.CONFUSION, on_select=lambda: select_cell(len(classes)),
                        selection_mode="points")
        st.caption(t("train.confusion_caption"))
    right.plotly_chart(per_class_figure(r.per_class_accuracy, classes, t), config=PLOT_CONFIG,
                       key="train.per_class")
    cell_images(job, classes, owner)
    reliability(m.get("calibration"))
    random_samples(job, classes)
    mistakes(job, classes, owner)


def select_cell(n_classes: int) -> None:
    """on_select of the confusion matrix: the clicked cell's classes go into the cell pickers."""
    k = clicked_marker(ss.get(K.CONFUSION))
    if k is not None and 0 <= k < n_classes * n_classes:
        ss[K.CELL_TRUE], ss[K.CELL_PRED] = confusion_cell(k, n_classes)


def reliability(record: dict | None) -> None:
    """The run's reliability diagram (confidence against accuracy on the test set, raw and after
    temperature scaling), with one line on how to read it."""
    bins = calibration.bins_from_record(record)
    st.markdown(f"**{t('train.calib_title')}**")
    if bins is None:
        st.caption(t("train.calib_none"))
        return
    calibrated, raw = bins
    left, right = st.columns([6, 5], vertical_alignment="center")
    fitted = bool(record.get("fitted"))
    fig = calibration.reliability_figure(calibrated, raw if fitted else None, lang())
    fig.update_layout(title=None)
    left.plotly_chart(fig, config=PLOT_CONFIG, key="train.reliability")
    with right:
        st.markdown(t("train.calib_explain"))
        if fitted:
            st.caption(t("train.calib_summary", t=f"{record['temperature']:.3g}", n=f"{record.get('holdout', 0):,}",
                         before=f"{100 * record['test_ece_raw']:.2f}",
                         after=f"{100 * record['test_ece_calibrated']:.2f}"))
        else:
            st.caption(t("train.calib_none"))
