"""Shared layout: every chart gets a title that says what it shows and labelled axes.

Live charts are rebuilt several times a second, so layouts are plain dicts handed to ``go.Figure`` in
one call: each later ``update_*`` call (and ``make_subplots``) re-validates the figure. No plotly
template is set either (assigning one is slow too: docs/PERFORMANCE.md); Streamlit's chart theme
already gives every figure the app's look.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

FONT_FAMILY = "Source Sans Pro, Helvetica, Arial, sans-serif"


def layout(title: str, x_title: str | None = None, y_title: str | None = None, *, height: int | None = None,
           legend: bool = True, **extra: Any) -> dict[str, Any]:
    """The house layout as a dict (title top left, labelled axes, compact margins, legend on top)."""
    out: dict[str, Any] = {
        "title": {"text": title, "x": 0.0, "xanchor": "left"},
        "font": {"family": FONT_FAMILY, "size": 13},
        "margin": {"l": 60, "r": 20, "t": 60, "b": 50},
        "showlegend": legend,
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0},
        "xaxis": {"title": {"text": x_title}} if x_title else {},
        "yaxis": {"title": {"text": y_title}} if y_title else {},
    }
    if height is not None:
        out["height"] = height
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def finish(fig: go.Figure, title: str, x_title: str | None = None, y_title: str | None = None,
           *, height: int | None = None, legend: bool = True, **extra: Any) -> go.Figure:
    """Apply :func:`layout` to an existing figure (for figures that are not redrawn live)."""
    spec = layout(title, x_title, y_title, height=height, legend=legend, **extra)
    xaxis, yaxis = spec.pop("xaxis"), spec.pop("yaxis")
    fig.update_layout(spec)
    if xaxis:
        fig.update_xaxes(xaxis)
    if yaxis:
        fig.update_yaxes(yaxis)
    return fig
