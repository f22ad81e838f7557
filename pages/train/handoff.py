"""Handing a run's model to the Predict page: the saved file once it is saved, else the run
itself (app.models lists a visitor's finished runs on demand, by job id)."""
from __future__ import annotations

import streamlit as st

from app import routes
from app.models import run_ref
from app.state import PREDICT_REQUEST
from core import jobs
from pages.train.keys import K

ss = st.session_state


def open_in_predict(job: jobs.Job, test_index: int) -> None:
    """The Predict page with this run's model and one test image."""
    saved = ss.get(K.SAVED, {}).get(job.id)  # "own:<stem>" once saved into the workspace
    ss[PREDICT_REQUEST] = {"model": saved or run_ref(job.id), "test_index": int(test_index)}
    routes.switch_to("predict")


def open_predict() -> None:
    """The Predict page (its model list offers the saved model)."""
    routes.switch_to("predict")
