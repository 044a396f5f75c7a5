"""Figures and tables for the Evaluate page: how good the model is, and where it fails.

Inputs are plain arrays (a confusion matrix, probabilities, labels) so tests can build them by hand;
the numbers themselves come from ``nn.metrics`` and lab/evaluation.py. Each figure is built in one ``go.Figure`` call from
dicts (see figures/tiles.py for why).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from figures.palette import LINE_COLORS, PIXEL_RANGE, PIXEL_SCALE
from figures.style import layout
from figures.tiles import FRAME_VALUE, click_targets, image_axes, tile_images
from lab.evaluation import row_normalise
from lab.format import fmt_pct
from lab.labels import label, noun

CONFUSION_SCALE = "Blues"
_PX_PER_PIXEL = 3.6  # gallery: screen pixels per image pixel (a 28-pixel digit is about 100 px wide)


def confusion_figure(cm: np.ndarray, *, normalised: bool = False, selected: tuple[int, int] | None = None,
                     errors_only_scale: bool = True) -> go.Figure:
    """The confusion matrix ``cm: (k, k)`` (rows: true class, columns: predicted) as a clickable heatmap.

    ``normalised`` shows each row as fractions of that class. ``errors_only_scale`` caps the colour
    scale at the largest off-diagonal value, so mistakes are visible next to a diagonal that would
    otherwise swallow the whole scale (the diagonal then saturates; its number is still printed).
    Each cell carries an invisible scatter point with customdata ``[true, predicted, count]``.
    """
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"confusion matrix must be square, got shape {cm.shape}")
    k = cm.shape[0]
    z = row_normalise(cm) if normalised else cm.astype(np.float64)
    off = z[~np.eye(k, dtype=bool)]
    capped = errors_only_scale and off.size > 0 and off.max() > 0
    zmax = float(off.max()) if capped else float(z.max() or 1.0)
    if normalised:
        text = np.array([["0" if n == 0 else fmt_pct(share, 1) for n, share in zip(*row)] for row in zip(cm, z)])
    else:
        text = cm.astype(np.int64).astype(str)

    true_idx, pred_idx = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    custom = np.stack([true_idx.ravel(), pred_idx.ravel(), cm.ravel()], axis=1)
    hover = [f"true {label(t)}, predicted {label(p)}: {int(c)} {noun()}{'s' if c != 1 else ''}" for t, p, c in custom]
    bar_title = ("share of row" if normalised else f"{noun()}s") + ("<br>(diagonal<br>off scale)" if capped else "")
    heatmap = {
        "type": "heatmap", "z": z, "x": list(range(k)), "y": list(range(k)), "colorscale": CONFUSION_SCALE,
        "zmin": 0, "zmax": zmax, "text": text, "texttemplate": "%{text}", "textfont": {"size": 11},
        "hoverinfo": "skip",
        "colorbar": {"title": {"text": bar_title}, "tickformat": ".1%" if normalised else ",", "thickness": 14},
    }
    targets = click_targets(np.stack([pred_idx.ravel(), true_idx.ravel()], axis=1), custom, hover, size=28)
    shapes = []
    if selected is not None:
        t, p = selected
        shapes.append({"type": "rect", "x0": p - 0.5, "x1": p + 0.5, "y0": t - 0.5, "y1": t + 0.5,
                       "line": {"color": LINE_COLORS["marker"], "width": 3}})
    ticks = {"tickmode": "array", "tickvals": list(range(k)), "ticktext": [label(i) for i in range(k)],
             "showgrid": False, "zeroline": False}
    title = "Confusion matrix: " + (f"share of each true {noun()}" if normalised else f"test {noun()}s per cell")
    return go.Figure(data=[heatmap, targets], layout=layout(
        title, f"predicted {noun()}", f"true {noun()}", height=480, legend=False, shapes=shapes,
        xaxis={**ticks, "range": [-0.5, k - 0.5]}, yaxis={**ticks, "range": [k - 0.5, -0.5]},
        clickmode="event+select", dragmode=False))


def confused_pairs_table(confusion: np.ndarray, pairs: list[tuple[int, int, int]]) -> list[dict]:
    """Rows of the "most confused pairs" table: true, predicted, mistakes, share of the true digit."""
    return [{"true": label(t), "predicted": label(p), "mistakes": c,
             f"share of true {noun()}": fmt_pct(c / max(1, confusion[t].sum()), 1)} for t, p, c in pairs]


def mistake_captions(mistakes: pd.DataFrame) -> list[str]:
    """Under each misclassified digit: "true 4 → 9", then its three most probable digits."""
    return [f"true {label(r.true)} → {label(r.predicted)}<br>{top_k_text(r.top_classes, r.top_probs)}" for r in mistakes.itertuples()]


def top_k_text(classes: np.ndarray, probs: np.ndarray) -> str:
    """``"5 82% · 3 12% · 8 3%"``: the best guesses with their probabilities."""
    return " · ".join(f"{label(int(c))} {fmt_pct(p)}" for c, p in zip(classes, probs))


def digit_gallery_figure(images: np.ndarray, captions: list[str], customdata: np.ndarray, *,
                         title: str, hovertext: list[str] | None = None, cols: int = 6,
                         px_per_pixel: float = _PX_PER_PIXEL) -> go.Figure:
    """Digits ``images: (n, 28, 28)`` uint8 in a grid, each with a caption (``<br>`` for two lines).

    Clicking a digit selects it: the selection reports its ``customdata`` (e.g. its test index).
    ``px_per_pixel`` sets the height for the expected width (digits are never stretched; a wrong
    guess only leaves a margin).
    """
    images = np.asarray(images)
    if len(captions) != len(images) or len(customdata) != len(images):
        raise ValueError(f"{len(images)} images need as many captions and customdata, got "
                         f"{len(captions)} and {len(customdata)}")
    n_lines = max((c.count("<br>") + 1 for c in captions), default=1)
    caption_rows = 5 * n_lines + 3
    mosaic = tile_images(images, cols, gap=8, caption_rows=caption_rows, frame=FRAME_VALUE)
    h, _ = mosaic.tile
    pixels = {"type": "heatmap", "z": mosaic.z, "colorscale": PIXEL_SCALE, "zmin": PIXEL_RANGE[0],
              "zmax": PIXEL_RANGE[1], "showscale": False, "hoverinfo": "skip"}
    text = {"type": "scatter", "mode": "text", "x": mosaic.centers[:, 0], "y": mosaic.centers[:, 1] + h / 2 + 2,
            "text": list(captions), "textposition": "bottom center", "textfont": {"size": 10, "color": "#31333f"},
            # A click selects a tile; without this plotly would fade every other caption.
            "unselected": {"textfont": {"color": "#31333f"}}, "hoverinfo": "skip", "showlegend": False}
    targets = click_targets(mosaic.centers, customdata, hovertext or captions, size=40)
    # The mosaic already leaves room for the last row's captions below its tiles.
    y_extent = mosaic.z.shape[0] + 1
    return go.Figure(data=[pixels, text, targets], layout=layout(
        title, height=60 + int(px_per_pixel * y_extent), legend=False,
        margin={"l": 10, "r": 10, "t": 50, "b": 10}, clickmode="event+select", dragmode=False,
        plot_bgcolor="white", **image_axes(x_range=(-1, mosaic.z.shape[1]), y_range=(y_extent - 1, -1))))


def abstention_figure(thresholds: np.ndarray, coverage: np.ndarray, accuracy: np.ndarray, *,
                      threshold: float | None = None) -> go.Figure:
    """Accuracy-on-answered (top panel) and coverage (bottom) as the confidence threshold rises.

    Below the threshold the model abstains: fewer digits are answered (coverage falls) and the answered
    ones are more often right (accuracy rises), as long as confidence means something. Two panels, so
    the accuracy axis can zoom in on the top few percent without distorting coverage.
    """
    thresholds = np.asarray(thresholds, dtype=np.float64)
    accuracy = np.asarray(accuracy, dtype=np.float64)
    finite = accuracy[np.isfinite(accuracy)]
    low = float(finite.min()) if finite.size else 0.0
    traces = [
        {"type": "scatter", "x": thresholds, "y": accuracy, "name": f"accuracy on answered {noun(plural=True)}",
         "mode": "lines", "line": {"color": LINE_COLORS["train"], "width": 2.5}, "xaxis": "x", "yaxis": "y",
         "hovertemplate": "threshold %{x:.2f}: accuracy %{y:.2%}<extra></extra>"},
        {"type": "scatter", "x": thresholds, "y": coverage, "name": "coverage (share answered)",
         "mode": "lines", "line": {"color": LINE_COLORS["val"], "width": 2.5}, "xaxis": "x", "yaxis": "y2",
         "hovertemplate": "threshold %{x:.2f}: %{y:.1%} answered<extra></extra>"},
    ]
    shapes = []
    if threshold is not None:
        for axis in ("y", "y2"):
            shapes.append({"type": "line", "x0": threshold, "x1": threshold, "xref": "x", "yref": f"{axis} domain",
                           "y0": 0, "y1": 1, "line": {"color": LINE_COLORS["neutral"], "width": 1.5, "dash": "dot"}})
    x_range = [float(thresholds.min()), float(thresholds.max())]
    return go.Figure(data=traces, layout=layout(
        "Abstaining below a confidence threshold", height=440, shapes=shapes,
        xaxis={"title": {"text": "confidence threshold (probability of the top class)"}, "range": x_range,
               "anchor": "y2"},
        yaxis={"title": {"text": "accuracy on answered"}, "tickformat": ".1%", "domain": [0.54, 1.0],
               "range": [max(0.0, low - 0.005), 1.001]},
        yaxis2={"title": {"text": "coverage"}, "tickformat": ".0%", "domain": [0.0, 0.46], "range": [0, 1.02]}))


def per_class_figure(report: pd.DataFrame) -> go.Figure:
    """Precision, recall and F1 per digit as grouped bars; ``report`` is indexed or keyed by class."""
    frame = report.copy()
    frame.columns = [str(c).lower() for c in frame.columns]
    classes = frame["class"].tolist() if "class" in frame.columns else list(frame.index)
    low = min(float(frame[m].min()) for m in ("precision", "recall", "f1"))
    floor = max(0.0, low - 0.05)
    colours = {"precision": LINE_COLORS["train"], "recall": LINE_COLORS["val"], "f1": LINE_COLORS["lr"]}
    bars = [{"type": "bar", "x": [label(c) for c in classes], "y": frame[m].to_numpy(),
             "name": "F1" if m == "f1" else m, "marker": {"color": colours[m]},
             "hovertemplate": f"{noun()} %{{x}}: %{{y:.2%}}<extra>" + m + "</extra>"}
            for m in ("precision", "recall", "f1")]
    # Starting the axis below the lowest bar makes differences of one percent visible; the label says so.
    return go.Figure(data=bars, layout=layout(
        f"Precision, recall and F1 per {noun()}", noun(), f"score (axis starts at {fmt_pct(floor)})", height=360,
        xaxis={"type": "category"}, yaxis={"range": [floor, 1.0], "tickformat": ".0%"}, barmode="group",
        bargap=0.25))
