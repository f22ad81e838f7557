"""The Class page's session-state keys ("class.<name>"; the convention is in app/state.py)."""
from __future__ import annotations

import streamlit as st

ss = st.session_state
REFRESH_S = 2.0


class K:
    """This page's session-state keys ("class.<name>"; the convention is in app/state.py)."""
    KEY = "class.key"
    RUN = "class.run"                    # the run picked in "Manage a run" (a job id)
    PUBLISHED = "class.published"        # {job id: gallery entry id} added from this page
    MESSAGE = "class.message"            # (job id, "success" | "error", sentence) kept across refreshes
    GALLERY_NOTICE = "class.gallery_notice"  # a sentence shown once in the gallery panel

    @staticmethod
    def picker(language: str) -> str:
        return f"class.run_picker.{language}"

    @staticmethod
    def nickname(job_id: str) -> str:
        return f"class.gallery_nickname.{job_id}"

