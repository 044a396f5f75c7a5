"""Figures and tables for the Evaluate page: how good the model is, and where it fails.

Inputs are plain arrays (a confusion matrix, probabilities, labels) so tests can build them by hand;
the numbers themselves come from ``nn.metrics``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from figures.palette import LINE_COLORS, PIXEL_RANGE, PIXEL_SCALE
from figures.style import finish
from figures.tiles import click_targets, image_axes, tile_images

CONFUSION_SCALE = "Blues"


def row_normalise(cm: np.ndarray) -> np.ndarray:
    """Each row divided by its total: entry (t, p) is the fraction of true ``t`` predicted as ``p``.

    A row with no examples stays all zero rather than dividing by zero.
    """
    cm = np.asarray(cm, dtype=np.float64)
    totals = cm.sum(axis=1, keepdims=True)
    return np.divide(cm, totals, out=np.zeros_like(cm), where=totals > 0)


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
    zmax = float(off.max()) if errors_only_scale and off.size and off.max() > 0 else float(z.max() or 1.0)
    text = np.array([[f"{v:.1%}" if normalised else f"{int(v)}" for v in row] for row in z])
    if normalised:
        # Tiny fractions print as 0.0%; show them as blanks only when the count is truly zero.
        text[(cm == 0)] = "0"

    fig = go.Figure(go.Heatmap(
        z=z, x=list(range(k)), y=list(range(k)), colorscale=CONFUSION_SCALE, zmin=0, zmax=zmax,
        text=text, texttemplate="%{text}", textfont={"size": 11}, hoverinfo="skip",
        colorbar={"title": {"text": ("share of row" if normalised else "digits")
                            + ("<br>(diagonal<br>off scale)" if errors_only_scale else "")},
                  "tickformat": ".1%" if normalised else ","},
    ))
    true_idx, pred_idx = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    custom = np.stack([true_idx.ravel(), pred_idx.ravel(), cm.ravel()], axis=1)
    hover = [f"true {t}, predicted {p}: {int(c)} digit{'s' if c != 1 else ''}" for t, p, c in custom]
    targets = click_targets(np.stack([pred_idx.ravel(), true_idx.ravel()], axis=1), custom, hover, size=28)
    fig.add_trace(targets)
    if selected is not None:
        t, p = selected
        fig.add_shape(type="rect", x0=p - 0.5, x1=p + 0.5, y0=t - 0.5, y1=t + 0.5,
                      line={"color": LINE_COLORS["marker"], "width": 3})
    title = "Confusion matrix: " + ("share of each true digit" if normalised else "test digits per cell")
    finish(fig, title, "predicted digit", "true digit", height=480, legend=False)
    fig.update_xaxes(tickmode="array", tickvals=list(range(k)), showgrid=False, zeroline=False,
                     range=[-0.5, k - 0.5])
    fig.update_yaxes(tickmode="array", tickvals=list(range(k)), showgrid=False, zeroline=False,
                     range=[k - 0.5, -0.5])
    fig.update_layout(clickmode="event+select", dragmode=False)
    return fig


def misclassified_frame(proba: np.ndarray, y_true: np.ndarray, *, top: int = 3) -> pd.DataFrame:
    """One row per wrong prediction, most confident mistakes first.

    ``proba: (n, k)`` predicted probabilities, ``y_true: (n,)``. Columns: ``index`` (row in the test
    set), ``true``, ``predicted``, ``confidence`` (probability of the prediction), ``p_true``
    (probability given to the right answer), and ``top_classes``/``top_probs`` (the ``top`` best guesses).
    """
    proba = np.asarray(proba)
    y_true = np.asarray(y_true).astype(np.int64)
    if proba.ndim != 2 or proba.shape[0] != y_true.shape[0]:
        raise ValueError(f"proba (n, k) and y_true (n,) disagree: {proba.shape} vs {y_true.shape}")
    pred = proba.argmax(axis=1)
    wrong = np.flatnonzero(pred != y_true)
    p = proba[wrong]
    order = np.argsort(-p, axis=1)[:, :top]
    frame = pd.DataFrame({
        "index": wrong,
        "true": y_true[wrong],
        "predicted": pred[wrong],
        "confidence": p[np.arange(len(wrong)), pred[wrong]],
        "p_true": p[np.arange(len(wrong)), y_true[wrong]],
        "top_classes": list(order),
        "top_probs": list(np.take_along_axis(p, order, axis=1)),
    })
    # Stable sort: equal confidences keep test-set order, so pages are reproducible.
    return frame.sort_values("confidence", ascending=False, kind="stable").reset_index(drop=True)


def top_k_text(classes: np.ndarray, probs: np.ndarray) -> str:
    """``"5 82% · 3 12% · 8 3%"``: the best guesses with their probabilities."""
    return " · ".join(f"{int(c)} {p:.0%}" for c, p in zip(classes, probs))


def digit_gallery_figure(images: np.ndarray, captions: list[str], customdata: np.ndarray, *,
                         title: str, hovertext: list[str] | None = None, cols: int = 6) -> go.Figure:
    """Digits ``images: (n, 28, 28)`` uint8 in a grid, each with a caption (``<br>`` for two lines).

    Clicking a digit selects it: the selection reports its ``customdata`` (e.g. its test index).
    """
    images = np.asarray(images)
    if len(captions) != len(images) or len(customdata) != len(images):
        raise ValueError(f"{len(images)} images need as many captions and customdata, got "
                         f"{len(captions)} and {len(customdata)}")
    n_lines = max((c.count("<br>") + 1 for c in captions), default=1)
    caption_rows = 5 * n_lines + 3
    mosaic = tile_images(images, cols, gap=8, caption_rows=caption_rows)
    fig = go.Figure(go.Heatmap(z=mosaic.z, colorscale=PIXEL_SCALE, zmin=PIXEL_RANGE[0], zmax=PIXEL_RANGE[1],
                               showscale=False, hoverinfo="skip"))
    h, w = mosaic.tile
    for (cx, cy), caption in zip(mosaic.centers, captions):
        fig.add_shape(type="rect", x0=cx - w / 2, x1=cx + w / 2, y0=cy - h / 2, y1=cy + h / 2,
                      line={"color": "#cccccc", "width": 1})
        fig.add_annotation(x=cx, y=cy + h / 2 + 1, text=caption, showarrow=False, yanchor="top",
                           font={"size": 10}, align="center")
    fig.add_trace(click_targets(mosaic.centers, customdata, hovertext or captions, size=40))
    # About 3.6 screen pixels per image pixel: a tile is ~100 px, wide enough for its caption.
    y_extent = mosaic.z.shape[0] + caption_rows + 1
    finish(fig, title, height=60 + int(3.6 * y_extent), legend=False)
    image_axes(fig)
    # The last row's captions hang below its tiles: keep them inside the plot.
    fig.update_yaxes(range=[y_extent - 1, -1], autorange=False)
    fig.update_xaxes(range=[-1, mosaic.z.shape[1]], autorange=False)
    fig.update_layout(margin={"l": 10, "r": 10, "t": 50, "b": 10}, clickmode="event+select", dragmode=False)
    return fig


def abstention_figure(thresholds: np.ndarray, coverage: np.ndarray, accuracy: np.ndarray, *,
                      threshold: float | None = None) -> go.Figure:
    """Accuracy-on-answered (top panel) and coverage (bottom) as the confidence threshold rises.

    Below the threshold the model abstains: fewer digits are answered (coverage falls) and the answered
    ones are more often right (accuracy rises), as long as confidence means something. Two panels, so
    the accuracy axis can zoom in on the top few percent without distorting coverage.
    """
    thresholds = np.asarray(thresholds, dtype=np.float64)
    accuracy = np.asarray(accuracy, dtype=np.float64)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08, row_heights=[0.5, 0.5])
    fig.add_trace(go.Scatter(x=thresholds, y=accuracy, name="accuracy on answered digits", mode="lines",
                             line={"color": LINE_COLORS["train"], "width": 2.5},
                             hovertemplate="threshold %{x:.2f}: accuracy %{y:.2%}<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Scatter(x=thresholds, y=coverage, name="coverage (share answered)", mode="lines",
                             line={"color": LINE_COLORS["val"], "width": 2.5},
                             hovertemplate="threshold %{x:.2f}: %{y:.1%} answered<extra></extra>"), row=2, col=1)
    if threshold is not None:
        for row in (1, 2):
            fig.add_vline(x=threshold, line={"color": LINE_COLORS["neutral"], "width": 1.5, "dash": "dot"},
                          row=row, col=1)
    finish(fig, "Abstaining below a confidence threshold", height=440)
    finite = accuracy[np.isfinite(accuracy)]
    low = float(finite.min()) if finite.size else 0.0
    fig.update_yaxes(title_text="accuracy on answered", tickformat=".1%", range=[max(0.0, low - 0.005), 1.001],
                     row=1, col=1)
    fig.update_yaxes(title_text="coverage", tickformat=".0%", range=[0, 1.02], row=2, col=1)
    fig.update_xaxes(title_text="confidence threshold (probability of the top class)", row=2, col=1)
    fig.update_xaxes(range=[float(thresholds.min()), float(thresholds.max())])
    return fig


def per_class_figure(report: pd.DataFrame) -> go.Figure:
    """Precision, recall and F1 per digit as grouped bars; ``report`` is indexed or keyed by class."""
    frame = report.copy()
    frame.columns = [str(c).lower() for c in frame.columns]
    classes = frame["class"].tolist() if "class" in frame.columns else list(frame.index)
    low = min(float(frame[m].min()) for m in ("precision", "recall", "f1"))
    fig = go.Figure()
    colours = {"precision": LINE_COLORS["train"], "recall": LINE_COLORS["val"], "f1": LINE_COLORS["lr"]}
    for metric in ("precision", "recall", "f1"):
        fig.add_trace(go.Bar(x=[str(c) for c in classes], y=frame[metric], name=metric if metric != "f1" else "F1",
                             marker_color=colours[metric],
                             hovertemplate="digit %{x}: %{y:.2%}<extra>" + metric + "</extra>"))
    finish(fig, "Precision, recall and F1 per digit", "digit", "score", height=360)
    # Starting the axis below the lowest bar makes differences of one percent visible; the label says so.
    fig.update_yaxes(range=[max(0.0, low - 0.05), 1.0], tickformat=".0%",
                     title_text="score (axis starts at %.0f%%)" % (100 * max(0.0, low - 0.05)))
    fig.update_layout(barmode="group", bargap=0.25)
    return fig
