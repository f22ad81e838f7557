"""The projector's live race: every learner's validation accuracy over time, one line each.

Built for a shared screen: lines are named by nickname only (no run id, watch token, workspace
id, or anything else in names, hover text or custom data — the projector must not reveal a private
or watch link), the teacher's featured learners are drawn thick and in colour over thin grey
lines, and the layout fits a 1280 px wide projector. Times on the x axis are wall-clock, in the
viewer's time zone.

`race_points(started, events)` turns one run's events (core.jobs.Job.events(), each stamped with
`elapsed` seconds since its worker took it) into (time, accuracy) points: the test/validation
accuracy after each epoch and the final one. The page passes the points of each learner's current
run to `race_figure`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable

import plotly.graph_objects as go

from core.figures import Translate
from core.figures.training import PALETTE

GREY = "rgba(140,140,140,0.55)"
PROJECTOR_WIDTH = 1280


@dataclass(frozen=True)
class RaceLine:
    nickname: str                                  # cleaned (core.names): safe to show
    points: list[tuple[float, float]] = field(default_factory=list)   # (UTC epoch s, accuracy 0..1)
    featured: bool = False


def race_points(started: float | None, events: Iterable[dict[str, Any]]) -> list[tuple[float, float]]:
    """(wall-clock time, validation accuracy) after each epoch of one run, and its final figure."""
    if started is None:
        return []
    out = []
    for e in events:
        if e.get("event") in ("epoch", "done") and isinstance(e.get("test_accuracy"), (int, float)):
            point = (started + float(e.get("elapsed", 0.0)), float(e["test_accuracy"]))
            if not out or out[-1] != point:
                out.append(point)
    return out


def race_figure(lines: Iterable[RaceLine], t: Translate, tz: Any = None, height: int = 460) -> go.Figure:
    """One line per nickname; featured ones on top, thick and coloured. `tz`: a tzinfo (None: UTC)."""
    zone = tz or timezone.utc
    # Traces and annotations are collected first and handed to one Figure: adding them one by
    # one re-validates the whole layout each time (40 learners took 1.4 s instead of ~0.1 s).
    traces, notes = [], []
    ordered = sorted(lines, key=lambda line: line.featured)   # featured drawn last, on top
    colour = 0
    for line in ordered:
        if not line.points:
            continue
        xs = [datetime.fromtimestamp(p[0], timezone.utc).astimezone(zone) for p in line.points]
        ys = [100 * p[1] for p in line.points]
        if line.featured:
            style = dict(color=PALETTE[colour % len(PALETTE)], width=4)
            colour += 1
        else:
            style = dict(color=GREY, width=1.5)
        traces.append(go.Scatter(x=xs, y=ys, mode="lines+markers", name=line.nickname, line=style,
                                 marker=dict(size=9 if line.featured else 5),
                                 hovertemplate="%{fullData.name}: %{y:.2f}%<extra></extra>"))
        # The nickname at the line's end, so a projector needs no legend lookup.
        notes.append(dict(x=xs[-1], y=ys[-1], text=line.nickname, showarrow=False, xanchor="left", xshift=6,
                          font=dict(size=16 if line.featured else 11,
                                    color=style["color"] if line.featured else "#777777")))
    fig = go.Figure(data=traces, layout=dict(annotations=notes))
    fig.update_layout(title=dict(text=t("lesson.race_title"), x=0, font=dict(size=20)), height=height,
                      margin=dict(l=10, r=120, t=56, b=10), showlegend=False,
                      font=dict(size=14), hovermode="closest")
    fig.update_xaxes(title_text=t("lesson.race_time"), tickformat="%H:%M")
    fig.update_yaxes(title_text=t("lesson.race_accuracy"), ticksuffix="%")
    return fig


__all__ = ["PROJECTOR_WIDTH", "RaceLine", "race_figure", "race_points"]
