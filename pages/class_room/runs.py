"""How the Class page names and lists runs: the leaderboard's rows and a run's labels."""
from __future__ import annotations

import time

import pandas as pd

from app.format import NONE, duration, pct
from app.ui import t
from core import jobs as jobs_mod
from core.data import DATASETS
from core.workspace import display_name


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
    return pd.DataFrame({
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



def find_job(manager: jobs_mod.JobManager, job_id: str | None) -> jobs_mod.Job | None:
    return next((j for j in manager.all_jobs() if j.id == job_id), None)


