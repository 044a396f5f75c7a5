"""Shared layout: every chart gets a title that says what it shows and labelled axes.

Live charts are rebuilt several times a second, so layouts are plain dicts handed to ``go.Figure`` in
one call: each later ``update_*`` call (and ``make_subplots``) re-validates the figure. No plotly
template is set either (assigning one is slow too: docs/PERFORMANCE.md); Streamlit's chart theme
already gives every figure the app's look.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import numpy as np
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


def tick_text(value: float) -> str:
    """A number as a learner reads it: "0.001", "0.5", "20", "400,000"; beyond that "1e-5", "1.01e6"."""
    if value == 0 or 1e-4 <= abs(value) < 1e6:
        text = f"{value:,.6f}".rstrip("0").rstrip(".")
        return text if text not in ("", "-0") else "0"
    mantissa, exponent = f"{value:.2e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"  # "1e-5", "1.01e6": no leading zero, a plain hyphen


def log_axis(values: np.ndarray, *, max_ticks: int = 8) -> dict[str, Any]:
    """A log axis with every tick written out in full (plotly's own labels read "5, 2, 0.1, 5, 2").

    Ticks are the 1-2-5 values, or 1-5, or the powers of ten only: the finest of these that puts at
    most ``max_ticks`` within the data's range; within less than a factor of 2 or so, a few round
    values in between. Values that are not positive and finite are ignored.
    """
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values) & (values > 0)]
    axis: dict[str, Any] = {"type": "log"}
    if finite.size == 0:
        return axis
    low, high = float(finite.min()), float(finite.max())
    decades = range(int(np.floor(np.log10(low))) - 1, int(np.ceil(np.log10(high))) + 2)
    for mantissas in ((1, 2, 5), (1, 5), (1,)):
        ticks = [m * 10.0**e for e in decades for m in mantissas]
        if sum(low <= t <= high for t in ticks) <= max_ticks:
            break
    if sum(low <= t <= high for t in ticks) < 2:
        ticks = _round_steps(low, high)
    # Ticks a little beyond the data are kept: plotly draws only those inside the axis's range.
    ticks = [t for t in ticks if low / 10 <= t <= high * 10]
    return {**axis, "tickvals": ticks, "ticktext": [tick_text(t) for t in ticks]}


def _round_steps(low: float, high: float) -> list[float]:
    """Round values from just below ``low`` to just above ``high``, 3 to 6 of them (1-2-5 steps)."""
    span = max(high - low, high * 1e-6)
    for step in sorted(m * 10.0**e for e in range(int(np.floor(np.log10(span))) - 2, int(np.floor(np.log10(span))) + 1)
                       for m in (1, 2, 5)):
        first = np.floor(low / step) * step
        count = int(np.ceil((high - first) / step)) + 1
        if count <= 6:
            return [float(round(first + k * step, 12)) for k in range(count) if first + k * step > 0]
    return [low, high]


def inner_ticks(low: float, high: float, *, most: int = 3, margin: float = 0.18) -> list[float]:
    """At most ``most`` round ticks kept ``margin`` of the span away from both ends of [low, high].

    For small panels side by side: a label centred on a tick at the very edge of one panel runs into
    the first label of its neighbour.
    """
    span = high - low
    if not (np.isfinite(span) and span > 0):
        return [low] if np.isfinite(low) else []
    lo, hi = low + margin * span, high - margin * span
    top = int(np.floor(np.log10(hi - lo))) if hi > lo else int(np.floor(np.log10(span)))
    for mantissas in ((1, 2, 5), (1, 2, 2.5, 4, 5)):  # 1-2-5 steps; where they skip from 4 ticks to 1, more
        for step in sorted(m * 10.0**e for e in range(top - 2, top + 2) for m in mantissas):
            ticks = [float(round(k * step, 12)) for k in range(int(np.ceil(lo / step)), int(np.floor(hi / step)) + 1)]
            if 2 <= len(ticks) <= most:
                return ticks
    return [float(f"{(low + high) / 2:.2g}")]


def spaced_ticktext(ticks: list[float], low: float, high: float, room_chars: float) -> list[str]:
    """The labels of ``ticks`` on an axis from ``low`` to ``high`` that is ``room_chars`` characters long,
    every other one left blank when neighbours would run into each other ("-0.0020 0.002" in a narrow panel).
    """
    texts = [tick_text(t) for t in ticks]
    span = high - low

    def apart(a: tuple[float, str], b: tuple[float, str]) -> bool:  # a space's width between the two labels
        return (b[0] - a[0]) / span * room_chars >= (len(a[1]) + len(b[1])) / 2 + 1

    pairs = list(zip(ticks, texts))
    if span > 0 and not all(apart(a, b) for a, b in pairwise(pairs)):
        return [text if i % 2 == 0 else "" for i, text in enumerate(texts)]
    return texts


def clear_of_toolbar(spec: dict[str, Any], top: int = 80) -> dict[str, Any]:
    """``spec`` (a :func:`layout`) with its title just above the plot, below the row where plotly's toolbar
    appears on hover: in a narrow column the toolbar at the top right covers a title placed there."""
    return {**spec, "title": {**spec["title"], "yref": "paper", "y": 1.0, "yanchor": "bottom", "pad": {"b": 10}},
            "margin": {**spec["margin"], "t": top}}
