"""The Class page's lesson budgets: what one network (client) may use, raised for a lesson.

A class behind one school NAT is one client to the server (core.clients), so the per-client
budgets that hold one person with many tabs (core.budgets) would hold the whole class. The teacher
raises them here; the values are stored in the checkpoint folder's ledger, so every app server on
that folder uses them at once and they survive a restart, until "Back to the server's settings".
"""
from __future__ import annotations

import streamlit as st

from app import session
from app.errors import guarded
from app.ui import t
from core.budgets import MB
from pages.class_room.keys import K, ss

# (budget, unit shown to the teacher, multiplier to the stored value), in the order shown
FIELDS = (("runs_per_client", 1), ("queue_share_percent", 1), ("workspaces_per_hour", 1),
          ("gallery_per_client", 1), ("client_disk_bytes", MB))


def save_budgets() -> None:
    """Form callback: store every changed budget (teacher only)."""
    if not session.is_teacher():
        return
    current = session.ledger().budgets()
    changed = 0
    for name, unit in FIELDS:
        value = ss.get(K.budget(name))
        if value is not None and int(value) * unit != getattr(current, name):
            session.set_budget(name, int(value) * unit)
            changed += 1
    ss[K.BUDGET_NOTICE] = t("class.budgets_saved", n=changed)


def reset_budgets() -> None:
    if session.is_teacher():
        session.ledger().reset_budgets()
        for name, _ in FIELDS:
            ss.pop(K.budget(name), None)
        ss[K.BUDGET_NOTICE] = t("class.budgets_reset")


@guarded
def budgets_panel() -> None:
    if not session.is_teacher():
        return
    with st.expander(t("class.budgets_title"), icon="🎚️"):
        st.caption(t("class.budgets_intro"))
        notice = ss.pop(K.BUDGET_NOTICE, None)
        if notice:
            st.success(notice)
        current = session.ledger().budgets()
        with st.form("class.budgets_form", border=False):
            cols = st.columns(len(FIELDS))
            for col, (name, unit) in zip(cols, FIELDS):
                ss.setdefault(K.budget(name), getattr(current, name) // unit)
                col.number_input(t(f"class.budget_{name}"), min_value=1, max_value=100 if name.endswith("percent")
                                 else 100_000, step=1, key=K.budget(name), help=t(f"class.budget_{name}_help"))
            st.form_submit_button(t("class.budgets_save"), icon="💾", on_click=guarded(save_budgets))
        st.button(t("class.budgets_reset_button"), key="class.budgets_reset", on_click=guarded(reset_budgets))
