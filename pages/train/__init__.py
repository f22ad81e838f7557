"""Train page: set up a run, watch it learn live, inspect and keep the model, compare runs.

Layout only; each tab is a module of this package (setup, live, results with keep/share,
compare) and a run's *watch link* (?watch=<token>) opens the read-only view of watch.py. The
decisions behind them live in core (core.run_start, core.run_results, core.run_compare). The
page has no side effects at import: streamlit_app.py hands `render` to st.Page.
"""
from __future__ import annotations

import streamlit as st

from app import session
from app.errors import guarded
from app.session import WATCH_PARAM
from app.tabs import remembered_tabs
from app.ui import t
from pages.train.compare import compare_tab
from pages.train.form import class_defaults, init_form
from pages.train.keys import LIVE, K
from pages.train.live import live_tab, poll_every, watcher
from pages.train.pair import start_pending
from pages.train.results import results_tab
from pages.train.runs import current_job, manager
from pages.train.setup import setup_tab
from pages.train.watch import watch_page

TABS = (("train.tab_setup", setup_tab), ("train.tab_live", live_tab), ("train.tab_results", results_tab),
        ("train.tab_compare", compare_tab))


def own_page() -> None:
    owner = session.owner()
    init_form()
    class_defaults(owner)  # in a class: the learner's seed, the current assignment's settings
    st.title(t("train.title"))
    st.markdown(t("train.intro"))
    st.caption(t("train.private_hint"))
    start_pending(owner)  # the second run of a scratch-vs-transfer pair, once the first has ended
    job = current_job(owner)
    tabs = remembered_tabs([t(label) for label, _ in TABS], K.TAB)
    for tab, (_, draw) in zip(tabs, TABS):
        with tab:
            if tab.open:  # only the open tab's body runs
                draw(owner)
    # Always registered, always the page's last element: see pages/train/live.py.
    every = (poll_every(job, manager().status(job))
             if job is not None and job.active and not tabs[LIVE].open else None)
    st.fragment(run_every=every)(guarded(watcher))(owner, None if job is None else job.id, every)


def render() -> None:
    """The page: a watch link's read-only view, else the visitor's own Train page."""
    token = st.query_params.get(WATCH_PARAM)
    if token is not None:
        watch_page(token)
    else:
        own_page()
