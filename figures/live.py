"""The Train page's live views of the network itself: first-layer filters and a strip of test digits with answers.

Redrawn about once a second while a run trains (in place, by the live-chart component), so both are
one heatmap plus one scatter, built from dicts in one ``go.Figure`` call, and their pixels travel as
one byte each (the filters rounded to 255 levels of their shared scale, the digits as the uint8 they
are), a fifth of the float32 JSON: what the browser parses every second while the training runs.
Their layouts never change from one update to the next (what changes, the step and the scale, is
said in the captions), so the browser's Plotly.react redraws the data only, not titles and colour bars.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from figures.palette import DIVERGING_SCALE, PIXEL_RANGE, PIXEL_SCALE, VERDICT_COLORS, diverging_range
from figures.style import layout
from figures.tiles import FRAME_VALUE, image_axes, tile_images
from lab.format import fmt_pct
from lab.labels import noun

IMAGE_SIDE = 28


def filter_scale(filters: np.ndarray) -> float:
    """The shared colour scale's bound for ``filters: (784, k)``: |w| at its 99.9th percentile (1 if all are 0)."""
    _, bound = diverging_range(np.asarray(filters, dtype=np.float32), quantile=0.999)
    return float(bound) or 1.0


def live_filters_figure(filters: np.ndarray, *, cols: int = 12) -> go.Figure:
    """``filters: (784, k)`` (units 0..k-1 of W_1) as a grid on one diverging scale, ±``filter_scale``."""
    filters = np.asarray(filters, dtype=np.float32)
    if filters.ndim != 2 or filters.shape[0] != IMAGE_SIDE * IMAGE_SIDE:
        raise ValueError(f"filters must be (784, k), got shape {filters.shape}")
    images = filters.T.reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    mosaic = tile_images(images, cols, gap=3)
    bound = filter_scale(filters)
    levels = np.round(np.clip(np.nan_to_num(mosaic.z) / bound, -1, 1) * 127).astype(np.int8)  # gaps: 0, white
    rows, width = mosaic.z.shape
    heatmap = {"type": "heatmap", "z": levels, "colorscale": DIVERGING_SCALE, "zmin": -127, "zmax": 127,
               "zmid": 0, "hoverinfo": "skip",
               "colorbar": {"title": {"text": "weight"}, "thickness": 12, "tickvals": [-127, 0, 127],
                            "ticktext": ["−max", "0", "+max"]}}
    return go.Figure(data=[heatmap], layout=layout(
        f"First-layer filters of units 0-{images.shape[0] - 1}", height=40 + int(2.3 * rows),
        legend=False, margin={"l": 10, "r": 10, "t": 40, "b": 5}, dragmode=False, plot_bgcolor="white",
        **image_axes(x_range=(-1.5, width + 0.5), y_range=(rows + 0.5, -1.5))))


def digit_strip_figure(images: np.ndarray, labels: np.ndarray, proba: np.ndarray | None) -> go.Figure:
    """Fixed test digits in a row, each with the network's answer and confidence, green when right, red when wrong.

    Without ``proba`` (no network yet) the digits stand alone, in the same layout the answers will use.
    """
    images, labels = np.asarray(images), np.asarray(labels)
    proba = np.full((len(labels), 10), np.nan, np.float32) if proba is None else np.asarray(proba)
    if not (images.shape[0] == labels.shape[0] == proba.shape[0]):
        raise ValueError(f"need one label and one row of probabilities per image, got {images.shape[0]}, "
                         f"{labels.shape[0]} and {proba.shape[0]}")
    known = np.isfinite(proba).all(axis=1)
    answers = np.where(known, np.nan_to_num(proba).argmax(axis=1), -1)
    right = answers == labels
    mosaic = tile_images(images.astype(np.float32), images.shape[0], gap=6, caption_rows=9, frame=FRAME_VALUE)
    h, _ = mosaic.tile
    pixels = {"type": "heatmap", "z": np.nan_to_num(mosaic.z).astype(np.uint8), "colorscale": PIXEL_SCALE,
              "zmin": PIXEL_RANGE[0], "zmax": PIXEL_RANGE[1], "showscale": False, "hoverinfo": "skip"}
    colors = [VERDICT_COLORS["right" if ok else "wrong"] for ok in right]
    captions = [f"<b>{a}</b> {fmt_pct(p[a])}" if a >= 0 else " " for a, p in zip(answers, proba)]
    hover = [f"labelled {t}: answers {a} ({'right' if ok else 'wrong'})" if a >= 0 else f"labelled {t}"
             for t, a, ok in zip(labels, answers, right)]
    text = {"type": "scatter", "mode": "text", "x": mosaic.centers[:, 0], "y": mosaic.centers[:, 1] + h / 2 + 1,
            "text": captions, "textposition": "bottom center", "textfont": {"size": 12, "color": colors},
            "hovertext": hover, "hoverinfo": "text", "showlegend": False}
    rows, width = mosaic.z.shape
    return go.Figure(data=[pixels, text], layout=layout(
        f"The network's answers for {len(labels)} test {noun(plural=True)}",
        height=60 + int(2.6 * rows), legend=False, margin={"l": 10, "r": 10, "t": 40, "b": 5}, dragmode=False,
        plot_bgcolor="white", **image_axes(x_range=(-1, width), y_range=(rows, -1))))
