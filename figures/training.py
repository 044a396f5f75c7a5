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
from figures.style import layout
from lab.curves import smooth
from lab.format import fmt_pct

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


def _lr_change_marks(lr_changes: Sequence[tuple[int, float]], batches_per_epoch: int, *, xref: str = "x",
                     yref: str = "y domain") -> tuple[list[dict], list[dict]]:
    """(shapes, annotations): a dashed vertical line and a label at each user change of the learning rate."""
    shapes, notes = [], []
    for step, lr in lr_changes:
        x = float(step) / max(batches_per_epoch, 1)
        shapes.append({"type": "line", "xref": xref, "yref": yref, "x0": x, "x1": x, "y0": 0, "y1": 1,
                       "line": {"color": LINE_COLORS["marker"], "dash": "dash", "width": 1.5}})
        notes.append({"xref": xref, "yref": yref, "x": x, "y": 1, "text": f"lr → {lr:.3g}", "showarrow": False,
                      "xanchor": "left", "yanchor": "top", "font": {"color": LINE_COLORS["marker"], "size": 11}})
    return shapes, notes


def _positive_or_nan(values: np.ndarray) -> np.ndarray:
    """A log axis cannot show 0 or inf: such points (a diverging batch) become gaps, not a crash."""
    return np.where(np.isfinite(values) & (values > 0), values, np.nan).astype(np.float32)


def _log_ticks(values: np.ndarray) -> dict:
    """Readable ticks for a log axis: the 1-2-5 values inside the data's range, written out in full."""
    finite = values[np.isfinite(values) & (values > 0)]
    if finite.size == 0:
        return {}
    low, high = float(finite.min()), float(finite.max())
    ticks = [m * 10.0**e for e in range(int(np.floor(np.log10(low))) - 1, int(np.ceil(np.log10(high))) + 1)
             for m in (1, 2, 5)]
    inside = [t for t in ticks if low / 1.5 <= t <= high * 1.5]
    if len(inside) < 2:
        return {}
    return {"tickvals": inside, "ticktext": [f"{t:g}" for t in inside]}


def batch_loss_figure(losses: np.ndarray, batches_per_epoch: int, *,
                      lr_changes: Sequence[tuple[int, float]] = (), smoothing: float = 0.95,
                      max_points: int = 1500) -> go.Figure:
    """Every batch's loss (faint) and its smoothed trend (dark), x in epochs, y on a log scale.

    losses: (steps,), the loss of global steps 1..steps. ``lr_changes``: (step, new lr) marked as lines.
    """
    losses = np.asarray(losses, dtype=np.float64)
    keep = _thin(losses.size, max_points)
    x = _epoch_axis(np.arange(1, losses.size + 1)[keep], batches_per_epoch).astype(np.float32)
    raw = _positive_or_nan(losses[keep])
    trend = _positive_or_nan(smooth(losses, smoothing)[keep])
    shapes, notes = _lr_change_marks(lr_changes, batches_per_epoch)
    if losses.size == 0:
        notes.append({"text": "waiting for the first batch", "showarrow": False, "x": 0.5, "y": 0.5,
                      "xref": "paper", "yref": "paper", "font": {"color": LINE_COLORS["neutral"]}})
    data = [
        {"type": "scatter", "x": x, "y": raw, "mode": "lines", "name": "each batch",
         "line": {"color": LINE_COLORS["raw"], "width": 1},
         "hovertemplate": "epoch %{x:.2f}<br>loss %{y:.4f}<extra>batch</extra>"},
        {"type": "scatter", "x": x, "y": trend, "mode": "lines", "name": "smoothed",
         "line": {"color": LINE_COLORS["smooth"], "width": 2.5},
         "hovertemplate": "epoch %{x:.2f}<br>loss %{y:.4f}<extra>smoothed</extra>"},
    ]
    return go.Figure(data=data, layout=layout(
        "Training loss per batch", "epoch", "cross-entropy loss (log scale)", height=330,
        yaxis={"type": "log", **_log_ticks(np.r_[raw, trend])}, shapes=shapes, annotations=notes))


def epochs_frame(events: Iterable) -> pd.DataFrame:
    """One row per epoch from ``EpochEvent``-like records (attributes named as ``EPOCH_COLUMNS``)."""
    rows = [{c: getattr(e, c) for c in EPOCH_COLUMNS} for e in events]
    return pd.DataFrame(rows, columns=EPOCH_COLUMNS)


def epoch_metrics_figure(history: pd.DataFrame, epochs_planned: int | None = None) -> go.Figure:
    """Train and validation loss (left) and accuracy (right), one point per completed epoch.

    history: a DataFrame with columns epoch, train_loss, val_loss, train_acc, val_acc (acc as 0..1).
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
    notes = []
    if n and np.isfinite(history["val_acc"].to_numpy(dtype=np.float64)).any():
        best = history.loc[history["val_acc"].idxmax()]
        notes.append({"x": float(best["epoch"]), "y": 100 * float(best["val_acc"]), "xref": "x2", "yref": "y2",
                      "text": f"best {fmt_pct(best['val_acc'], 2)}", "showarrow": True, "arrowhead": 2,
                      "ax": 0, "ay": 30})
    return go.Figure(data=data, layout=layout(
        "Loss and accuracy after each epoch", height=330, annotations=notes,
        xaxis={**xaxis, "domain": [0.0, 0.44]}, yaxis={"title": {"text": "loss (lower is better)"}},
        xaxis2={**xaxis, "domain": [0.56, 1.0], "anchor": "y2"},
        yaxis2={"title": {"text": "accuracy % (higher is better)"}, "anchor": "x2"}))


def lr_figure(lrs: np.ndarray, batches_per_epoch: int, *, lr_changes: Sequence[tuple[int, float]] = (),
              max_points: int = 1500) -> go.Figure:
    """The learning rate used at every step (schedule and warm-up), with the user's changes marked."""
    lrs = np.asarray(lrs, dtype=np.float64)
    keep = _thin(lrs.size, max_points)
    x = _epoch_axis(np.arange(1, lrs.size + 1)[keep], batches_per_epoch).astype(np.float32)
    positive = lrs[np.isfinite(lrs) & (lrs > 0)]
    log = bool(positive.size and positive.max() / positive.min() > 20)
    shapes, notes = _lr_change_marks(lr_changes, batches_per_epoch)
    data = [{"type": "scatter", "x": x, "y": lrs[keep].astype(np.float32), "mode": "lines",
             "name": "learning rate", "line": {"color": LINE_COLORS["lr"], "width": 2, "shape": "hv"},
             "hovertemplate": "epoch %{x:.2f}<br>lr %{y:.3g}<extra></extra>"}]
    yaxis: dict = {"type": "log" if log else "linear", "exponentformat": "e"}
    if not log and positive.size:
        yaxis["range"] = [0.0, float(positive.max()) * 1.15]  # a constant rate is a line, not the axis
    return go.Figure(data=data, layout=layout(
        "Learning rate at each step", "epoch", "learning rate" + (" (log scale)" if log else ""), height=260,
        legend=False, yaxis=yaxis, shapes=shapes, annotations=notes))
