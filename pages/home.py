"""Home: what a CNN does, the pipeline of the original material as a figure, and the three pages."""
import plotly.graph_objects as go
import streamlit as st

from core.models import PRESETS, summary
from app.shell import ensure_app_shell
from app.ui import t
from pages import train

ensure_app_shell()
st.title(t("common.home_title"))
st.markdown(t("common.home_intro"))


@st.cache_data(show_spinner=False)
def pipeline_stages(lang: str) -> list[tuple[str, str, str]]:
    """(label, shape, colour) for each stage of the original material's first CNN."""
    spec = PRESETS["2-conv 32/64 → FC"].spec()
    rows = summary(spec).layers
    colours = {"conv": "#4C78A8", "relu": "#F58518", "maxpool": "#54A24B", "flatten": "#B279A2",
               "linear": "#E45756"}
    stages = [(t("common.stage_input"), "1×28×28", "#9D9D9D")]
    for layer, r in zip(spec, rows):
        kind = layer["type"]  # the stage's name comes from the catalog, never the English description
        shape = "×".join(map(str, r.output_shape))
        stages.append((t(f"common.stage_{kind}"), shape, colours.get(kind, "#888")))
    stages.append((t("common.stage_softmax"), "10", "#72B7B2"))
    return stages


def pipeline_figure(stages) -> go.Figure:
    """Boxes left to right, one per stage, with arrows between them."""
    fig = go.Figure()
    for i, (label, shape, colour) in enumerate(stages):
        fig.add_shape(type="rect", x0=i * 1.2, x1=i * 1.2 + 1, y0=0, y1=1,
                      fillcolor=colour, line=dict(width=0), layer="below")
        fig.add_annotation(x=i * 1.2 + 0.5, y=0.62, text=f"<b>{label}</b>", showarrow=False,
                           font=dict(color="white", size=13))
        fig.add_annotation(x=i * 1.2 + 0.5, y=0.3, text=shape, showarrow=False,
                           font=dict(color="white", size=12))
        if i:
            fig.add_annotation(x=i * 1.2, y=0.5, ax=i * 1.2 - 0.2, ay=0.5, xref="x", yref="y",
                               axref="x", ayref="y", showarrow=True, arrowhead=2, arrowwidth=2)
    fig.update_xaxes(visible=False, range=[-0.1, len(stages) * 1.2])
    fig.update_yaxes(visible=False, range=[-0.1, 1.1])
    fig.update_layout(height=170, margin=dict(l=0, r=0, t=10, b=0), plot_bgcolor="rgba(0,0,0,0)")
    return fig


st.subheader(t("common.pipeline_title"))
st.plotly_chart(pipeline_figure(pipeline_stages(st.session_state.get("lang", "en"))),
                width="stretch", config={"displayModeBar": False})
st.caption(t("common.pipeline_caption"))

cols = st.columns(3)
for col, (page, icon, key) in zip(cols, [("pages/convolution.py", "🔍", "conv"),
                                          # a page module: linked by its st.Page (url_path as in streamlit_app.py)
                                          (st.Page(train.render, url_path="train"), "🏋️", "train"),
                                          ("pages/predict.py", "✍️", "predict")]):
    with col.container(border=True):
        st.markdown(f"### {icon} {t('common.nav_' + key)}")
        st.write(t(f"common.home_{key}"))
        st.page_link(page, label=t(f"common.home_open_{key}"), icon="➡️")

with st.expander(t("common.home_glossary_title")):
    st.markdown(t("common.home_glossary"))
