"""Histograms computed on the server, so a chart ships 60 numbers rather than 200,000 weights."""

from __future__ import annotations

import numpy as np


def symmetric_range(values: np.ndarray, *, quantile: float | None = None) -> tuple[float, float]:
    """A symmetric (low, high) around zero: a diverging colour scale's range, shared histogram bins.

    ``quantile`` (e.g. 0.99) ignores a few extreme values so that typical weights stay visible.
    """
    values = np.asarray(values, dtype=np.float64)
    finite = np.abs(values[np.isfinite(values)])
    if finite.size == 0:
        return -1.0, 1.0
    limit = float(np.quantile(finite, quantile)) if quantile is not None else float(finite.max())
    if limit <= 0:
        limit = 1.0
    return -limit, limit


def histogram(values: np.ndarray, bins: int = 60, value_range: tuple[float, float] | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
    """(density (bins,), bin centres (bins,)): a histogram computed here, so a chart ships 60 numbers,
    not the 200,000 weights of a first layer."""
    values = np.asarray(values, dtype=np.float64).ravel()
    values = values[np.isfinite(values)]
    density, edges = np.histogram(values, bins=bins, range=value_range, density=True)
    return density, (edges[:-1] + edges[1:]) / 2
