"""The reliability diagram: accuracy against confidence per bin, with each bin's count under it."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from figures.palette import LINE_COLORS
from figures.style import layout, log_axis
from lab.format import fmt_pct
from lab.labels import noun
from nn.explain.calibration import Reliability


def _hover(r: Reliability) -> list[str]:
    lines = []
    for b, count in enumerate(r.counts):
        span = f"confidence {r.edges[b]:.2f}–{r.edges[b + 1]:.2f}: {int(count):,} {noun(plural=True)}"
        if count:
            span += (f"<br>mean confidence {fmt_pct(r.confidence[b], 1)}, right {fmt_pct(r.accuracy[b], 1)}"
                     f"<br>gap {abs(r.accuracy[b] - r.confidence[b]) * 100:.1f} points")
        lines.append(span)
    return lines


def reliability_figure(r: Reliability, title: str, *, height: int = 460) -> go.Figure:
    """Top: each bin's accuracy (bars) against its mean confidence (diamonds) and the diagonal. Bottom: counts.

    A calibrated network's bars reach its diamonds, which lie on the diagonal; a bar below its diamond
    is overconfidence. The counts panel (log scale) shows how few digits the low-confidence bins hold.
    """
    centres = (r.edges[:-1] + r.edges[1:]) / 2
    width = float(r.edges[1] - r.edges[0])
    filled = r.counts > 0
    hover = _hover(r)
    accuracy = np.where(filled, r.accuracy, 0.0)
    traces = [
        {"type": "bar", "x": centres, "y": accuracy, "width": width * 0.9, "name": "share right (accuracy)",
         "marker": {"color": LINE_COLORS["train"]}, "hovertext": hover, "hovertemplate": "%{hovertext}<extra></extra>",
         "xaxis": "x", "yaxis": "y"},
        {"type": "scatter", "x": centres[filled], "y": r.confidence[filled], "mode": "markers",
         "name": "mean confidence", "marker": {"symbol": "diamond", "size": 9, "color": LINE_COLORS["marker"]},
         "hoverinfo": "skip", "xaxis": "x", "yaxis": "y"},
        {"type": "scatter", "x": [0, 1], "y": [0, 1], "mode": "lines", "name": "perfectly calibrated",
         "line": {"color": LINE_COLORS["neutral"], "dash": "dot", "width": 1.5}, "hoverinfo": "skip",
         "xaxis": "x", "yaxis": "y"},
        {"type": "bar", "x": centres, "y": np.where(filled, r.counts, np.nan), "width": width * 0.9,
         "name": f"{noun(plural=True)} in the bin", "marker": {"color": LINE_COLORS["neutral"]}, "text": [f"{c:,}" for c in r.counts],
         "textposition": "outside", "textfont": {"size": 9}, "cliponaxis": False, "hovertext": hover,
         "hovertemplate": "%{hovertext}<extra></extra>", "xaxis": "x", "yaxis": "y2", "showlegend": False},
    ]
    spec = layout(
        title, height=height, bargap=0.05, margin={"l": 60, "r": 20, "t": 50, "b": 90},
        xaxis={"title": {"text": "confidence (probability of the answer), in bins"}, "range": [0, 1],
               "tickformat": ".0%", "anchor": "y2"},
        yaxis={"title": {"text": "accuracy in the bin"}, "range": [0, 1.02], "tickformat": ".0%",
               "domain": [0.38, 1.0]},
        yaxis2={"title": {"text": f"{noun(plural=True)} (log)"}, **log_axis(r.counts, max_ticks=4), "domain": [0.0, 0.26]})
    # Under the chart: above it, a legend would run into the title on a half-width column.
    spec["legend"] = {"orientation": "h", "x": 0.0, "xanchor": "left", "y": -0.2, "yanchor": "top"}
    return go.Figure(data=traces, layout=spec)


def reliability_title(r: Reliability, temperature: float | None = None) -> str:
    """"Before temperature scaling: ECE 1.23%" or "After dividing the scores by T = 1.43: ECE 0.41%"."""
    head = "Before temperature scaling" if temperature is None else f"After dividing the scores by T = {temperature:.2f}"
    return f"{head}: ECE {r.ece * 100:.2f}%"
