"""Figures of the Runs page: the curves of 2-6 kept runs overlaid, per epoch or per training image seen.

One colour per run (``RUN_COLORS``, never a digit's colour); within a run, the solid line is the
training curve and the dotted one the validation curve.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from figures.palette import RUN_COLORS
from figures.style import layout, log_axis
from lab.curves import smooth
from lab.runs import RunRecord

METRICS = {"loss": "Loss", "accuracy": "Accuracy", "lr": "Learning rate"}
X_AXES = {"epoch": "epoch", "samples": "training images seen"}
MAX_POINTS = 600  # per line: plenty for a chart a few hundred pixels wide


def _thin(n: int) -> np.ndarray:
    if n <= MAX_POINTS:
        return np.arange(n)
    idx = np.arange(0, n, int(np.ceil(n / MAX_POINTS)))
    return idx if idx[-1] == n - 1 else np.append(idx, n - 1)


def _x(record: RunRecord, steps: np.ndarray, x_axis: str) -> np.ndarray:
    if x_axis == "samples":
        return record.samples_seen(steps).astype(np.float64)
    return steps / float(max(record.batches_per_epoch, 1))


def _epoch_column(record: RunRecord, column: str) -> tuple[np.ndarray, np.ndarray]:
    history = record.history
    if history is None or history.empty or column not in history:
        return np.zeros(0), np.zeros(0)
    epochs = history["epoch"].to_numpy(dtype=np.int64)
    return epochs * max(record.batches_per_epoch, 1), history[column].to_numpy(dtype=np.float64)


def _line(name: str, x: np.ndarray, y: np.ndarray, color: str, *, dotted: bool = False, markers: bool = False,
          group: str, legend: bool, hover: str) -> dict:
    return {"type": "scatter", "x": x.astype(np.float32), "y": y.astype(np.float32), "name": name,
            "mode": "lines+markers" if markers else "lines", "legendgroup": group, "showlegend": legend,
            "line": {"color": color, "width": 2, "dash": "dot" if dotted else "solid",
                     "shape": "hv" if hover == "lr" else "linear"},
            "hovertemplate": f"%{{x:.3~s}}<br>{hover} %{{y:.4g}}<extra>{name}</extra>"}


def overlay_figure(records: Sequence[RunRecord], metric: str, x_axis: str = "epoch") -> go.Figure:
    """``metric`` ("loss", "accuracy" or "lr") of every record on one chart, x in epochs or images seen.

    Loss: the smoothed loss of every batch (solid) and the validation loss after each epoch (dotted).
    Accuracy: training (solid) and validation (dotted) accuracy after each epoch, in percent.
    Learning rate: the rate of every step (log scale only when the runs' peak rates differ by over 20 times).
    """
    if metric not in METRICS or x_axis not in X_AXES:
        raise ValueError(f"metric must be one of {list(METRICS)} and x_axis one of {list(X_AXES)}")
    data = []
    for i, record in enumerate(records):
        color, group = RUN_COLORS[i % len(RUN_COLORS)], record.run_id
        name = record.name if not record.change else f"{record.name} ({record.change})"
        if metric in ("loss", "lr"):
            values = record.batch_losses if metric == "loss" else record.batch_lrs
            values = np.asarray(values, dtype=np.float64)
            if metric == "loss":
                values = smooth(values) if values.size else values
            keep = _thin(values.size)
            steps = np.arange(1, values.size + 1)[keep]
            data.append(_line(name, _x(record, steps, x_axis), values[keep], color, group=group, legend=True,
                              hover="loss" if metric == "loss" else "lr"))
            own_line = values.size > 0  # an uploaded model has no batches: its validation line names it
        if metric in ("loss", "accuracy"):
            column = "val_loss" if metric == "loss" else "val_acc"
            if metric == "accuracy":
                steps, train = _epoch_column(record, "train_acc")
                own_line = train.size > 0
                data.append(_line(name, _x(record, steps, x_axis), 100 * train, color, markers=True, group=group,
                                  legend=True, hover="train acc %"))
            steps, val = _epoch_column(record, column)
            if val.size and np.isfinite(val).any():
                data.append(_line(f"{name}, validation", _x(record, steps, x_axis),
                                  100 * val if metric == "accuracy" else val, color, dotted=True, markers=True,
                                  group=group, legend=not own_line,
                                  hover="val " + ("acc %" if metric == "accuracy" else "loss")))
    y_titles = {"loss": "cross-entropy loss (log scale)", "accuracy": "accuracy %", "lr": "learning rate"}
    plotted = np.concatenate([np.asarray(t["y"], np.float64) for t in data] or [np.zeros(0)])
    yaxis: dict = log_axis(plotted) if metric == "loss" else {}  # ticks written out, not plotly's "5, 2, 0.1"
    if metric == "lr":
        # A schedule is a shape in time (a cosine on a log axis is a flat line with a cliff): linear, unless
        # the runs' own rates differ so much that one would be a flat line at zero beside the other.
        peaks = [float(np.nanmax(t["y"])) for t in data if len(t["y"]) and np.isfinite(t["y"]).any()]
        peaks = [p for p in peaks if p > 0]
        if peaks and max(peaks) / min(peaks) > 20:
            yaxis = log_axis(plotted)
            y_titles["lr"] = "learning rate (log scale)"
        else:
            yaxis = {"rangemode": "tozero"}
    titles = {"loss": "Training loss (smoothed, solid) and validation loss (dotted)",
              "accuracy": "Training (solid) and validation (dotted) accuracy after each epoch",
              "lr": "Learning rate at each step"}
    return go.Figure(data=data, layout=layout(titles[metric], X_AXES[x_axis], y_titles[metric], height=330,
                                              yaxis=yaxis))
