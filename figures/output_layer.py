"""The output layer for one digit: its ten scores and probabilities, each digit in its colour (Inspect,
Evaluate)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from figures.palette import DIGIT_COLORS, LINE_COLORS
from figures.style import clear_of_toolbar, layout
from lab.format import fmt_pct
from lab.labels import label, noun

TRUE_MARK_GAP = 0.2  # the true digit's marker sits this far above its bar, clear of the bar's percentage


def probability_figure(proba: np.ndarray, true_label: int | None = None) -> go.Figure:
    """The output layer's softmax ``proba: (C,)`` as bars in each digit's colour; the true one outlined and
    pointed at from above (an outline alone vanishes on a bar of <0.1%)."""
    proba = np.asarray(proba, dtype=np.float64).ravel()
    outline = [3 if true_label is not None and c == true_label else 0 for c in range(proba.size)]
    bar = {"type": "bar", "x": [label(c) for c in range(proba.size)], "y": proba,
           "marker": {"color": list(DIGIT_COLORS[:proba.size]), "line": {"color": "black", "width": outline}},
           "text": [fmt_pct(p) for p in proba], "textposition": "outside", "cliponaxis": False,
           "hovertemplate": f"{noun()} %{{x}}: %{{y:.2%}}<extra></extra>"}
    data = [bar]
    if true_label is not None and 0 <= true_label < proba.size:
        data.append({"type": "scatter", "x": [label(true_label)], "y": [float(proba[true_label]) + TRUE_MARK_GAP],
                     "mode": "markers+text", "text": ["true"], "textposition": "top center", "name": f"true {noun()}",
                     "marker": {"symbol": "triangle-down", "size": 14, "color": "black"}, "cliponaxis": False,
                     "hovertemplate": f"the true {noun()}, {label(true_label)}<extra></extra>"})
    suffix = "" if true_label is None else f" (true: {label(true_label)}, marked ▼)"
    return go.Figure(data=data, layout=clear_of_toolbar(layout(
        f"Output probabilities: predicts {label(int(proba.argmax()))}{suffix}", noun(), "probability", height=340,
        legend=False, xaxis={"type": "category"}, yaxis={"range": [0, 1.4], "tickvals": [0, 0.25, 0.5, 0.75, 1],
                                                         "tickformat": ".0%"})))


def output_scores_figure(logits: np.ndarray, proba: np.ndarray) -> go.Figure:
    """The output layer for one digit: each digit's score (logit, top) and its softmax probability (bottom)."""
    logits = np.asarray(logits, dtype=np.float64).ravel()
    proba = np.asarray(proba, dtype=np.float64).ravel()
    digits = [label(c) for c in range(logits.size)]
    colors = list(DIGIT_COLORS[:logits.size])
    bars = [
        {"type": "bar", "x": digits, "y": logits, "marker": {"color": colors, "line": {"width": 0}}, "name": "score",
         "xaxis": "x", "yaxis": "y", "hovertemplate": f"{noun()} %{{x}}: score %{{y:.3f}}<extra></extra>"},
        {"type": "bar", "x": digits, "y": proba, "marker": {"color": colors, "line": {"width": 0}},
         "name": "probability", "xaxis": "x", "yaxis": "y2",
         "hovertemplate": f"{noun()} %{{x}}: probability %{{y:.2%}}<extra></extra>"},
    ]
    top = int(logits.argmax())
    return go.Figure(data=bars, layout=layout(
        f"Output layer: the ten {noun(plural=True)}' scores; the highest, {label(top)}, is the answer", height=360,
        legend=False,
        bargap=0.15,
        xaxis={"title": {"text": noun()}, "type": "category", "anchor": "y2"},
        yaxis={"title": {"text": "score (logit)"}, "domain": [0.55, 1.0],
               "zeroline": True, "zerolinecolor": LINE_COLORS["neutral"]},
        yaxis2={"title": {"text": "softmax probability"}, "domain": [0.0, 0.45], "range": [0, 1.05],
                "tickformat": ".0%"}))
