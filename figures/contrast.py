"""Figures for "why this answer and not that one": the integrated-gradients map, and the smallest flip.

Signed maps use the one diverging scale centred on zero; pixels are greys on the fixed 0..255 range, ink dark.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from figures.palette import diverging_kwargs, pixel_kwargs
from figures.style import layout
from lab.contrast import Contrast
from lab.format import fmt_pct
from lab.labels import label

SIDE = 28
_MARGIN = {"l": 10, "r": 10, "t": 60, "b": 10}


def _outline(image: np.ndarray, axes: tuple[str, str] = ("x", "y")) -> dict:
    """The digit's ink (``image`` 0..255) as a black contour, so the map shows which strokes matter."""
    return {"type": "contour", "z": np.asarray(image, dtype=np.float64), "showscale": False, "hoverinfo": "skip",
            "contours": {"start": 96, "end": 96, "size": 1, "coloring": "none"},
            "line": {"color": "black", "width": 1.2}, "xaxis": axes[0], "yaxis": axes[1]}


def _image_axis(domain: tuple[float, float], anchor: str, *, y: bool = False) -> dict:
    axis = {"showticklabels": False, "showgrid": False, "zeroline": False, "ticks": "", "domain": list(domain),
            "anchor": anchor, "constrain": "domain"}
    if y:
        axis["range"] = [SIDE - 0.5, -0.5]
    else:
        axis["range"] = [-0.5, SIDE - 0.5]
    return axis


def attribution_figure(c: Contrast, image: np.ndarray, *, height: int = 380) -> go.Figure:
    """Each ink pixel's share of the margin z_predicted - z_other: blue for ``predicted``, red for ``other``."""
    a = np.asarray(c.attribution, dtype=np.float64)
    hover = [[f"row {r}, column {col}: {a[r, col]:+.3f} toward {label(c.predicted) if a[r, col] >= 0 else label(c.other)}"
              for col in range(SIDE)] for r in range(SIDE)]
    heat = {"type": "heatmap", "z": a, "text": hover, "hovertemplate": "%{text}<extra></extra>",
            "colorbar": {"title": {"text": f"share of<br>z{c.predicted} − z{c.other}"}, "thickness": 14},
            **diverging_kwargs(a, quantile=0.995)}
    return go.Figure(data=[heat, _outline(image)], layout=layout(
        f"Why {label(c.predicted)} and not {label(c.other)}:<br>each pixel's share of the score gap", height=height, legend=False,
        margin=_MARGIN, xaxis={**_image_axis((0, 1), "y"), "scaleanchor": "y"}, yaxis=_image_axis((0, 1), "x", y=True)))


def change_figure(c: Contrast, image: np.ndarray, *, height: int = 380) -> go.Figure:
    """The smallest change found: blue where ink is added, red where it is removed; the old ink outlined."""
    change = np.asarray(c.change, dtype=np.float64)
    hover = [[f"row {r}, column {col}: {change[r, col]:+.2f} ink" for col in range(SIDE)] for r in range(SIDE)]
    heat = {"type": "heatmap", "z": change, "text": hover, "hovertemplate": "%{text}<extra></extra>",
            "colorbar": {"title": {"text": "ink added<br>(− removed)"}, "thickness": 12}, **diverging_kwargs(change)}
    verdict = (f"The change that makes it a {label(c.other)}" if c.success
               else f"No {label(c.other)} within {c.steps} steps")
    return go.Figure(data=[heat, _outline(image)], layout=layout(
        f"{verdict}:<br>L2 {c.l2:.2f}", height=height, legend=False, margin=_MARGIN,
        xaxis={**_image_axis((0, 1), "y"), "scaleanchor": "y"}, yaxis=_image_axis((0, 1), "x", y=True)))


def new_image_figure(c: Contrast, *, height: int = 380) -> go.Figure:
    """The changed picture (0..255 greys, ink dark), titled with what the network now answers."""
    new = {"type": "heatmap", "z": np.round(np.asarray(c.new_image) * 255.0),
           "hovertemplate": "row %{y}, column %{x}: %{z:.0f} of 255<extra></extra>", **pixel_kwargs()}
    answer = int(np.argmax(c.new_proba))
    return go.Figure(data=[new], layout=layout(
        f"The new picture:<br>the network says {label(answer)} ({fmt_pct(c.new_proba[answer])})", height=height,
        legend=False, margin=_MARGIN, xaxis={**_image_axis((0, 1), "y"), "scaleanchor": "y"},
        yaxis=_image_axis((0, 1), "x", y=True)))
