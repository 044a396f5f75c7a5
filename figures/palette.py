"""The one visual language of the product, defined once and imported by every figure.

- Each digit 0-9 has one colour everywhere (``DIGIT_COLORS[d]``).
- Anything signed (weights, gradients, differences) uses one diverging scale centred on zero.
- Pixels are greys, ink dark on light, always on the fixed 0..255 range (never stretched).
"""

from __future__ import annotations

import numpy as np

from lab.histograms import symmetric_range as diverging_range  # zero is always the white middle of the scale

# Tableau 10: distinguishable, colour-blind friendlier than plotly's default, and easy on white.
DIGIT_COLORS: tuple[str, ...] = (
    "#4e79a7",  # 0 blue
    "#f28e2b",  # 1 orange
    "#e15759",  # 2 red
    "#76b7b2",  # 3 teal
    "#59a14f",  # 4 green
    "#edc948",  # 5 yellow
    "#b07aa1",  # 6 purple
    "#ff9da7",  # 7 pink
    "#9c755f",  # 8 brown
    "#7f7f7f",  # 9 grey
)

# Signed values: red below zero, white at zero, blue above (plotly's "RdBu" runs red -> blue).
DIVERGING_SCALE = "RdBu"

# Pixels: plotly's "Greys" maps 0 to white and the maximum to black, i.e. dark ink on light paper.
PIXEL_SCALE = "Greys"
PIXEL_RANGE: tuple[float, float] = (0.0, 255.0)

# Lines that are not digits: one accent per role, the same on every chart.
LINE_COLORS = {
    "train": "#4e79a7",
    "val": "#e15759",
    "raw": "rgba(78, 121, 167, 0.30)",
    "smooth": "#2c5f96",  # dark enough on white, still visible on the dark theme
    "lr": "#59a14f",
    "marker": "#f28e2b",
    "neutral": "#7f7f7f",
}


# An answer judged against its label (the live digit strip): green right, red wrong.
VERDICT_COLORS = {"right": "#2e7d32", "wrong": "#c62828"}

# Runs overlaid on one chart (Runs page): six colours apart from the digits' (ColorBrewer Dark2).
RUN_COLORS: tuple[str, ...] = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#a6761d")


def diverging_kwargs(values: np.ndarray, *, quantile: float | None = None) -> dict:
    """Keyword arguments for ``go.Heatmap``/``px.imshow`` showing signed ``values`` centred on zero."""
    zmin, zmax = diverging_range(values, quantile=quantile)
    return {"colorscale": DIVERGING_SCALE, "zmin": zmin, "zmax": zmax, "zmid": 0.0}


def pixel_kwargs() -> dict:
    """Keyword arguments for ``go.Heatmap`` showing raw 0..255 pixels (fixed range, never stretched)."""
    return {"colorscale": PIXEL_SCALE, "zmin": PIXEL_RANGE[0], "zmax": PIXEL_RANGE[1], "showscale": False}
