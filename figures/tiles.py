"""Many small images as one heatmap: a mosaic is one trace, so 64 filters cost what one image costs.

Each tile gets an invisible scatter point at its centre carrying ``customdata``, because Streamlit's
selection events ignore heatmap cells but report scatter points (see the shared Streamlit notes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go


@dataclass(frozen=True)
class Mosaic:
    """``z``: (R, C) the tiled image, ``NaN`` between tiles (drawn transparent).

    ``centers``: (n, 2) each tile's centre as (x, y) in heatmap coordinates (column, row).
    ``tile``: (h, w) one tile's size; ``pitch``: (dy, dx) distance between tile origins.
    """

    z: np.ndarray
    centers: np.ndarray
    tile: tuple[int, int]
    pitch: tuple[int, int]


def tile_images(images: np.ndarray, cols: int, *, gap: int = 2, caption_rows: int = 0) -> Mosaic:
    """Lay ``images: (n, h, w)`` out row by row, ``cols`` per row, ``gap`` empty pixels apart.

    ``caption_rows`` leaves that many empty pixel rows under each tile for a text caption.
    """
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"images must be (n, h, w), got shape {images.shape}")
    if cols < 1:
        raise ValueError(f"cols must be at least 1, got {cols!r}")
    n, h, w = images.shape
    cols = min(cols, max(n, 1))
    rows = max(1, -(-n // cols))
    dy, dx = h + gap + caption_rows, w + gap
    z = np.full((rows * dy - gap, cols * dx - gap), np.nan, dtype=np.float32)
    centers = np.zeros((n, 2))
    for i in range(n):
        r, c = divmod(i, cols)
        z[r * dy:r * dy + h, c * dx:c * dx + w] = images[i]
        centers[i] = (c * dx + (w - 1) / 2, r * dy + (h - 1) / 2)
    return Mosaic(z=z, centers=centers, tile=(h, w), pitch=(dy, dx))


def click_targets(centers: np.ndarray, customdata: np.ndarray, hovertext: list[str], *,
                  size: int = 36) -> go.Scatter:
    """Invisible, clickable squares at ``centers: (n, 2)``; a selection reports their ``customdata``."""
    return go.Scatter(
        x=centers[:, 0], y=centers[:, 1], mode="markers",
        marker={"symbol": "square", "size": size, "opacity": 0, "color": "black"},
        customdata=np.asarray(customdata),
        hovertext=hovertext, hovertemplate="%{hovertext}<extra></extra>",
        showlegend=False, name="",
    )


def image_axes(fig: go.Figure, **selector) -> go.Figure:
    """Make image axes square-pixelled and the right way up (row 0 at the top), without tick labels."""
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False, constrain="domain",
                     scaleanchor=None if selector else "y", **selector)
    fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False, autorange="reversed",
                     constrain="domain", **selector)
    return fig
