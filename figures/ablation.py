"""Figures of an ablation: accuracy per digit intact and with units off, and the change of the confusion matrix."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from figures.palette import DIGIT_COLORS, LINE_COLORS, diverging_kwargs
from figures.style import layout
from lab.labels import labels, noun


def per_class_change_figure(intact: np.ndarray, ablated: np.ndarray) -> go.Figure:
    """Accuracy on each true digit: the intact network (grey) beside the ablated one (each digit's colour)."""
    digits = list(labels())[:len(intact)]
    hover = [f"{noun()} {d}: {a:.2%} intact, {b:.2%} with units off ({(b - a) * 100:+.1f} points)"
             for d, a, b in zip(digits, intact, ablated)]
    bars = [
        {"type": "bar", "x": digits, "y": np.asarray(intact), "name": "intact",
         "marker": {"color": LINE_COLORS["neutral"], "opacity": 0.45}, "hovertext": hover,
         "hovertemplate": "%{hovertext}<extra></extra>"},
        {"type": "bar", "x": digits, "y": np.asarray(ablated), "name": "with units off",
         "marker": {"color": list(DIGIT_COLORS[:len(digits)])}, "hovertext": hover,
         "hovertemplate": "%{hovertext}<extra></extra>"},
    ]
    return go.Figure(data=bars, layout=layout(
        f"Accuracy on each {noun()}: intact (grey) and with the units off", f"true {noun()}", "accuracy", height=340,
        barmode="group", bargap=0.2, xaxis={"type": "category"}, yaxis={"range": [0, 1.0], "tickformat": ".0%"}))


def confusion_change_figure(delta: np.ndarray) -> go.Figure:
    """Ablated minus intact confusion counts: blue cells gained digits, red cells lost them; 0 left blank."""
    delta = np.asarray(delta)
    k = delta.shape[0]
    text = [["" if v == 0 else f"{int(v):+d}" for v in row] for row in delta]
    names = labels()
    hover = [[f"true {names[t]}, predicted {names[p]}: {int(delta[t, p]):+d} {noun(plural=True)}" for p in range(k)]
             for t in range(k)]
    heatmap = {"type": "heatmap", "z": delta.astype(np.float64), "x": list(range(k)), "y": list(range(k)),
               "text": text, "texttemplate": "%{text}", "textfont": {"size": 11}, "customdata": hover,
               "hovertemplate": "%{customdata}<extra></extra>",
               "colorbar": {"title": {"text": f"change<br>({noun(plural=True)})"}, "thickness": 14},
               **diverging_kwargs(delta)}
    ticks = {"tickmode": "array", "tickvals": list(range(k)), "ticktext": list(names[:k]), "showgrid": False,
             "zeroline": False}
    return go.Figure(data=[heatmap], layout=layout(
        "Confusion matrix change (off − intact)", f"predicted {noun()}", f"true {noun()}", height=420,
        legend=False, xaxis={**ticks, "range": [-0.5, k - 0.5], "constrain": "domain"},
        yaxis={**ticks, "range": [k - 0.5, -0.5], "scaleanchor": "x"}))


def flipped_captions(indices: np.ndarray, labels: np.ndarray, before: np.ndarray, after: np.ndarray) -> list[str]:
    """Under each digit whose answer changed: "#12 · true 7" then "7 → 1"."""
    return [f"#{i} · true {labels[i]}<br>{before[i]} → {after[i]}" for i in indices]
