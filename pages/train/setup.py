"""① Set up: dataset, architecture and settings, then Start (or why it cannot start yet)."""
from __future__ import annotations

import streamlit as st

import core.data as data_mod
from app import lesson, session
from app.errors import explain
from app.format import duration, estimate, ordinal
from app.state import PERSIST
from app.tabs import open_tab
from app.text import md_escape
from app.ui import cached_dataset, t
from core import jobs
from core.jobs import JobLimitError
from core.limits import LimitError
from core.models import SpecError
from core.run_start import log_interval, start_preview
from core.train import ConfigError, TrainConfig, check_config
from core.userdata import UserDataError
from pages.train.assignment import assignment_brief, assignment_problems
from pages.train.class_join import class_box, class_nickname
from pages.train.architecture import architecture_block
from pages.train.custom import custom_fields
from pages.train.custom import dataset as custom_dataset
from pages.train.dataset import dataset_block
from pages.train.export import code_panel
from pages.train.hyper import hyperparameter_block
from pages.train.keys import LIVE, START_KEY, K
from pages.train.pair import start_pair
from pages.train.runs import classes_of, manager, run_label

ss = st.session_state


def start_run(owner: str, fields: dict) -> None:
    """Start button callback: queue the job (it starts at once when a worker is free) or keep
    the reason to show."""
    ss.pop(K.START_MSG, None)
    try:
        data = custom_dataset() if fields["dataset"] == data_mod.CUSTOM else cached_dataset(fields["dataset"])
        if fields.get("classes") not in (None, list(getattr(data, "classes", []))):
            raise ConfigError(t("classes.changed"))  # the set changed since the form was drawn
        config = TrainConfig(**fields)
        config.log_every = log_interval(len(data.train_labels), config)
        job = manager().start(owner, config, data, nickname=ss.get(K.NICKNAME) or None,
                              client=session.client(), budgets=session.ledger().budgets())
    except JobLimitError as e:
        key = f"train.{e.code}" if hasattr(e, "code") else "train.busy_own" if e.own else "train.queue_full"
        ss[K.START_MSG] = ("warning", t(key, eta=duration(e.seconds_left), max=manager().max_waiting,
                                     **getattr(e, "details", {})))
    except LimitError as e:
        ss[K.START_MSG] = ("error", t("train.arch_limit", reason=explain(e)))
    except (ConfigError, SpecError, data_mod.DataError, UserDataError) as e:
        ss[K.START_MSG] = ("error", t("train.start_failed", reason=str(e)))
    else:
        ss[K.RUN] = job.id
        problem = lesson.record_start(job, ss.get(K.NICKNAME) or None)  # the run counts for the assignment
        if problem is not None:
            ss[K.START_MSG] = ("warning", t("lesson." + problem.code, **getattr(problem, "details", {})))
        open_tab(K.TAB, LIVE)
        ss.pop(K.FM_LAST, None)  # the feature-map slider follows the new run's newest epoch


def what_will_happen(owner: str, config: TrainConfig | None, data) -> str:
    """Before Start: does the run start now or wait, in which place, and until when."""
    p = start_preview(manager(), owner, config, data)
    if not p.queued:
        return t("train.will_start_now") if p.finish is None else t("train.will_start_now_eta", finish=estimate(p.finish))
    if p.start is None:
        return t("train.will_queue_unknown", pos=ordinal(p.position))
    return t("train.will_queue", pos=ordinal(p.position), start=estimate(p.start), finish=estimate(p.finish))


def checked_config(spec, preset_name, fields, num_classes, problems: list[str]) -> TrainConfig | None:
    """The form's TrainConfig when it can run; else None, with the reason added to `problems`."""
    try:
        config = TrainConfig(spec=spec, preset=preset_name, dataset=ss[K.DATASET], **fields)
        check_config(config, num_classes)
    except LimitError as e:  # e.g. the batch size makes the activations too big
        problems.append(t("train.arch_limit", reason=explain(e)))
        return None
    except (ConfigError, SpecError) as e:
        problems.append(str(e))
        return None
    return config


def setup_tab(owner: str) -> None:
    assignment_brief()  # a lesson's current assignment, when a class is on
    class_box()         # in a class: the learner's nickname and PIN, or the way back to their runs
    data = dataset_block()
    custom = ss[K.DATASET] == data_mod.CUSTOM
    extra = custom_fields(data) if custom and data is not None else {}
    num_classes = len(extra["classes"]) if extra else 10 if custom else len(classes_of(ss[K.DATASET]))
    spec, preset_name, arch_error, limited = architecture_block(num_classes)
    fields, hyper_error = hyperparameter_block(len(data.train_labels) if data is not None else None,
                                               extra.get("calibration_holdout"))
    fields.update(extra)
    problems = [p for p in (arch_error and (arch_error if limited else t("train.problem_arch")), hyper_error,
                            data is None and t("train.problem_data")) if p]
    config = None
    if spec is not None and not arch_error and not hyper_error:
        config = checked_config(spec, preset_name, fields, num_classes, problems)
    problems += assignment_problems(config, num_classes)  # outside the assignment's bounds: no Start
    mine = next((j for j in manager().jobs(owner) if j.active), None)
    st.divider()
    for p in problems:
        st.error(p, icon="✋")
    if mine is not None:
        key = "train.own_run_waiting" if mine.queued else "train.own_run_active"
        st.info(t(key, label=md_escape(run_label(mine))), icon="⏳")
    c1, c2, c3 = st.columns([1, 1, 2], vertical_alignment="center")
    with c1.container(key=START_KEY):
        st.button(t("train.start"), type="primary", icon="▶️", width="stretch", key="train.start",
                  disabled=bool(problems) or mine is not None, on_click=start_run,
                  args=(owner, dict(spec=spec, preset=preset_name, dataset=ss[K.DATASET], **fields)))
    in_class = class_nickname()
    if in_class:  # the class nickname, given once: every run carries it
        ss[K.NICKNAME] = in_class
    c2.text_input(t("train.nickname"), key=K.NICKNAME, max_chars=jobs.MAX_NICKNAME,
                  placeholder=t("train.nickname_placeholder"), help=t("train.nickname_help"),
                  label_visibility="collapsed", disabled=bool(in_class), **PERSIST)
    if extra.get("init_from"):  # your classes from a trained model: also offer the side-by-side
        c3.button(t("classes.pair_button"), icon="⚖️", key="train.pair", width="stretch",
                  disabled=mine is not None, on_click=start_pair, args=(owner,), help=t("classes.pair_help"))
    elif mine is None and not problems:
        c3.caption(what_will_happen(owner, config, data))
    else:
        c3.caption(t("train.start_hint"))
    msg = ss.pop(K.START_MSG, None)  # shown once, right after pressing Start
    if msg:
        {"warning": st.warning, "info": st.info}.get(msg[0], st.error)(msg[1])
    code_panel(config)
