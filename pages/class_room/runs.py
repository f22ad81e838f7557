"""How the Class page names and lists runs: the leaderboard's rows and a run's labels.

A run is named by its number on the server ("#12"), so two runs of one nickname, architecture
and second still read differently in the run picker; a client (one network) by its number on this
page ("visitor 3"): its id is a keyed hash the teacher never needs to see."""
from __future__ import annotations

import time

import pandas as pd

import streamlit as st

from app.format import NONE, duration, pct
from app.ui import t
from core import jobs as jobs_mod
from core.data import DATASETS
from core.workspace import display_name
from pages.class_room.keys import K

ss = st.session_state


def visitor_numbers(rows) -> dict[str, int]:
    """client id -> "visitor N": numbered in the order this page first saw them (kept in the
    teacher's session, so a number never moves to another client while the page is open)."""
    known: dict[str, int] = ss.setdefault(K.VISITORS, {})
    for r in sorted(rows, key=lambda r: r.serial):
        if r.client and r.client not in known:
            known[r.client] = len(known) + 1
    return known


def visitor_of(row, numbers: dict[str, int]) -> str:
    return t("class.visitor", n=numbers[row.client]) if row.client in numbers else t("class.visitor_local")


def run_label(row) -> str:
    """"#12 · Ada · fast · submitted 06:51:12": unique on this server (the run's number)."""
    return t("class.run_label_n", serial=row.serial, nickname=nickname_of(row), architecture=architecture_of(row),
             time=clock(row.created))


def nickname_of(row) -> str:
    """The learner's nickname, cleaned of markup (it is shown in sentences rendered as Markdown)."""
    return display_name(row.nickname, fallback="") or t("class.anonymous")


def architecture_of(row) -> str:
    return t("class.custom") if row.architecture == "custom" else row.architecture


def settings_text(settings: dict) -> str:
    dataset = DATASETS[settings["dataset"]].title if settings.get("dataset") in DATASETS else "?"
    return t("class.settings", epochs=settings.get("epochs"), batch_size=settings.get("batch_size"),
             lr=f"{float(settings.get('lr', 0)):g}", optimizer=settings.get("optimizer"),
             percent=f"{100 * float(settings.get('fraction', 1)):g}", dataset=dataset)


def clock(wall: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(wall))


def board_frame(rows: list[jobs_mod.BoardRow]) -> pd.DataFrame:
    numbers = visitor_numbers(rows)
    return pd.DataFrame({
        t("class.col_serial"): [f"#{r.serial}" for r in rows],
        t("class.col_visitor"): [visitor_of(r, numbers) for r in rows],
        t("class.col_started"): [clock(r.created) for r in rows],
        t("class.col_nickname"): [nickname_of(r) for r in rows],
        t("class.col_architecture"): [architecture_of(r) for r in rows],
        t("class.col_settings"): [settings_text(r.settings) for r in rows],
        t("class.col_status"): [t(f"class.state_{r.state}") for r in rows],
        t("class.col_position"): [str(r.position) if r.position else "" for r in rows],
        t("class.col_accuracy"): [pct(r.accuracy) for r in rows],
        t("class.col_progress"): [round(100 * float(r.progress)) for r in rows],
        t("class.col_finish"): [duration(r.seconds_to_finish, unknown=NONE) if r.state in jobs_mod.ACTIVE_STATES
                                else "—" for r in rows],
    })



def find_job(manager: jobs_mod.JobManager, serial: int | None) -> jobs_mod.Job | None:
    """The run with this number on the server (the page never holds a run id in a widget)."""
    return next((j for j in manager.all_jobs() if j.serial == serial), None) if serial else None


