"""Softmax output and mean cross-entropy loss, fused into one stable step.

For logits ``z`` (n, C) and true classes ``y`` (n,):

    p_ic  = exp(z_ic) / sum_j exp(z_ij)                      softmax
    L     = -(1/n) sum_i log p_{i, y_i}                       mean cross-entropy
    dL/dz = (p - Y) / n                                       Y: one-hot of y

Why fuse them instead of computing ``softmax`` and then ``-log``:

* Stable. ``log p_ic = z_ic - logsumexp(z_i)``, and ``logsumexp`` is computed
  after subtracting the row maximum, so ``exp`` never overflows (the largest
  term is exp(0) = 1) and ``log`` never sees 0 (the sum is at least 1). A
  separate ``log(softmax(z))`` would return ``-inf`` as soon as a probability
  underflows to 0.
* Simple. The derivative of softmax alone is an (n, C, C) Jacobian, and the
  derivative of ``-log p`` alone divides by ``p``; multiplied together almost
  everything cancels and leaves ``p - Y``. scikit-learn's
  ``neural_network/_base.py`` and every framework take the same shortcut.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """``log p`` for logits (n, C), computed stably; a new array."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


@lru_cache(maxsize=32)
def _row_starts(rows: int, n_classes: int) -> np.ndarray:
    """Flat index of each row's first entry in a C-contiguous (rows, n_classes) array (read-only, cached)."""
    starts = np.arange(0, rows * n_classes, n_classes)
    starts.flags.writeable = False
    return starts


def softmax(logits: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Class probabilities (n, C) for logits (n, C); rows sum to 1.

    ``out`` may be ``logits`` itself to work in place.
    """
    out = np.subtract(logits, logits.max(axis=1, keepdims=True), out=out)
    np.exp(out, out=out)
    out /= out.sum(axis=1, keepdims=True)
    return out


def cross_entropy(logits: np.ndarray, y: np.ndarray) -> float:
    """Mean cross-entropy of logits (n, C) against labels y (n,)."""
    n = logits.shape[0]
    return float(-np.mean(log_softmax(logits)[np.arange(n), y], dtype=np.float64))


def softmax_cross_entropy(
    logits: np.ndarray, y: np.ndarray, *, out: np.ndarray | None = None
) -> tuple[float, np.ndarray]:
    """Mean cross-entropy and its gradient with respect to the logits.

    logits: (n, C); y: (n,) integer labels in [0, C). Returns ``(loss, dL/dz)``
    with ``dL/dz = (p - Y) / n`` of shape (n, C). ``out`` receives the gradient
    and may be ``logits`` itself (the training pass does this: no allocation
    larger than (n,)).
    """
    loss, grad, _ = softmax_cross_entropy_counted(logits, y, out=out)
    return loss, grad


def softmax_cross_entropy_counted(
    logits: np.ndarray, y: np.ndarray, *, out: np.ndarray | None = None, batch_size: int | None = None
) -> tuple[float, np.ndarray, int]:
    """:func:`softmax_cross_entropy` plus the number of rows whose true class has the largest logit.

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
