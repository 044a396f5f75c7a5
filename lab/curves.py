"""Curves of a training run: the smoothed trend of a noisy per-batch loss."""

from __future__ import annotations

import numpy as np
import pandas as pd


def smooth(values: np.ndarray, weight: float = 0.95) -> np.ndarray:
    """Exponential moving average with bias correction (TensorBoard's smoothing), same length as input."""
    if not 0.0 <= weight < 1.0:
        raise ValueError(f"smoothing weight must be in [0, 1), got {weight!r}")
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return values
    return pd.Series(values).ewm(alpha=1.0 - weight, adjust=True).mean().to_numpy()
