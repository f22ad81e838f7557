"""① Set up: the form's run as a self-contained PyTorch script (core.codegen) to read or download."""
from __future__ import annotations

import streamlit as st

import core.data as data_mod
from app.ui import t
from core.codegen import script_file_name, training_script
from core.train import TrainConfig


def code_panel(config: TrainConfig | None) -> None:
    # Lazy: the script is written only while the panel is open (opening it reruns the page).
    # Closed, as on every learner's first look at Train, it cost 15% of the page's run.
    panel = st.expander(t("export.title"), key="train-code", on_change="rerun")
    if not panel.open:
        return
    with panel:
        try:
            script = training_script(config) if config is not None else None
        except (ValueError, data_mod.DataError):  # ConfigError, SpecError, LimitError: nothing to export
            script = None
        if script is None:
            st.caption(t("export.unavailable"))
            return
        name = script_file_name(config)
        st.caption(t("export.intro"))
        if config.dataset == data_mod.CUSTOM:  # your classes: the zip the Your classes page exports
            st.caption(t("classes.export_run_hint", file=name))
        else:
            st.caption(t("export.run_hint", folder=data_mod.get_info(config.dataset).folder, file=name))
        st.download_button(t("export.download", file=name), script, file_name=name, mime="text/x-python",
                           on_click="ignore", icon=":material/download:", key="train.code_download")
        st.code(script, language="python", height=480)
