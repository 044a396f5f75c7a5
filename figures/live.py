"""The Train page's live views of the network itself: first-layer filters and a strip of test digits with answers.

Redrawn about once a second while a run trains, so both are rasters (figures/raster.py), not plotly
figures: one byte per pixel (the filters rounded to 255 levels of their shared scale, the digits the
uint8 they are), put on a canvas by the live-chart component. Nothing but the pixels and the answers
changes from one update to the next (the step and the scale are said in the captions).
"""

from __future__ import annotations

import numpy as np

from figures.palette import DIVERGING_SCALE, PIXEL_SCALE, VERDICT_COLORS, diverging_range
from figures.raster import TRANSPARENT, Label, Legend, Raster, colorscale_palette, hex_colors
from figures.tiles import FRAME_VALUE, tile_images
from lab.format import fmt_pct
from lab.labels import noun

IMAGE_SIDE = 28
LEVELS = 127  # a filter's weights as -127..127 on its shared scale: palette entries 0..254
FILTER_PALETTE = colorscale_palette(DIVERGING_SCALE, 2 * LEVELS + 1)  # entry 255 stays see-through
PIXEL_PALETTE = colorscale_palette(PIXEL_SCALE)  # 0 white paper .. 255 black ink, as the pixels are


def filter_scale(filters: np.ndarray) -> float:
    """The shared colour scale's bound for ``filters: (784, k)``: |w| at its 99.9th percentile (1 if all are 0)."""
    _, bound = diverging_range(np.asarray(filters, dtype=np.float32), quantile=0.999)
    return float(bound) or 1.0


def live_filters_figure(filters: np.ndarray, *, cols: int = 12) -> Raster:
    """``filters: (784, k)`` (units 0..k-1 of W_1) as a grid on one diverging scale, ±``filter_scale``."""
    filters = np.asarray(filters, dtype=np.float32)
    if filters.ndim != 2 or filters.shape[0] != IMAGE_SIDE * IMAGE_SIDE:
        raise ValueError(f"filters must be (784, k), got shape {filters.shape}")
    images = filters.T.reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    mosaic = tile_images(images, cols, gap=3)
    levels = np.round(np.clip(np.nan_to_num(mosaic.z) / filter_scale(filters), -1, 1) * LEVELS) + LEVELS
    pixels = np.where(np.isnan(mosaic.z), TRANSPARENT, levels).astype(np.uint8)
    legend = Legend("weight", hex_colors(FILTER_PALETTE, 9, 2 * LEVELS + 1), ("−max", "0", "+max"))
    return Raster(f"First-layer filters of units 0-{images.shape[0] - 1}", pixels, FILTER_PALETTE, zoom=2.4,
                  legend=legend)


def digit_strip_figure(images: np.ndarray, labels: np.ndarray, proba: np.ndarray | None) -> Raster:
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
    h, w = mosaic.tile
    marks = []
    for (x, y), t, a, ok, p in zip(mosaic.centers, labels, answers, right, proba):
        box = (int(round(x - (w - 1) / 2)), int(round(y - (h - 1) / 2)), w, h)
        if a < 0:
            marks.append(Label(float(x) + 0.5, float(y) + h / 2 + 1.5, "", hover=f"labelled {t}", box=box))
        else:
            marks.append(Label(float(x) + 0.5, float(y) + h / 2 + 1.5, fmt_pct(p[a]), strong=str(a),
                               color=VERDICT_COLORS["right" if ok else "wrong"],
                               hover=f"labelled {t}: answers {a} ({'right' if ok else 'wrong'})", box=box))
    return Raster(f"The network's answers for {len(labels)} test {noun(plural=True)}",
                  np.nan_to_num(mosaic.z).astype(np.uint8), PIXEL_PALETTE, zoom=2.6, labels=tuple(marks))
