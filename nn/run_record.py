"""A training run's record in a model file: the per-epoch history and the first-layer weight snapshots.

Both are optional and stored as plain arrays, described in the file's JSON config:

    "history":   {"columns": ["epoch", "train_loss", ...], "rows": 12}   -> array ``history`` (12, n) float64
    "snapshots": {"epochs": [0, 1, 2, 4, 8, 12]}                        -> array ``snapshots`` (6, 784, h1)

History values may be NaN (a run without validation has no validation loss); infinities are stored
as NaN. Snapshots are copies of W1 (one holding NaN or infinity is left out), thinned on saving to at
most :data:`MAX_SNAPSHOTS` and :data:`MAX_SNAPSHOT_BYTES` (the first and last always kept). Reading checks the description against
the same bounds, so the arrays' sizes are known before they are read.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Any

import numpy as np

HISTORY = "history"
SNAPSHOTS = "snapshots"
MAX_HISTORY_ROWS = 100_000  # the trainer runs at most 10,000 epochs
MAX_HISTORY_COLUMNS = 1024  # a 6-hidden-layer run with layer statistics has 126
MAX_HISTORY_VALUES = 4_000_000  # 32 MB of float64
MAX_SNAPSHOTS = 32
MAX_SNAPSHOT_BYTES = 64 * 2**20
_COLUMN = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")


class RecordError(ValueError):
    """A history or snapshot description or array that is malformed or beyond the bounds."""


# ------------------------------------------------------------------------------------------ saving


def encode(history: Sequence[Mapping[str, Any]] | None, snapshots: Sequence[tuple[int, np.ndarray]] | None,
           w1_shape: tuple[int, int]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(entries for the config JSON, arrays to store) for a run's history rows and W1 snapshots."""
    doc: dict[str, Any] = {}
    arrays: dict[str, np.ndarray] = {}
    if history:
        columns = list(dict.fromkeys(str(k) for row in history for k in row))
        _check_columns(columns, len(history))
        table = np.array([[_number(row.get(c, math.nan), c) for c in columns] for row in history], np.float64)
        table[~np.isfinite(table)] = np.nan
        doc[HISTORY] = {"columns": columns, "rows": len(history)}
        arrays[HISTORY] = table
    kept = _thin([(int(e), np.asarray(w)) for e, w in (snapshots or []) if np.isfinite(w).all()], w1_shape)
    if kept:
        doc[SNAPSHOTS] = {"epochs": [e for e, _ in kept]}
        arrays[SNAPSHOTS] = np.stack([w for _, w in kept])
    return doc, arrays


def _number(value: Any, column: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"history column {column!r} holds {value!r}, not a number")
    return float(value)


def _thin(snapshots: list[tuple[int, np.ndarray]], w1_shape: tuple[int, int]) -> list[tuple[int, np.ndarray]]:
    """The snapshots in epoch order, evenly thinned (first and last kept) to fit the bounds."""
    snapshots = sorted(snapshots, key=lambda s: s[0])
    for epoch, w in snapshots:
        if w.shape != tuple(w1_shape):
            raise ValueError(f"snapshot of epoch {epoch} has shape {w.shape}, expected W1's {tuple(w1_shape)}")
    epochs = [e for e, _ in snapshots]
    if len(set(epochs)) != len(epochs) or (epochs and epochs[0] < 0):
        raise ValueError(f"snapshot epochs must be distinct and non-negative, got {epochs}")
    return thin_evenly(snapshots, snapshots[0][1].nbytes if snapshots else 0, MAX_SNAPSHOTS, MAX_SNAPSHOT_BYTES)


def thin_evenly(items: list, item_bytes: int, max_count: int, max_bytes: int) -> list:
    """``items`` evenly thinned, the first and last kept, to at most ``max_count`` of them within ``max_bytes``
    (none when one alone is bigger)."""
    fit = min(max_count, max_bytes // max(item_bytes, 1))
    if not items or fit < 1:
        return []
    if len(items) <= fit:
        return items
    keep = np.unique(np.round(np.linspace(0, len(items) - 1, fit)).astype(int))
    return [items[i] for i in keep]


# ------------------------------------------------------------------------------------------ loading


def expected_arrays(doc: Mapping[str, Any], w1_shape: tuple[int, int]) -> dict[str, tuple[tuple[int, ...], int]]:
    """Array name -> (shape, most bytes of data) for the record the config describes; RecordError if malformed."""
    expected: dict[str, tuple[tuple[int, ...], int]] = {}
    if HISTORY in doc:
        entry = doc[HISTORY]
        if not isinstance(entry, dict) or set(entry) != {"columns", "rows"}:
            raise RecordError("config history must be an object with columns and rows")
        rows, columns = entry["rows"], entry["columns"]
        if isinstance(rows, bool) or not isinstance(rows, int) or not 1 <= rows <= MAX_HISTORY_ROWS:
            raise RecordError(f"config history rows must be an integer from 1 to {MAX_HISTORY_ROWS:,}, got {rows!r}")
        if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
            raise RecordError("config history columns must be a list of names")
        _check_columns(columns, rows)
        expected[HISTORY] = ((rows, len(columns)), rows * len(columns) * 8)
    if SNAPSHOTS in doc:
        entry = doc[SNAPSHOTS]
        epochs = entry.get("epochs") if isinstance(entry, dict) and set(entry) == {"epochs"} else None
        if not isinstance(epochs, list) or not 1 <= len(epochs) <= MAX_SNAPSHOTS:
            raise RecordError(f"config snapshots must be an object with a list of 1 to {MAX_SNAPSHOTS} epochs")
        if not all(isinstance(e, int) and not isinstance(e, bool) and e >= 0 for e in epochs) or any(
                a >= b for a, b in pairwise(epochs)):
            raise RecordError("config snapshot epochs must be increasing non-negative integers")
        shape = (len(epochs), *w1_shape)
        if math.prod(shape) * 4 > MAX_SNAPSHOT_BYTES:  # even as float32
            raise RecordError(f"config lists {len(epochs)} snapshots of a {w1_shape} W1, more than the "
                              f"{MAX_SNAPSHOT_BYTES:,} bytes allowed")
        expected[SNAPSHOTS] = (shape, MAX_SNAPSHOT_BYTES)
    return expected


def _check_columns(columns: list[str], rows: int) -> None:
    if not 1 <= len(columns) <= MAX_HISTORY_COLUMNS:
        raise RecordError(f"history has {len(columns):,} columns; from 1 to {MAX_HISTORY_COLUMNS:,} are allowed")
    if len(set(columns)) != len(columns):
        raise RecordError("history column names repeat")
    bad = next((c for c in columns if not _COLUMN.fullmatch(c)), None)
    if bad is not None:
        raise RecordError(f"history column name {bad[:40]!r} is not a plain name (letters, digits, _; at most 64)")
    if rows > MAX_HISTORY_ROWS or rows * len(columns) > MAX_HISTORY_VALUES:
        raise RecordError(f"history has {rows:,} rows of {len(columns):,} columns, more than the "
                    f"{MAX_HISTORY_VALUES:,} values allowed")


def decode(doc: Mapping[str, Any], arrays: Mapping[str, np.ndarray]
           ) -> tuple[list[dict[str, float]] | None, list[tuple[int, np.ndarray]] | None]:
    """(history rows, snapshots) from arrays already checked against :func:`expected_arrays`."""
    history = None
    if HISTORY in arrays:
        columns = doc[HISTORY]["columns"]
        table = arrays[HISTORY]
        if np.isinf(table).any():
            raise RecordError("history contains infinite values")
        if "epoch" in columns:
            epochs = table[:, columns.index("epoch")]
            if not (np.isfinite(epochs) & (epochs >= 0) & (epochs == np.round(epochs))).all():
                raise RecordError("history column epoch must hold non-negative whole numbers")
        history = [{c: (int(v) if c == "epoch" else float(v)) for c, v in zip(columns, row)} for row in table.tolist()]
    snapshots = None
    if SNAPSHOTS in arrays:
        stack = arrays[SNAPSHOTS]
        if not np.isfinite(stack).all():
            raise RecordError("snapshots contain NaN or infinite values")
        snapshots = list(zip(doc[SNAPSHOTS]["epochs"], stack))
    return history, snapshots
