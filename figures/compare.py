"""Figures of a paired A/B comparison: B − A confusion matrix, per-digit accuracy change, one unit in both runs."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from figures.palette import DIGIT_COLORS, DIVERGING_SCALE, diverging_range
from figures.style import layout
from lab.labels import labels, noun

IMAGE_SIDE = 28


def confusion_diff_figure(diff: np.ndarray, name_a: str = "A", name_b: str = "B") -> go.Figure:
    """``diff = confusion_B - confusion_A`` (rows: true digit, columns: predicted), diverging around 0.

    On the diagonal blue means B gets more of that digit right; off the diagonal blue means B makes
    more of that mistake.
    """
    diff = np.asarray(diff)
    if diff.ndim != 2 or diff.shape[0] != diff.shape[1]:
        raise ValueError(f"a confusion difference must be square, got shape {diff.shape}")
    k = diff.shape[0]
    names = labels()
    bound = float(max(np.abs(diff).max(), 1))
    text = np.array([[f"{v:+d}" if v else "0" for v in row] for row in diff.astype(np.int64)])
    heatmap = {"type": "heatmap", "z": diff.astype(np.float64), "x": list(range(k)), "y": list(range(k)),
               "colorscale": DIVERGING_SCALE, "zmin": -bound, "zmax": bound, "zmid": 0.0, "text": text,
               "texttemplate": "%{text}", "textfont": {"size": 11},
               "colorbar": {"title": {"text": f"{name_b} − {name_a}"}, "thickness": 14},
               "customdata": [[(names[t], names[p]) for p in range(k)] for t in range(k)],
               "hovertemplate": f"true %{{customdata[0]}}, predicted %{{customdata[1]}}: %{{text}} "
                                f"{noun(plural=True)}<extra></extra>"}
    ticks = {"tickmode": "array", "tickvals": list(range(k)), "ticktext": list(names[:k]), "showgrid": False,
             "zeroline": False}
    return go.Figure(data=[heatmap], layout=layout(
        f"Confusion matrix of {name_b} minus {name_a}", f"predicted {noun()}", f"true {noun()}", height=440,
        legend=False, xaxis={**ticks, "range": [-0.5, k - 0.5]}, yaxis={**ticks, "range": [k - 0.5, -0.5]}))


def recall_change_figure(change: np.ndarray, name_a: str = "A", name_b: str = "B") -> go.Figure:
    """Per true digit, B's accuracy minus A's, in percentage points; one bar per digit in its colour."""
    change = 100.0 * np.asarray(change, dtype=np.float64)
    digits = list(range(change.size))
    bars = {"type": "bar", "x": digits, "y": change, "marker": {"color": list(DIGIT_COLORS[: change.size])},
            "text": [f"{v:+.1f}" for v in change], "textposition": "outside",
            "hovertemplate": f"{noun()} %{{x}}: %{{y:+.2f}} points<extra></extra>"}
    span = float(max(np.abs(change).max(), 0.5)) * 1.3
    return go.Figure(data=[bars], layout=layout(
        f"Accuracy per true {noun()}: {name_b} minus {name_a}", f"true {noun()}", "change (percentage points)",
        height=330, legend=False, xaxis={"tickmode": "array", "tickvals": digits, "ticktext": list(labels()[:len(digits)])},
        yaxis={"range": [-span, span], "zeroline": True}))


def unit_pair_figure(w_a: np.ndarray, w_b: np.ndarray, unit: int, name_a: str = "A",
                     name_b: str = "B") -> go.Figure:
    """First-layer unit ``unit`` in both runs, side by side on one diverging scale (blue raises its input)."""
    images = [np.asarray(w, dtype=np.float64).reshape(IMAGE_SIDE, IMAGE_SIDE) for w in (w_a, w_b)]
    zmin, zmax = diverging_range(np.concatenate([i.ravel() for i in images]))
    data = []
    for i, (image, name) in enumerate(zip(images, (name_a, name_b))):
        suffix = "" if i == 0 else "2"
        data.append({"type": "heatmap", "z": image, "colorscale": DIVERGING_SCALE, "zmin": zmin, "zmax": zmax,
                     "zmid": 0.0, "xaxis": f"x{suffix}", "yaxis": f"y{suffix}", "showscale": i == 1,
                     "colorbar": {"title": {"text": "weight"}, "thickness": 14},
                     "hovertemplate": f"{name}: row %{{y}}, column %{{x}}: w = %{{z:.3f}}<extra></extra>"})
    axis = {"showticklabels": False, "showgrid": False, "zeroline": False, "ticks": "", "constrain": "domain"}
    titles = [{"text": name, "x": x, "y": 1.0, "xref": "paper", "yref": "paper", "showarrow": False,
               "xanchor": "center", "yanchor": "bottom"} for name, x in ((name_a, 0.22), (name_b, 0.72))]
    return go.Figure(data=data, layout=layout(
        f"Unit {unit} of the first layer in both runs (one colour scale)", height=330, legend=False,
        annotations=titles, margin={"l": 10, "r": 10, "t": 70, "b": 10},
        xaxis={**axis, "domain": [0.0, 0.44], "scaleanchor": "y"}, yaxis={**axis, "autorange": "reversed"},
        xaxis2={**axis, "domain": [0.5, 0.94], "scaleanchor": "y2", "anchor": "y2"},
        yaxis2={**axis, "autorange": "reversed", "anchor": "x2"}))
