"""Figures of a training run: loss per batch, loss and accuracy per epoch, the learning rate.

All take plain arrays / a DataFrame so the live page and the tests call them the same way. Long runs are
thinned to at most ``max_points`` points per line (the smoothing is computed on every batch first), so a
redraw stays a few milliseconds however long the run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from figures.palette import LINE_COLORS
from figures.run_marks import diverged_label, diverged_line, diverged_point, lr_change_marks, step_x
from figures.style import layout, log_axis
from lab.curves import smooth
from lab.format import fmt_pct
from lab.snapshot import DivergedBatch

FEW_POINTS = 60  # up to this many points a line shows its markers too
EPOCH_COLUMNS = ["epoch", "train_loss", "val_loss", "train_acc", "val_acc", "lr", "seconds", "samples_per_sec"]


def _thin(n: int, max_points: int) -> np.ndarray:
    """Indices of at most ~max_points evenly spaced points, always keeping the last one."""
    if n <= max_points:
        return np.arange(n)
    stride = int(np.ceil(n / max_points))
    idx = np.arange(0, n, stride)
    return idx if idx[-1] == n - 1 else np.append(idx, n - 1)


def _epoch_axis(steps: np.ndarray, batches_per_epoch: int) -> np.ndarray:
    """Global 1-based step -> position in epochs (step k of epoch e sits at e - 1 + k / batches)."""
    return steps / float(max(batches_per_epoch, 1))


def _positive_or_nan(values: np.ndarray) -> np.ndarray:
    """A log axis cannot show 0 or inf: such points (a diverging batch) become gaps, not a crash."""
    return np.where(np.isfinite(values) & (values > 0), values, np.nan).astype(np.float32)


def _line_mode(n: int) -> str:
    """Lines, with the points drawn too while there are few (one batch alone is a point, not nothing)."""
    return "lines+markers" if n <= FEW_POINTS else "lines"


def batch_loss_figure(losses: np.ndarray, batches_per_epoch: int, *,
                      lr_changes: Sequence[tuple[int, float]] = (), smoothing: float = 0.95,
                      max_points: int = 1500, diverged: DivergedBatch | None = None) -> go.Figure:
    """Every batch's loss (faint) and its smoothed trend (dark), x in epochs, y on a log scale.

    losses: (steps,), the loss of global steps 1..steps. ``lr_changes``: (step, new lr) marked as lines.
    ``diverged``: the batch whose loss exploded, drawn after the others and marked.
    """
    losses = np.asarray(losses, dtype=np.float64)
    keep = _thin(losses.size, max_points)
    x = _epoch_axis(np.arange(1, losses.size + 1)[keep], batches_per_epoch).astype(np.float32)
    raw = _positive_or_nan(losses[keep])
    trend = _positive_or_nan(smooth(losses, smoothing)[keep])
    x_end = float(x[-1]) if x.size else 0.0
    extra, notes, shapes = [], [], []
    raw_x, raw_y = x, raw
    if diverged is not None:
        dx = step_x(diverged.step, batches_per_epoch)
        x_end = dx
        label = diverged_label(diverged, batches_per_epoch)
        if np.isfinite(diverged.loss) and diverged.loss > 0:  # the faint line runs up to the explosion
            raw_x, raw_y = np.r_[x, dx].astype(np.float32), np.r_[raw, diverged.loss].astype(np.float32)
            trace, note = diverged_point(dx, diverged.loss, label, f"epoch %{{x:.2f}}<br>{label}", log_y=True)
            extra.append(trace)
            notes.append(note)
        else:
            shape, note = diverged_line(dx, label)
            shapes.append(shape)
            notes.append(note)
    lr_shapes, lr_notes = lr_change_marks(lr_changes, batches_per_epoch, x_end)
    if losses.size == 0 and diverged is None:
        notes.append({"text": "waiting for the first batch", "showarrow": False, "x": 0.5, "y": 0.5,
                      "xref": "paper", "yref": "paper", "font": {"color": LINE_COLORS["neutral"]}})
    data = [
        {"type": "scatter", "x": raw_x, "y": raw_y, "mode": _line_mode(raw_x.size), "name": "each batch",
         "line": {"color": LINE_COLORS["raw"], "width": 1}, "marker": {"color": LINE_COLORS["smooth"], "size": 5},
         "hovertemplate": "epoch %{x:.2f}<br>loss %{y:.4f}<extra>batch</extra>"},
        {"type": "scatter", "x": x, "y": trend, "mode": "lines", "name": "smoothed",
         "line": {"color": LINE_COLORS["smooth"], "width": 2.5},
         "hovertemplate": "epoch %{x:.2f}<br>loss %{y:.4f}<extra>smoothed</extra>"},
        *extra,
    ]
    y_title = "cross-entropy loss (log scale)"
    return go.Figure(data=data, layout=layout(
        "Training loss per batch", "epoch", y_title, height=330, yaxis=log_axis(np.r_[raw_y, trend]),
        shapes=lr_shapes + shapes, annotations=lr_notes + notes))


def epochs_frame(events: Iterable) -> pd.DataFrame:
    """One row per epoch from ``EpochEvent``-like records (attributes named as ``EPOCH_COLUMNS``)."""
    rows = [{c: getattr(e, c) for c in EPOCH_COLUMNS} for e in events]
    return pd.DataFrame(rows, columns=EPOCH_COLUMNS)


def epoch_metrics_figure(history: pd.DataFrame, epochs_planned: int | None = None, *,
                         diverged: DivergedBatch | None = None, batches_per_epoch: int = 1) -> go.Figure:
    """Train and validation loss (left) and accuracy (right), one point per completed epoch.

    history: a DataFrame with columns epoch, train_loss, val_loss, train_acc, val_acc (acc as 0..1).
    ``diverged``: the batch where the loss exploded, marked on both panels (and said, if no epoch ended).
    """
    n = len(history)
    x = history["epoch"].to_numpy() if n else np.array([])
    data = []
    lines = [("train_loss", "train", "train", 1), ("val_loss", "validation", "val", 1),
             ("train_acc", "train", "train", 2), ("val_acc", "validation", "val", 2)]
    for column, name, role, col in lines:
        y = history[column].to_numpy(dtype=np.float64) if n else np.array([])
        if col == 2:
            y = 100.0 * y
        if y.size and not np.isfinite(y).any():
            continue  # e.g. no validation set
        fmt = "%{y:.4f}" if col == 1 else "%{y:.2f}%"
        data.append({"type": "scatter", "x": x, "y": y, "mode": "lines+markers", "name": name,
                     "legendgroup": role, "showlegend": col == 1, "xaxis": f"x{col if col > 1 else ''}",
                     "yaxis": f"y{col if col > 1 else ''}", "line": {"color": LINE_COLORS[role], "width": 2},
                     "marker": {"size": 6}, "hovertemplate": f"epoch %{{x}}<br>{name} {fmt}<extra></extra>"})
    last = max(epochs_planned or 0, n, 1)
    xaxis = {"title": {"text": "epoch"}, "range": [0.5, last + 0.5], "dtick": 1 if last <= 20 else None}
    notes, shapes = [], []
    if n and np.isfinite(history["val_acc"].to_numpy(dtype=np.float64)).any():
        best = history.loc[history["val_acc"].idxmax()]
        # Text centred on an early epoch runs over the axis's labels: it grows away from the nearer edge.
        early = float(best["epoch"]) - 0.5 <= last / 2
        notes.append({"x": float(best["epoch"]), "y": 100 * float(best["val_acc"]), "xref": "x2", "yref": "y2",
                      "text": f"best validation {fmt_pct(best['val_acc'], 2)}", "showarrow": True, "arrowhead": 2,
                      "ax": 0, "ay": 30, "xanchor": "left" if early else "right"})
    if diverged is not None:
        dx = step_x(diverged.step, batches_per_epoch)
        xaxis["range"] = [min(0.5, dx - 0.3), last + 0.5]
        for xref, yref in (("x", "y domain"), ("x2", "y2 domain")):
            shape, note = diverged_line(dx, "diverged", xref=xref, yref=yref)
            shapes.append(shape)
            notes.append({**note, "xanchor": "left"})
        if n == 0:  # in the middle of the loss panel, where no line will come
            what = diverged_label(diverged, batches_per_epoch).replace(" at epoch", "<br>at epoch")
            notes.append({"text": f"No epoch finished:<br>the {what}.<br>The loss chart above shows it.",
                          "showarrow": False, "x": 0.22, "y": 0.5, "xref": "paper", "yref": "paper", "xanchor": "center",
                          "font": {"color": LINE_COLORS["neutral"], "size": 13}})
    empty = {"range": [0, 3]} if n == 0 else {}, {"range": [0, 100]} if n == 0 else {}  # not -1..4 on no data
    return go.Figure(data=data, layout=layout(
        "Loss and accuracy after each epoch", height=330, annotations=notes, shapes=shapes,
        xaxis={**xaxis, "domain": [0.0, 0.44]}, yaxis={"title": {"text": "loss (lower is better)"}, **empty[0]},
        xaxis2={**xaxis, "domain": [0.56, 1.0], "anchor": "y2"},
        yaxis2={"title": {"text": "accuracy % (higher is better)"}, "anchor": "x2", **empty[1]}))


def lr_figure(lrs: np.ndarray, batches_per_epoch: int, *, lr_changes: Sequence[tuple[int, float]] = (),
              max_points: int = 1500, diverged: DivergedBatch | None = None) -> go.Figure:
    """The learning rate used at every step (schedule and warm-up), with the user's changes marked.

    A linear axis from zero: a schedule is a shape in time (warm-up ramps, cosine decays), and a log axis
    turns a cosine into a flat line with a cliff. ``diverged``: the batch where the loss exploded.
    """
    lrs = np.asarray(lrs, dtype=np.float64)
    keep = _thin(lrs.size, max_points)
    x = _epoch_axis(np.arange(1, lrs.size + 1)[keep], batches_per_epoch).astype(np.float32)
    y = lrs[keep]
    shapes, notes = [], []
    if diverged is not None:
        dx = step_x(diverged.step, batches_per_epoch)
        x, y = np.r_[x, dx].astype(np.float32), np.r_[y, diverged.lr]
        shape, note = diverged_line(dx, f"diverged at lr {diverged.lr:.3g}")
        shapes.append(shape)
        notes.append(note)
    lr_shapes, lr_notes = lr_change_marks(lr_changes, batches_per_epoch, float(x[-1]) if x.size else 0.0)
    positive = y[np.isfinite(y) & (y > 0)]
    data = [{"type": "scatter", "x": x, "y": y.astype(np.float32), "mode": _line_mode(x.size),
             "name": "learning rate", "line": {"color": LINE_COLORS["lr"], "width": 2, "shape": "hv"},
             "marker": {"size": 5}, "hovertemplate": "epoch %{x:.2f}<br>lr %{y:.3g}<extra></extra>"}]
    yaxis: dict = {"type": "linear", "exponentformat": "none", "tickformat": "~g", "rangemode": "tozero"}
    if positive.size:
        yaxis["range"] = [0.0, float(positive.max()) * 1.15]  # a constant rate is a line, not the axis
    return go.Figure(data=data, layout=layout(
        "Learning rate at each step", "epoch", "learning rate", height=260,
        legend=False, yaxis=yaxis, shapes=lr_shapes + shapes, annotations=lr_notes + notes))
