"""The visitor's runs as this page shows them: which one is current, its label, its watch link.

Training runs in core.jobs: one JobManager per server process (app.session.job_manager) with a
fair queue in front of its workers. Runs belong to the visitor's private workspace
(app.session.owner): a reload gets them back through the private link, never a run id in the URL.
"""
from __future__ import annotations

import streamlit as st

import core.data as data_mod
from app import session
from app.format import pct
from app.session import WATCH_PARAM
from app.tabs import open_tab
from app.ui import t
from core import jobs
from core.run_results import config_of
from pages.train.keys import LIVE, PAGE_PATH, K

ss = st.session_state


def manager() -> jobs.JobManager:
    """The server's job manager (asked for on each use: nothing is held at import)."""
    return session.job_manager()


def classes_of(dataset: str, classes=None) -> tuple[str, ...]:
    """A run's class names: a dataset's, or for "custom" the run's own (TrainConfig.classes)."""
    return data_mod.info_for(dataset, classes).classes


def current_job(owner: str) -> jobs.Job | None:
    """The run this session shows: the one it started, else (after a private link brought the
    workspace back, or the workspace changed) the owner's newest waiting-or-training run, else
    its newest run."""
    job = manager().get(ss.get(K.RUN), owner)
    if job is None:
        mine = manager().jobs(owner)
        job = next((j for j in reversed(mine) if j.active), None) or (mine[-1] if mine else None)
        if job is not None:
            ss[K.RUN] = job.id
            if job.active:
                open_tab(K.TAB, LIVE)
        else:
            ss.pop(K.RUN, None)
    return job


def run_label(job) -> str:
    """"Run 3 · fast · MNIST · 97.3%" (a Job, or a watch link's JobView)."""
    arch = job.preset or t("train.custom")
    acc = job.metrics().get("test_accuracy")
    name = config_of(job).dataset
    title = t("classes.nav") if name == data_mod.CUSTOM else data_mod.DATASETS[name].title
    base = t("train.run_label", n=job.number, arch=arch, dataset=title)
    return f"{base} · {pct(acc)}" if acc is not None else base


def watch_url(job) -> str:
    """The address of a run's read-only watch link (the app's own address when known)."""
    page_url = (st.context.url or "").split("?")[0].rstrip("/")
    # On Streamlit 1.67 the address still ends with this page's path ("…/train"); keep one.
    base = page_url.removesuffix(f"/{PAGE_PATH}")
    return f"{base}/{PAGE_PATH}?{WATCH_PARAM}={job.watch_token}"
