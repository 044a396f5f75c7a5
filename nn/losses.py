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

import numpy as np


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """``log p`` for logits (n, C), computed stably; a new array."""
    shifted = logits - logits.max(axis=1, keepdims=True)              # z - max_j z_j: exp(.) <= 1
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))  # minus log sum_j exp: the sum is >= 1


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


def softmax_cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of logits (n, C) against labels y (n,), and its gradient dL/dz (n, C)."""
    n = logits.shape[0]
    rows = np.arange(n)
    log_p = log_softmax(logits)                                   # log p = z - logsumexp(z), stably
    loss = -np.mean(log_p[rows, y], dtype=np.float64)             # L = -(1/n) sum_i log p_{i, y_i}
    dZ = np.exp(log_p)                                            # p
    dZ[rows, y] -= 1.0                                            # p - Y
    dZ /= n                                                       # dL/dz = (p - Y) / n
    return float(loss), dZ
