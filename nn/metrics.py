"""How good a classifier is, and where it fails.

Everything takes plain label arrays (``y_true``, ``y_pred``: (n,) integers in
[0, n_classes)) or predicted probabilities (``proba``: (n, n_classes)), so the
CLI, the tests and the dashboard's Evaluate page compute the same numbers.

Definitions, for one class c (the usual ones, as in scikit-learn):

    precision_c = TP / (TP + FP)   of the digits predicted as c, the share that are c
    recall_c    = TP / (TP + FN)   of the true c's, the share found
    f1_c        = 2 precision recall / (precision + recall)
    support_c   = TP + FN          how many true c's there are

A ratio whose denominator is 0 (a class never predicted, or absent) is
reported as 0.0, scikit-learn's ``zero_division=0``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd


def _labels(name: str, y: np.ndarray, n_classes: int) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of class labels, got shape {y.shape!r}")
    if y.size and not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{name} must hold integer class labels, got dtype {y.dtype}")
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"{name} must be in [0, {n_classes}), got values from {y.min()} to {y.max()}")
    return y.astype(np.intp, copy=False)


def _pair(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 1:
        raise ValueError(f"n_classes must be a positive integer, got {n_classes!r}")
    y_true = _labels("y_true", y_true, n_classes)
    y_pred = _labels("y_pred", y_pred, n_classes)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred differ in length: {y_true.shape[0]} vs {y_pred.shape[0]}")
    return y_true, y_pred


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Fraction of predictions that equal the true label; NaN for no examples."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(f"y_true and y_pred must be 1-D of equal length, got {y_true.shape} and {y_pred.shape}")
    if y_true.size == 0:
        return float("nan")
    return float(np.count_nonzero(y_true == y_pred) / y_true.size)


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int = 10) -> np.ndarray:
    """Counts (n_classes, n_classes) int64: row = true class, column = predicted class."""
    y_true, y_pred = _pair(y_true, y_pred, n_classes)
    # Each (true, predicted) pair gets one cell number; counting cell numbers fills the matrix.
    cells = np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes)
    return cells.reshape(n_classes, n_classes).astype(np.int64)


@dataclass(frozen=True)
class ClassMetrics:
    """Per-class arrays, each (n_classes,)."""

    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num = num.astype(np.float64)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def class_metrics_from_confusion(cm: np.ndarray) -> ClassMetrics:
    """Precision, recall, F1 and support per class from a confusion matrix (rows true)."""
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"a confusion matrix must be square, got shape {cm.shape!r}")
    tp = np.diag(cm)
    support = cm.sum(axis=1)  # true members of each class
    predicted = cm.sum(axis=0)  # everything predicted as each class
    precision = _ratio(tp, predicted)
    recall = _ratio(tp, support)
    f1 = _ratio(2 * precision * recall, precision + recall)
    return ClassMetrics(precision, recall, f1, support.astype(np.int64))


def class_metrics(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int = 10) -> ClassMetrics:
    """Precision, recall, F1 and support per class (NumPy arrays)."""
    return class_metrics_from_confusion(confusion_matrix(y_true, y_pred, n_classes))


def per_class_report(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int = 10) -> pd.DataFrame:
    """A table with one row per class (index ``class``): precision, recall, f1, support."""
    import pandas as pd  # lazy: nn/ needs only NumPy until someone asks for a table

    m = class_metrics(y_true, y_pred, n_classes)
    frame = pd.DataFrame(
        {"precision": m.precision, "recall": m.recall, "f1": m.f1, "support": m.support},
        index=pd.RangeIndex(n_classes, name="class"),
    )
    return frame


@dataclass(frozen=True)
class AbstentionCurve:
    """What happens if the model answers only when its top probability is at least a threshold.

    thresholds, coverage (share of examples answered) and accuracy (on the
    answered ones; NaN where none are answered): each (k,).
    """

    thresholds: np.ndarray
    coverage: np.ndarray
    accuracy: np.ndarray


def abstention_curve(proba: np.ndarray, y_true: np.ndarray, thresholds: np.ndarray | None = None) -> AbstentionCurve:
    """Coverage and accuracy as the confidence threshold rises.

    proba: (n, n_classes) predicted probabilities; y_true: (n,). ``thresholds``
    defaults to 101 evenly spaced values from 0 to 1. A well-calibrated model's
    accuracy rises as coverage falls: its doubtful answers are its wrong ones.
    """
    proba = np.asarray(proba)
    if proba.ndim != 2:
        raise ValueError(f"proba must be (n, n_classes), got shape {proba.shape!r}")
    y_true = _labels("y_true", y_true, proba.shape[1])
    if y_true.shape[0] != proba.shape[0]:
        raise ValueError(f"proba has {proba.shape[0]} rows but y_true has {y_true.shape[0]} labels")
    thresholds = np.linspace(0.0, 1.0, 101) if thresholds is None else np.asarray(thresholds, dtype=np.float64)
    if thresholds.ndim != 1 or not np.all(np.isfinite(thresholds)):
        raise ValueError(f"thresholds must be a 1-D array of finite numbers, got {thresholds!r}")
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y_true
    # Sort once by confidence; then "answered at threshold t" is a suffix of the sorted order.
    order = np.argsort(confidence, kind="stable")
    confidence, correct = confidence[order], correct[order]
    n = confidence.size
    correct_from = np.concatenate([np.cumsum(correct[::-1])[::-1], [0]])  # correct answers in suffix i..n
    first = np.searchsorted(confidence, thresholds, side="left")  # first answered index per threshold
    answered = n - first
    coverage = answered / n if n else np.full(thresholds.shape, np.nan)
    acc = np.divide(correct_from[first], answered, out=np.full(thresholds.shape, np.nan), where=answered > 0)
    return AbstentionCurve(thresholds=thresholds, coverage=np.asarray(coverage, dtype=np.float64), accuracy=acc)


def most_confused_pairs(cm: np.ndarray, k: int = 5) -> list[tuple[int, int, int]]:
    """The ``k`` largest off-diagonal cells as (true class, predicted class, count), largest first.

    Pairs with a count of 0 are left out; ties are broken by (true, predicted).
    """
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"a confusion matrix must be square, got shape {cm.shape!r}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
        raise ValueError(f"k must be a non-negative integer, got {k!r}")
    off = cm.astype(np.int64, copy=True)
    np.fill_diagonal(off, 0)
    flat = off.ravel()
    order = np.lexsort((np.arange(flat.size), -flat))  # count descending, then cell order
    pairs = []
    for cell in order[:k]:
        if flat[cell] == 0:
            break
        true, predicted = divmod(int(cell), cm.shape[1])
        pairs.append((true, predicted, int(flat[cell])))
    return pairs
