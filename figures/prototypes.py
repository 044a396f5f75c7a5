"""Figures for the prototypes: the ten perfect digits over the ten average ones, and their scores while they formed."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from figures.palette import DIGIT_COLORS, pixel_kwargs
from figures.style import layout
from figures.tiles import image_axes, tile_images
from lab.labels import label, noun


def prototypes_figure(images: np.ndarray, means: np.ndarray, *, px_per_pixel: float = 3.0) -> go.Figure:
    """Top row: ``images`` (10, 784) in [0, 1], the network's perfect digits; bottom: ``means`` (10, 28, 28), 0..255."""
    tiles = np.concatenate([np.asarray(images).reshape(-1, 28, 28) * 255.0, np.asarray(means, dtype=np.float64)])
    mosaic = tile_images(tiles, cols=len(images), gap=3, caption_rows=7)
    n = len(images)
    labels = [f"perfect {d}" for d in range(n)] + [f"average {d}" for d in range(n)]
    text = {"type": "scatter", "mode": "text", "x": mosaic.centers[:, 0], "y": mosaic.centers[:, 1] + 16,
            "text": labels, "textposition": "middle center", "textfont": {"size": 10, "color": "#31333f"},
            "hoverinfo": "skip", "showlegend": False}
    heat = {"type": "heatmap", "z": mosaic.z, "hoverinfo": "skip", **pixel_kwargs()}
    rows, width = mosaic.z.shape
    return go.Figure(data=[heat, text], layout=layout(
        f"Each {noun()} as the network would draw it (top) and the average training {noun()} (bottom)",
        height=70 + int(px_per_pixel * rows), legend=False, margin={"l": 10, "r": 10, "t": 50, "b": 10},
        plot_bgcolor="white", **image_axes(x_range=(-1, width), y_range=(rows, -1))))


def score_rise_figure(values: np.ndarray, *, names: list[str] | None = None, title: str | None = None) -> go.Figure:
    """``values`` (steps + 1, k): each unit's value after every step of the ascent, one line per digit colour."""
    values = np.asarray(values)
    names = names or [f"{noun()} {label(d)}" for d in range(values.shape[1])]
    lines = [{"type": "scatter", "x": np.arange(len(values)), "y": values[:, k], "mode": "lines", "name": names[k],
              "line": {"color": DIGIT_COLORS[k % len(DIGIT_COLORS)], "width": 2},
              "hovertemplate": f"{names[k]}, step %{{x}}: %{{y:.2f}}<extra></extra>"} for k in range(values.shape[1])]
    spec = layout(title or f"Each {noun()}'s score while its picture forms", "step of the ascent", "score (logit)",
                  height=340, margin={"l": 60, "r": 90, "t": 50, "b": 50})
    spec["legend"] = {"orientation": "v", "x": 1.02, "xanchor": "left", "y": 1.0, "yanchor": "top"}  # beside, not over the title
    return go.Figure(data=lines, layout=spec)


def unit_prototype_figure(image: np.ndarray, unit: int, *, height: int = 300) -> go.Figure:
    """The input that most excites first-layer ``unit`` (``image`` (784,) in [0, 1]), as a digit picture."""
    heat = {"type": "heatmap", "z": np.asarray(image).reshape(28, 28) * 255.0,
            "hovertemplate": "row %{y}, column %{x}: %{z:.0f} of 255<extra></extra>", **pixel_kwargs()}
    return go.Figure(data=[heat], layout=layout(
        f"What excites unit {unit} most", height=height, legend=False, margin={"l": 10, "r": 10, "t": 50, "b": 10},
        **image_axes((-0.5, 27.5), (27.5, -0.5))))
