"""The Class page's exports: the lesson's results as CSV or JSON (times in the teacher's time
zone) and the class gallery's models as a zip with a model card each (core.lesson.export).
The files are built only when the teacher clicks (deferred data), not on every redraw."""
from __future__ import annotations

import streamlit as st

from app import lesson, session
from app.ui import lang, t
from core import gallery
from core.lesson.export import export_rows, gallery_zip, roster_csv, roster_json
from core.lesson.times import zone_name
from core.lesson.views import sync_runs


def _rows(store, manager, zone: str | None) -> list[dict]:
    sync_runs(store, manager)   # the newest results, even between two roster redraws
    return export_rows(store.runs(all_rounds=True), store.assignments(all_rounds=True), store.roster(), zone)


def export_panel() -> None:
    st.subheader(t("lessonui.export"))
    zone = st.context.timezone
    language = lang()
    # The callables run when the teacher clicks, outside this script run: everything they need
    # is taken now (the browser's zone, the store, the manager).
    store, manager = lesson.store(), session.job_manager()
    code = store.lesson().code
    c1, c2, c3 = st.columns(3)
    c1.download_button(t("lessonui.export_csv"), data=lambda: roster_csv(_rows(store, manager, zone)), file_name=f"lesson-{code}.csv",
                       mime="text/csv", icon="📄", width="stretch", key="class.export_csv")
    c2.download_button(t("lessonui.export_json"), data=lambda: roster_json(_rows(store, manager, zone), zone, code),
                       file_name=f"lesson-{code}.json", mime="application/json", icon="🧾", width="stretch",
                       key="class.export_json")
    c3.download_button(t("lessonui.export_zip"), data=lambda: gallery_zip(gallery.list_entries(), lang=language),
                       file_name=f"gallery-{code}.zip", mime="application/zip", icon="🗜️", width="stretch",
                       key="class.export_zip")
    st.caption(t("lessonui.export_caption", zone=zone_name(zone)))
