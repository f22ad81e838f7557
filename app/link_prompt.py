"""The question a private link asks before it switches this session to another workspace, and
the notes about links that were not followed.

The shell calls `render()` on every run, after the navigation and before the page:

    from app import link_prompt
    ...
    page = st.navigation(pages)
    link_prompt.render()       # may st.stop() the run when no workspace can be started
    with error_boundary():
        page.run()

Whoever made a private link can open its workspace too, so a link is never followed silently:
the visitor sees where it leads (how many saved models are there) and answers. Saying no keeps
their own workspace; the link is forgotten either way.
"""
from __future__ import annotations

import streamlit as st

from app import session
from app.ui import t

PROMPT_KEY = "link-prompt"   # the question's container: `.st-key-link-prompt` for browser tests


def render() -> None:
    if session.pending_workspace_switch() is not None:
        question()
    if session.pop_watch_link_had_workspace():
        st.info(t("link.watch_had_workspace"), icon="🔗")
    refusal = session.workspace_refusal()
    if refusal is not None:
        budget_refusal()
        st.stop()


def question() -> None:
    """"Open the workspace from this link?" with Open / Keep mine."""
    models = session.pending_workspace_models()
    with st.container(border=True, key=PROMPT_KEY):
        st.markdown(f"**{t('link.question_title')}**")
        st.write(t("link.question_models", n=models) if models else t("link.question_empty"))
        st.caption(t("link.question_warning"))
        left, right = st.columns(2)
        left.button(t("link.open"), icon="🔑", type="primary", width="stretch",
                    key="link-prompt-open", on_click=session.confirm_switch)
        right.button(t("link.keep" if session.has_workspace() else "link.fresh"), width="stretch",
                     key="link-prompt-keep", on_click=session.decline_switch)


def budget_refusal() -> None:
    """The sentence for a visitor whose network started too many workspaces this hour."""
    try:
        session.workspace()
    except session.WorkspaceBudgetError as e:
        st.error(t("link.workspace_budget", **e.details), icon="⏳")
