"""Handing a run's model to the Predict page (this session's unsaved runs, or one image)."""
from __future__ import annotations

import streamlit as st

from app.format import pct
from app.state import PREDICT_REQUEST, SESSION_MODELS
from app.ui import t
from core import jobs
from core.checkpoint import from_model
from pages.train.keys import K
from pages.train.runs import manager

ss = st.session_state
PREDICT_PAGE = "pages/predict.py"


def publish_finished_runs(owner: str) -> None:
    """Every finished run's model goes into SESSION_MODELS so the Predict page can use it."""
    published = ss.setdefault(K.PUBLISHED, {})
    models = ss.setdefault(SESSION_MODELS, {})
    for job in manager().jobs(owner):
        if job.id in published or job.active or job.state == jobs.FAILED or job.model is None:
            continue
        name = t("train.model_name", n=job.number, arch=job.preset or t("train.custom"),
                 acc=pct(job.metrics().get("test_accuracy")))
        models[name] = from_model(job.model, job.checkpoint_metadata(name))
        published[job.id] = name


def open_in_predict(owner: str, job: jobs.Job, test_index: int) -> None:
    """The Predict page with this run's model (the saved one, else this session's copy) and one image."""
    publish_finished_runs(owner)
    saved = ss.get(K.SAVED, {}).get(job.id)  # "own:<stem>" once saved into the workspace
    ss[PREDICT_REQUEST] = {"model": saved or f"session:{ss[K.PUBLISHED][job.id]}", "test_index": int(test_index)}
    st.switch_page(PREDICT_PAGE)
