"""Home: what a CNN does, the pipeline of the original material as a figure, and the three pages."""
from __future__ import annotations

import streamlit as st

from app import routes
from app.ui import lang, t
from core.figures import PLOT_CONFIG
from core.figures.home import pipeline_figure
from core.models import PRESETS, summary

COLOURS = {"conv": "#4C78A8", "relu": "#F58518", "maxpool": "#54A24B", "flatten": "#B279A2",
           "linear": "#E45756"}
CARDS = (("convolution", "🔍", "conv"), ("train", "🏋️", "train"), ("predict", "✍️", "predict"))


@st.cache_data(show_spinner=False)
def pipeline_stages(language: str) -> list[tuple[str, str, str]]:
    """(label, shape, colour) for each stage of the original material's first CNN."""
    spec = PRESETS["2-conv 32/64 → FC"].spec()
    stages = [(t("common.stage_input"), "1×28×28", "#9D9D9D")]
    for layer, row in zip(spec, summary(spec).layers):
        kind = layer["type"]  # the stage's name comes from the catalog, never the English description
        stages.append((t(f"common.stage_{kind}"), "×".join(map(str, row.output_shape)), COLOURS.get(kind, "#888")))
    stages.append((t("common.stage_softmax"), "10", "#72B7B2"))
    return stages


def render() -> None:
    st.title(t("common.home_title"))
    st.markdown(t("common.home_intro"))
    st.subheader(t("common.pipeline_title"))
    st.plotly_chart(pipeline_figure(pipeline_stages(lang())), width="stretch", config=PLOT_CONFIG)
    st.caption(t("common.pipeline_caption"))
    for col, (route, icon, key) in zip(st.columns(3), CARDS):
        with col.container(border=True):
            st.markdown(f"### {icon} {t('common.nav_' + key)}")
            st.write(t(f"common.home_{key}"))
            st.page_link(routes.page(route), label=t(f"common.home_open_{key}"), icon="➡️")
    with st.expander(t("common.home_glossary_title")):
        st.markdown(t("common.home_glossary"))
