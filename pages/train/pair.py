"""From scratch vs transfer on your classes: two runs on the same examples, split and seed that
differ only in where the weights start (core.userdata.side_by_side). A visitor may have only
CNN_LAB_RUNS_PER_VISITOR runs waiting or training (default 1): the second then waits in this
session and starts by itself when the first ends."""
from __future__ import annotations

import streamlit as st

from app.errors import explain
from app.ui import t
from core.jobs import JobLimitError
from core.limits import LimitError
from core.run_start import log_interval
from core.train import ConfigError
from core.userdata import UserDataError, side_by_side
from pages.train.custom import dataset, init_from, source_name
from pages.train.keys import K, LIVE
from pages.train.runs import manager

ss = st.session_state


def _start(owner: str, config, nickname: str):
    data = dataset()
    config.log_every = log_interval(len(data.train_labels), config)
    return manager().start(owner, config, data, nickname=nickname)


def start_pair(owner: str) -> None:
    """The compare button: start the scratch run, then the transfer run (or keep it waiting)."""
    from app.tabs import open_tab

    ss.pop(K.START_MSG, None)
    ref = ss.get(K.TL_SOURCE)
    try:
        configs = side_by_side(dataset(), init_from(ref), freeze=bool(ss.get(K.TL_FREEZE, True)),
                               seed=int(ss.get(K.SEED, 0)), max_epochs=manager().max_epochs)
        configs["transfer"].init_name = source_name(ref)
        job = _start(owner, configs["scratch"], t("classes.pair_scratch"))
    except JobLimitError as e:
        ss[K.START_MSG] = ("warning", t("train.busy_own" if e.own else "train.queue_full", eta="—",
                                        max=manager().max_waiting))
        return
    except (LimitError, ConfigError, UserDataError) as e:
        ss[K.START_MSG] = ("error", t("train.start_failed", reason=explain(e)))
        return
    ss[K.RUN] = job.id
    open_tab(K.TAB, LIVE)
    try:
        _start(owner, configs["transfer"], t("classes.pair_transfer"))
    except JobLimitError:
        ss[K.PENDING] = configs["transfer"]  # one run at a time for this visitor: it follows
        ss[K.START_MSG] = ("info", t("classes.pair_waits"))


def start_pending(owner: str) -> None:
    """The waiting second run of a pair, once this visitor has no run waiting or training."""
    config = ss.get(K.PENDING)
    if config is None or any(j.active for j in manager().jobs(owner)):
        return
    ss.pop(K.PENDING, None)
    try:
        job = _start(owner, config, t("classes.pair_transfer"))
    except JobLimitError:
        ss[K.PENDING] = config  # still busy (another tab of this workspace): try again later
        return
    except (LimitError, ConfigError, UserDataError) as e:
        ss[K.START_MSG] = ("error", t("train.start_failed", reason=explain(e)))
        return
    ss[K.RUN] = job.id
