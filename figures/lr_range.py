"""The learning-rate range test's chart: each batch's loss against its learning rate (log x), the suggestion marked."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from figures.palette import LINE_COLORS
from figures.style import layout, log_axis
from nn.lr_range import RangeTest


def range_test_figure(result: RangeTest) -> go.Figure:
    """Raw loss (faint), smoothed loss (dark), and dashed lines at the lowest point and the suggested rate."""
    x = result.lrs.astype(np.float64)
    finite = result.smoothed[np.isfinite(result.smoothed)]
    top = float(finite[0] * 1.4) if finite.size else 1.0
    bottom = float(finite.min() * 0.9) if finite.size else 0.0
    data = [
        {"type": "scatter", "x": x, "y": result.losses.astype(np.float32), "mode": "lines", "name": "each batch",
         "line": {"color": LINE_COLORS["raw"], "width": 1},
         "hovertemplate": "lr %{x:.2e}<br>loss %{y:.4f}<extra>batch</extra>"},
        {"type": "scatter", "x": x, "y": result.smoothed.astype(np.float32), "mode": "lines", "name": "smoothed",
         "line": {"color": LINE_COLORS["smooth"], "width": 2.5},
         "hovertemplate": "lr %{x:.2e}<br>loss %{y:.4f}<extra>smoothed</extra>"},
    ]
    marks = ((result.best_lr, f"lowest loss at {result.best_lr:.2g}", LINE_COLORS["neutral"]),
             (result.suggested_lr, f"suggested {result.suggested_lr:.2g}", LINE_COLORS["marker"]))
    shapes = [{"type": "line", "xref": "x", "yref": "y domain", "x0": lr, "x1": lr, "y0": 0, "y1": 1,
               "line": {"color": color, "dash": "dash", "width": 1.5}} for lr, _, color in marks]
    notes = [{"xref": "x", "yref": "y domain", "x": np.log10(lr), "y": 1 - 0.08 * i, "text": text,
              "showarrow": False, "xanchor": "left", "font": {"color": color, "size": 11}}
             for i, (lr, text, color) in enumerate(marks)]
    return go.Figure(data=data, layout=layout(
        "Learning-rate range test: loss against learning rate", "learning rate (log scale)", "training loss",
        height=330, xaxis=log_axis(x), yaxis={"range": [bottom, top]},
        shapes=shapes, annotations=notes))
