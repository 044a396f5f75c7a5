"""Many small images as one heatmap: a mosaic is one trace, so 64 filters cost what one image costs.

Each tile gets an invisible scatter point at its centre carrying ``customdata``, because Streamlit's
selection events ignore heatmap cells but report scatter points (see the shared Streamlit notes).
Traces and layouts are plain dicts, handed to ``go.Figure`` once: every later ``update_*``/``add_*``
call re-validates the whole figure (costs in docs/PERFORMANCE.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

FRAME_VALUE = 40.0  # tile frames in the pixel mosaic: a light grey on the 0..255 "Greys" scale


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


def tile_images(images: np.ndarray, cols: int, *, gap: int = 2, caption_rows: int = 0,
                frame: float | None = None) -> Mosaic:
    """Lay ``images: (n, h, w)`` out row by row, ``cols`` per row, ``gap`` empty pixels apart.

    ``caption_rows`` leaves that many empty pixel rows under each tile for a text caption;
    ``frame`` draws a one-pixel ring of that value around each tile (needs ``gap >= 2``).
    """
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"images must be (n, h, w), got shape {images.shape}")
    if cols < 1:
        raise ValueError(f"cols must be at least 1, got {cols!r}")
    if frame is not None and gap < 2:
        raise ValueError(f"a frame needs gap >= 2, got gap={gap!r}")
    n, h, w = images.shape
    cols = min(cols, max(n, 1))
    rows = max(1, -(-n // cols))
    dy, dx = h + gap + caption_rows, w + gap
    # Tiles start one pixel in, so a frame has room on every side.
    off = 1 if frame is not None else 0
    z = np.full((rows * dy - gap + 2 * off, cols * dx - gap + 2 * off), np.nan, dtype=np.float32)
    centers = np.zeros((n, 2))
    for i in range(n):
        r, c = divmod(i, cols)
        y0, x0 = r * dy + off, c * dx + off
        if frame is not None:
            z[y0 - 1:y0 + h + 1, x0 - 1:x0 + w + 1] = frame
        z[y0:y0 + h, x0:x0 + w] = images[i]
        centers[i] = (x0 + (w - 1) / 2, y0 + (h - 1) / 2)
    return Mosaic(z=z, centers=centers, tile=(h, w), pitch=(dy, dx))


def click_targets(centers: np.ndarray, customdata: np.ndarray, hovertext: list[str], *,
                  size: int = 36) -> dict[str, Any]:
    """Invisible, clickable squares at ``centers: (n, 2)``; a selection reports their ``customdata``."""
    return {
        "type": "scatter", "x": centers[:, 0], "y": centers[:, 1], "mode": "markers",
        "marker": {"symbol": "square", "size": size, "opacity": 0, "color": "black"},
        "customdata": np.asarray(customdata), "hovertext": list(hovertext),
        "hovertemplate": "%{hovertext}<extra></extra>", "showlegend": False, "name": "",
    }


def image_axes(x_range: tuple[float, float] | None = None, y_range: tuple[float, float] | None = None
               ) -> dict[str, dict[str, Any]]:
    """Layout entries for image axes: square pixels, row 0 at the top, no ticks.

    ``y_range`` is given top first, e.g. ``(27.5, -0.5)`` for a 28-row image, already reversed.
    """
    x = {"showticklabels": False, "showgrid": False, "zeroline": False, "constrain": "domain",
         "scaleanchor": "y", "ticks": ""}
    y = {"showticklabels": False, "showgrid": False, "zeroline": False, "constrain": "domain", "ticks": ""}
    if x_range is not None:
        x["range"] = list(x_range)
    if y_range is not None:
        y["range"] = list(y_range)
    else:
        y["autorange"] = "reversed"
    return {"xaxis": x, "yaxis": y}
