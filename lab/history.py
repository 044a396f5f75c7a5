"""Per-layer columns of a trainer's history (one row per epoch): norms, dead units, value quantiles."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nn.events import DISTRIBUTION_QUANTILES, quantile_name


def history_columns(history: pd.DataFrame | None, prefix: str) -> tuple[list[int], np.ndarray, list[str]]:
    """(epochs, values (epochs, layers), column names) of the trainer's per-layer columns ``prefix_1 ..``."""
    if history is None or history.empty:
        return [], np.zeros((0, 0)), []
    cols = [c for c in history.columns if c.startswith(prefix + "_") and c[len(prefix) + 1:].isdigit()]
    cols.sort(key=lambda c: int(c[len(prefix) + 1:]))
    return history["epoch"].astype(int).tolist(), history[cols].to_numpy(dtype=np.float64), cols


def layer_quantiles(history: pd.DataFrame | None, kind: str, layer: int) -> tuple[list[int], np.ndarray] | None:
    """(epochs, (epochs, 7) values at DISTRIBUTION_QUANTILES) of ``kind`` ("weight" or "grad") for the
    0-based ``layer``, or None when the history does not hold them."""
    columns = []
    for q in DISTRIBUTION_QUANTILES:
        epochs, values, _ = history_columns(history, f"{kind}_{quantile_name(q)}")
        if values.ndim != 2 or values.shape[1] <= layer:
            return None
        columns.append(values[:, layer])
    return epochs, np.column_stack(columns)


def has_numbers(values: np.ndarray) -> bool:
    """Whether a history column block holds any finite number (a run without statistics has only NaN)."""
    return bool(np.asarray(values).size and np.isfinite(values).any())
