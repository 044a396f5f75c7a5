"""The loss of nn/losses.py fused in place for the engine: one pass, no allocation larger than (n,).

The same numbers as :func:`nn.losses.softmax_cross_entropy` (proven by tests), computed into the
logits' own buffer, for a share of a batch's rows, with the count of correct rows for free.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=32)
def _row_starts(rows: int, n_classes: int) -> np.ndarray:
    """Flat index of each row's first entry in a C-contiguous (rows, n_classes) array (read-only, cached)."""
    starts = np.arange(0, rows * n_classes, n_classes)
    starts.flags.writeable = False
    return starts


def softmax_cross_entropy_counted(
    logits: np.ndarray, y: np.ndarray, *, out: np.ndarray | None = None, batch_size: int | None = None
) -> tuple[float, np.ndarray, int]:
    """:func:`nn.losses.softmax_cross_entropy` in place, plus the number of rows whose true class has the largest logit.

    The count comes for free: the true logit minus the row maximum is already
    computed, and it is 0 exactly when the true class wins (a tie counts as correct).

    ``batch_size`` is for logits that are some rows of a larger batch (a thread's share):
    both the loss and the gradient are then divided by the whole batch's n, so the
    shares' losses add up to the batch's mean and each gradient row is what the whole
    batch would give it.
    """
    rows, n_classes = logits.shape
    n = rows if batch_size is None else batch_size
    shifted = np.subtract(logits, logits.max(axis=1, keepdims=True), out=out)
    # Entry (i, y_i) as a flat index: 1-D fancy indexing is several times faster than shifted[rows, y].
    flat = shifted.reshape(-1) if shifted.flags.c_contiguous else None
    true_index = np.add(_row_starts(rows, n_classes), y)
    true_shifted = flat[true_index] if flat is not None else shifted[np.arange(rows), y]  # z_{i,y_i} - max_i
    # z_{i,y_i} - max_i is at most 0, and exactly 0 when the true class has the largest logit.
    n_correct = rows - int(np.count_nonzero(true_shifted))
    np.exp(shifted, out=shifted)
    sums = shifted.sum(axis=1)  # between 1 and C: log is safe
    # log p_{i, y_i} = (z_{i, y_i} - max_i) - log(sum_j exp(z_ij - max_i))
    loss = float(np.add.reduce(np.log(sums) - true_shifted, dtype=np.float64)) / n
    shifted /= sums[:, None]  # now p
    if flat is not None:
        flat[true_index] -= 1.0  # p - Y
    else:
        shifted[np.arange(rows), y] -= 1.0
    shifted *= 1.0 / n
    return loss, shifted, n_correct
