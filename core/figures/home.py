"""The Home page's figure: the original material's first CNN as a row of stages."""
from __future__ import annotations

import plotly.graph_objects as go

STEP = 1.2  # one stage's box (1 wide) and the gap to the next


def pipeline_figure(stages: list[tuple[str, str, str]]) -> go.Figure:
    """Boxes left to right, one per (label, shape, colour) stage, with arrows between them."""
    fig = go.Figure()
    for i, (label, shape, colour) in enumerate(stages):
        x = i * STEP
        fig.add_shape(type="rect", x0=x, x1=x + 1, y0=0, y1=1, fillcolor=colour, line=dict(width=0),
                      layer="below")
        fig.add_annotation(x=x + 0.5, y=0.62, text=f"<b>{label}</b>", showarrow=False,
                           font=dict(color="white", size=13))
        fig.add_annotation(x=x + 0.5, y=0.3, text=shape, showarrow=False, font=dict(color="white", size=12))
        if i:
            fig.add_annotation(x=x, y=0.5, ax=x - 0.2, ay=0.5, xref="x", yref="y", axref="x", ayref="y",
                               showarrow=True, arrowhead=2, arrowwidth=2)
    fig.update_xaxes(visible=False, range=[-0.1, len(stages) * STEP])
    fig.update_yaxes(visible=False, range=[-0.1, 1.1])
    fig.update_layout(height=170, margin=dict(l=0, r=0, t=10, b=0), plot_bgcolor="rgba(0,0,0,0)")
    return fig
