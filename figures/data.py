"""Figures of the dataset: sample digits, class counts, average digits, pixel histogram, augmentation.

Images are drawn as one heatmap of tiled 28x28 tiles (fast to send, one colour scale): greys on the fixed
0..255 range, dark ink on light paper, square pixels, row 0 at the top.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from figures.palette import DIGIT_COLORS, LINE_COLORS, pixel_kwargs
from figures.style import finish
from lab.labels import label, labels, noun

SIDE = 28


def tile(images: np.ndarray, gap: int = 2) -> np.ndarray:
    """Lay out images (rows, cols, h, w) as one (rows*(h+gap)-gap, cols*(w+gap)-gap) float array.

    Gaps are NaN, which plotly leaves transparent, so tiles never blur into each other.
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4:
        raise ValueError(f"tile expects (rows, cols, h, w), got shape {images.shape!r}")
    rows, cols, h, w = images.shape
    out = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap), np.nan, dtype=np.float32)
    for r in range(rows):
        for c in range(cols):
            out[r * (h + gap): r * (h + gap) + h, c * (w + gap): c * (w + gap) + w] = images[r, c]
    return out


def _image_layout(fig: go.Figure, title: str, n_rows: int, n_cols: int, *, row_labels: Sequence[str] | None = None,
                  col_labels: Sequence[str] | None = None, gap: int = 2, px_per_pixel: float = 2.0,
                  x_title: str | None = None, y_title: str | None = None, label_colors: Sequence[str] | None = None,
                  ) -> go.Figure:
    step = SIDE + gap
    if row_labels is not None:
        fig.update_yaxes(tickmode="array", tickvals=[r * step + SIDE / 2 - 0.5 for r in range(n_rows)],
                         ticktext=list(row_labels), showticklabels=True, ticks="")
    else:
        fig.update_yaxes(showticklabels=False)
    if col_labels is not None:
        fig.update_xaxes(tickmode="array", tickvals=[c * step + SIDE / 2 - 0.5 for c in range(n_cols)],
                         ticktext=list(col_labels), showticklabels=True, ticks="", side="top")
    else:
        fig.update_xaxes(showticklabels=False)
    if label_colors is not None and row_labels is not None:
        # Coloured dots beside the row labels: the digit's colour, as everywhere else in the app.
        fig.add_trace(go.Scatter(x=[-gap - 3] * n_rows, y=[r * step + SIDE / 2 - 0.5 for r in range(n_rows)],
                                 mode="markers", marker={"color": list(label_colors), "size": 9},
                                 hoverinfo="skip", showlegend=False))
    fig.update_xaxes(showgrid=False, zeroline=False, constrain="domain")
    fig.update_yaxes(showgrid=False, zeroline=False, autorange="reversed", scaleanchor="x", scaleratio=1,
                     constrain="domain")
    height = int(n_rows * step * px_per_pixel) + 90
    finish(fig, title, x_title, y_title, height=height, legend=False)
    fig.update_layout(plot_bgcolor="white", margin={"l": 60, "r": 10, "t": 70 if col_labels else 50, "b": 30})
    return fig


def sample_grid_figure(images: np.ndarray) -> go.Figure:
    """A grid of sample digits, one row per class 0-9. images: (10, n, 28, 28) uint8 pixels 0..255."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[0] != 10 or images.shape[2:] != (SIDE, SIDE):
        raise ValueError(f"sample_grid_figure expects (10, n, 28, 28), got {images.shape!r}")
    z = tile(images)
    fig = go.Figure(go.Heatmap(z=z, hovertemplate="pixel %{z:.0f}<extra></extra>", **pixel_kwargs()))
    return _image_layout(fig, f"{images.shape[1]} random training images of each {noun()}", 10, images.shape[1],
                         row_labels=list(labels()), y_title=f"{noun()} (label)",
                         label_colors=DIGIT_COLORS, px_per_pixel=1.6)


def class_counts_figure(y_train: np.ndarray, y_test: np.ndarray) -> go.Figure:
    """How many images of each digit the training and test sets hold (bars in each digit's colour)."""
    train = np.bincount(np.asarray(y_train, dtype=np.int64), minlength=10)[:10]
    test = np.bincount(np.asarray(y_test, dtype=np.int64), minlength=10)[:10]
    digits = list(labels())
    fig = go.Figure()
    fig.add_trace(go.Bar(x=digits, y=train, name="training set", marker={"color": list(DIGIT_COLORS)},
                         hovertemplate=f"{noun()} %{{x}}: %{{y:,}} training images<extra></extra>"))
    fig.add_trace(go.Bar(x=digits, y=test, name="test set",
                         marker={"color": list(DIGIT_COLORS), "pattern": {"shape": "/", "fgcolor": "white"},
                                 "opacity": 0.75},
                         hovertemplate=f"{noun()} %{{x}}: %{{y:,}} test images<extra></extra>"))
    fig.update_layout(barmode="group", bargap=0.25)
    fig.update_xaxes(type="category")
    return finish(fig, f"Images per {noun()} (solid: training, striped: test)", noun(), "number of images",
                  height=330, legend=False)


def average_digits_figure(means: np.ndarray) -> go.Figure:
    """The pixel-wise average of every digit. means: (10, 28, 28) in 0..255 (same grey scale as images)."""
    means = np.asarray(means, dtype=np.float32)
    if means.shape != (10, SIDE, SIDE):
        raise ValueError(f"average_digits_figure expects (10, 28, 28), got {means.shape!r}")
    z = tile(means[None, :, :, :], gap=3)
    fig = go.Figure(go.Heatmap(z=z, hovertemplate="mean pixel %{z:.0f}<extra></extra>", **pixel_kwargs()))
    return _image_layout(fig, f"The average image of each {noun()}", 1, 10, gap=3,
                         col_labels=list(labels()), px_per_pixel=2.6)


def pixel_histogram_figure(counts: np.ndarray) -> go.Figure:
    """Distribution of pixel intensities (log-scale counts: blank paper dominates)."""
    counts = np.asarray(counts, dtype=np.float64)
    if counts.shape != (256,):
        raise ValueError(f"pixel_histogram_figure expects 256 counts, got shape {counts.shape!r}")
    share = counts / max(counts.sum(), 1.0)
    fig = go.Figure(go.Bar(x=np.arange(256), y=counts, marker={"color": LINE_COLORS["neutral"], "line": {"width": 0}},
                           customdata=100 * share,
                           hovertemplate="intensity %{x}: %{y:,.0f} pixels (%{customdata:.2f}%)<extra></extra>"))
    fig.update_layout(bargap=0)
    fig.update_yaxes(type="log", dtick=1, exponentformat="power")  # powers of ten only: readable
    fig.update_xaxes(range=[-2, 257])
    return finish(fig, "How bright the pixels are", "pixel intensity (0 = paper, 255 = full ink)",
                  "number of pixels (log scale)", height=330, legend=False)


def augmentation_figure(originals: np.ndarray, variants: np.ndarray, labels: Sequence[int] | None = None
                        ) -> go.Figure:
    """Each row: an original digit, then randomly augmented copies of it.

    originals: (k, 28, 28) uint8 0..255; variants: (k, v, 28, 28) float in [0, 1] (as ``nn.augment.preview``).
    """
    originals = np.asarray(originals, dtype=np.float32)
    variants = np.asarray(variants, dtype=np.float32)
    if originals.ndim != 3 or variants.ndim != 4 or variants.shape[0] != originals.shape[0]:
        raise ValueError(f"augmentation_figure expects (k, 28, 28) and (k, v, 28, 28), got "
                         f"{originals.shape!r} and {variants.shape!r}")
    k, v = variants.shape[:2]
    grid = np.concatenate([originals[:, None], 255.0 * variants], axis=1)  # same 0..255 scale
    z = tile(grid)
    fig = go.Figure(go.Heatmap(z=z, hovertemplate="pixel %{z:.0f}<extra></extra>", **pixel_kwargs()))
    row_labels = [label(int(d)) for d in labels] if labels is not None else None
    colors = [DIGIT_COLORS[int(d)] for d in labels] if labels is not None else None
    # A thin frame marks the untouched original in the first column.
    for r in range(k):
        y0 = r * (SIDE + 2) - 1
        fig.add_shape(type="rect", x0=-1, x1=SIDE, y0=y0, y1=y0 + SIDE + 1,
                      line={"color": LINE_COLORS["marker"], "width": 1.5})
    return _image_layout(fig, "Augmentation: the original (framed), then random variants", k, v + 1,
                         row_labels=row_labels, label_colors=colors,
                         col_labels=["original"] + [f"#{i + 1}" for i in range(v)], px_per_pixel=1.8)
