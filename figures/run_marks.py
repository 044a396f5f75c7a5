"""Marks on the Train page's charts: the user's learning-rate changes and the batch where the loss exploded.

Positions are in epochs, as on the charts' x axes: global step k (1-based) sits at k / batches_per_epoch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from figures.palette import LINE_COLORS
from figures.style import tick_text
from lab.snapshot import DivergedBatch

DIVERGED_COLOR = "#d62728"
LABEL_ROWS = 3  # label rows under the top of a chart before a label is left out (its line stays)
ROW_STEP = 0.09  # height of a label row, as a share of the plot
CHAR_SHARE = 0.0105  # a label character's width as a share of a ~650 px wide plot, at font size 11


def step_x(step: int, batches_per_epoch: int) -> float:
    """Where global step ``step`` sits on an epoch axis."""
    return float(step) / max(batches_per_epoch, 1)


def lr_change_marks(lr_changes: Sequence[tuple[int, float]], batches_per_epoch: int, x_end: float, *,
                    xref: str = "x", yref: str = "y domain") -> tuple[list[dict], list[dict]]:
    """(shapes, annotations): a dashed line at each change, its label in the first row it does not overlap.

    ``x_end``: the right end of the data on the axis (the axis starts near 0), to size the labels. A
    label runs right of its line, or left of it near the right edge; a label that finds no free row
    among ``LABEL_ROWS`` is left out (its line stays, and the rate chart shows the new value).
    """
    span = max(x_end, max((step_x(s, batches_per_epoch) for s, _ in lr_changes), default=0.0), 1e-9)
    shapes, notes = [], []
    rows: list[list[tuple[float, float]]] = [[] for _ in range(LABEL_ROWS)]  # occupied (left, right) shares
    for step, lr in lr_changes:
        x = step_x(step, batches_per_epoch)
        shapes.append({"type": "line", "xref": xref, "yref": yref, "x0": x, "x1": x, "y0": 0, "y1": 1,
                       "line": {"color": LINE_COLORS["marker"], "dash": "dash", "width": 1.5}})
        text = f"lr → {lr:.3g}"
        width = (len(text) + 1) * CHAR_SHARE
        share = x / span
        right_side = share + width <= 1.0
        extent = (share, share + width) if right_side else (share - width, share)
        for r, taken in enumerate(rows):
            if all(extent[1] <= a or extent[0] >= b for a, b in taken):
                taken.append(extent)
                notes.append({"xref": xref, "yref": yref, "x": x, "y": 1 - r * ROW_STEP, "text": text,
                              "showarrow": False, "xanchor": "left" if right_side else "right", "yanchor": "top",
                              "font": {"color": LINE_COLORS["marker"], "size": 11}})
                break
    return shapes, notes


def diverged_label(diverged: DivergedBatch, batches_per_epoch: int) -> str:
    """"loss exploded to 404,000 at epoch 1, batch 2" (or "became NaN")."""
    bpe = max(batches_per_epoch, 1)
    where = f"epoch {(diverged.step - 1) // bpe + 1}, batch {(diverged.step - 1) % bpe + 1}"
    loss = diverged.loss
    what = f"exploded to {tick_text(float(f'{loss:.3g}'))}" if math.isfinite(loss) else (
        "became NaN" if math.isnan(loss) else "became infinite")
    return f"loss {what} at {where}"


def diverged_line(x: float, text: str, *, xref: str = "x", yref: str = "y domain") -> tuple[dict, dict]:
    """(shape, annotation): a red line across the plot at ``x`` with ``text`` at its top."""
    shape = {"type": "line", "xref": xref, "yref": yref, "x0": x, "x1": x, "y0": 0, "y1": 1,
             "line": {"color": DIVERGED_COLOR, "dash": "dot", "width": 2}}
    note = {"xref": xref, "yref": yref, "x": x, "y": 1, "text": text, "showarrow": False, "xanchor": "right",
            "yanchor": "top", "font": {"color": DIVERGED_COLOR, "size": 12}, "bgcolor": "rgba(255,255,255,0.8)"}
    return shape, note


def diverged_point(x: float, y: float, text: str, hover: str, *, xaxis: str = "x", yaxis: str = "y",
                   log_y: bool = False) -> tuple[dict, dict]:
    """(trace, annotation): a red cross at the exploded value, labelled with an arrow (``log_y``: the y
    axis is logarithmic, where plotly places annotations by the value's log10)."""
    trace = {"type": "scatter", "x": [x], "y": [y], "mode": "markers", "name": "diverged", "showlegend": False,
             "xaxis": xaxis, "yaxis": yaxis,
             "marker": {"color": DIVERGED_COLOR, "size": 13, "symbol": "x", "line": {"width": 1, "color": "white"}},
             "hovertemplate": hover + "<extra></extra>"}
    note = {"xref": xaxis, "yref": yaxis, "x": x, "y": math.log10(y) if log_y else y, "text": text, "showarrow": True, "arrowhead": 2,
            "arrowcolor": DIVERGED_COLOR, "ax": -40, "ay": 25, "xanchor": "right",
            "font": {"color": DIVERGED_COLOR, "size": 12}, "bgcolor": "rgba(255,255,255,0.8)"}
    return trace, note
