"""④ Compare: this session's runs and the saved models (bundled and the visitor's own, nobody
else's) on one chart, with their settings side by side."""
from __future__ import annotations

import html

import pandas as pd
import streamlit as st

from app import session
from app.format import NONE, duration, pct
from app.state import PERSIST
from app.ui import t
from core.figures import PLOT_CONFIG
from core.figures.training import COMPARE_METRICS, compare_figure, default_compare_metric
from core.run_compare import compare_row, default_choice
from pages.train.keys import ROW_PX, K
from pages.train.runs import manager, run_label

ss = st.session_state


def sources_of(owner: str) -> dict[str, dict]:
    """"run:<id>" / "model:<ref>" → label, events, config, metrics, where it comes from."""
    sources: dict[str, dict] = {}
    for job in manager().jobs(owner):
        events = job.events()
        if any(e.get("event") == "step" for e in events):
            sources[f"run:{job.id}"] = dict(label=run_label(job), events=events, config=job.config.to_dict(),
                                            metrics=job.metrics(), source=t("train.src_session"))
    for entry in session.workspace().list_models():
        meta = entry.meta
        if meta.get("history"):
            acc = (meta.get("metrics") or {}).get("test_accuracy")
            label = f"💾 {entry.name}" + (f" · {pct(acc)}" if acc is not None else "")
            sources[f"model:{entry.ref}"] = dict(label=label, events=meta["history"], config=meta.get("config", {}),
                                                 metrics=meta.get("metrics", {}), source=t("train.src_saved"),
                                                 dataset=meta.get("dataset"))
    return sources


def known(value) -> str:
    return NONE if value is None else str(value)


def settings_column(src: dict) -> dict[str, str]:
    """One source's column of the settings table, in the visitor's language."""
    row = compare_row(src["config"], src["metrics"], src.get("dataset"))
    return {
        t("train.col_source"): src["source"],
        t("train.dataset"): row.dataset_title or NONE,
        t("train.col_arch"): row.preset or t("train.custom"),
        t("train.col_params"): NONE if row.params is None else f"{row.params:,}",
        t("train.optimizer"): t(f"train.opt_{row.optimizer}") if row.optimizer else NONE,
        t("train.lr"): row.lr or NONE,
        t("train.batch"): known(row.batch_size), t("train.epochs"): known(row.epochs),
        t("train.scheduler"): t(f"train.sched_{row.scheduler}") if row.scheduler else NONE,
        t("train.augment"): "✓" if row.augment else NONE,
        t("train.fraction"): f"{row.fraction_percent}%", t("train.seed"): known(row.seed),
        t("train.m_test_acc"): pct(row.test_accuracy, 2),
        t("train.m_time"): duration(row.train_seconds) if row.train_seconds else NONE,
    }


def compare_tab(owner: str) -> None:
    sources = sources_of(owner)
    if not sources:
        st.info(t("train.compare_none"), icon="👈")
        return
    keys = list(sources)
    if K.COMPARE not in ss:
        ss[K.COMPARE] = default_choice(keys)
    ss[K.COMPARE] = [k for k in ss[K.COMPARE] if k in sources]
    c1, c2 = st.columns([3, 2])
    chosen = c1.multiselect(t("train.compare_pick"), keys, key=K.COMPARE,
                            format_func={k: v["label"] for k, v in sources.items()}.get, help=t("train.compare_pick_help"), **PERSIST)
    if K.COMPARE_METRIC not in ss:
        ss[K.COMPARE_METRIC] = default_compare_metric([sources[k]["events"] for k in ss[K.COMPARE]])
    metric = c2.radio(t("train.compare_metric"), COMPARE_METRICS, key=K.COMPARE_METRIC, horizontal=True,
                      format_func={k: t(f"train.cmp_{k}") for k in COMPARE_METRICS}.get, **PERSIST)
    if not chosen:
        st.caption(t("train.compare_empty"))
        return
    # Plotly reads a few HTML tags and entities in legend text: a model's name is shown as text.
    fig = compare_figure([(html.escape(sources[k]["label"]), sources[k]["events"]) for k in chosen], metric, t)
    st.plotly_chart(fig, config=PLOT_CONFIG, key="train.compare_chart")
    columns = {sources[k]["label"]: settings_column(sources[k]) for k in chosen}
    st.markdown(t("train.settings_title"))
    frame = pd.DataFrame(columns)
    st.dataframe(frame, width="stretch", height=ROW_PX * (len(frame) + 1) + 3, row_height=ROW_PX)
