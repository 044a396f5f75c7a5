"""The first-layer weight snapshots a training keeps (epoch 0 is the random start): one epoch's, their range."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lab.histograms import histogram, symmetric_range

Snapshots = Sequence[tuple[int, np.ndarray]]  # (epoch, W1 (784, h)) pairs, oldest first


def snapshot_at(snapshots: Snapshots, epoch: int) -> np.ndarray:
    """The first-layer weights kept after ``epoch``."""
    for e, W in snapshots:
        if int(e) == epoch:
            return W
    raise ValueError(f"no snapshot of epoch {epoch}; kept: {[int(e) for e, _ in snapshots]}")


def snapshot_range(snapshots: Snapshots, units: np.ndarray, quantile: float = 0.999) -> tuple[float, float]:
    """One symmetric colour range for ``units``' filters over every snapshot, so the epochs compare."""
    return symmetric_range(np.concatenate([np.asarray(W)[:, units].ravel() for _, W in snapshots]), quantile=quantile)


def snapshot_histograms(snapshots: Sequence[tuple[int, np.ndarray]], *, bins: int = 60
                        ) -> tuple[list[int], np.ndarray, np.ndarray]:
    """(epochs, bin centres (bins,), densities (bins, snapshots)) of the first-layer weights, one shared
    set of bins so the columns compare."""
    if not snapshots:
        raise ValueError("no snapshots to show")
    epochs = [int(e) for e, _ in snapshots]
    lo, hi = symmetric_range(np.concatenate([np.asarray(W).ravel()[::7] for _, W in snapshots]), quantile=0.999)
    densities = []
    for _, W in snapshots:
        density, centres = histogram(W, bins=bins, value_range=(lo, hi))
        densities.append(density)
    return epochs, centres, np.asarray(densities).T
