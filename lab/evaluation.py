"""The model on the whole test set: predictions, accuracy, confusion, per-class report, mistakes, abstention.

``evaluate`` computes everything the Evaluate page shows in one pass, as read-only arrays (one result is
shared by every session that looks at the same model version). The small functions below it answer the
page's questions about that result: which digits fall in a cell, which mistakes pass the filters, what
answering only when sure would give.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from nn import metrics
from nn.losses import cross_entropy, softmax

INPUT_SCALE = np.float32(1 / 255)  # the network's input scaling (as nn.data.to_float)
ABSTENTION_THRESHOLDS = np.linspace(0.1, 1.0, 181)


def frozen(*arrays: np.ndarray) -> None:
    """Make arrays read-only: a cached result is shared, and nobody may change it for the others."""
    for a in arrays:
        a.flags.writeable = False


@dataclass(frozen=True)
class TestData:
    """The test set as the network sees it. ``X``: (n, 784) float32 in [0, 1]; ``images``: (n, 28, 28) uint8."""

    X: np.ndarray
    images: np.ndarray
    labels: np.ndarray  # (n,) int64


def to_test_data(images: np.ndarray, labels: np.ndarray) -> TestData:
    """The test images as network inputs (converted once), with their labels; read-only."""
    X = np.multiply(images.reshape(len(images), -1), INPUT_SCALE, dtype=np.float32)
    labels = np.asarray(labels).astype(np.int64)
    frozen(X, labels)
    return TestData(X=X, images=images, labels=labels)


@dataclass(frozen=True)
class Evaluation:
    """Everything the Evaluate page shows, for one model version on the whole test set."""

    proba: np.ndarray  # (n, 10) float32
    predicted: np.ndarray  # (n,) int64
    confidence: np.ndarray  # (n,) top probability
    loss: float  # mean cross-entropy
    accuracy: float
    confusion: np.ndarray  # (10, 10) int64, rows true
    report: pd.DataFrame  # per class: precision, recall, f1, support
    curve: metrics.AbstentionCurve
    mistakes: pd.DataFrame  # misclassified_frame: most confident first
    seconds: float  # time the computation took (shown on the page)


def evaluate(model: Any, data: TestData) -> Evaluation:
    """``model`` (an ``nn.model.MLP``) on every test digit; the arrays of the result are read-only."""
    start = time.perf_counter()
    logits = model.forward(data.X)
    loss = cross_entropy(logits, data.labels)
    proba = softmax(logits.astype(np.float32, copy=True))
    predicted = proba.argmax(axis=1).astype(np.int64)
    n_classes = proba.shape[1]
    cm = metrics.confusion_matrix(data.labels, predicted, n_classes)
    ev = Evaluation(
        proba=proba, predicted=predicted, confidence=proba.max(axis=1), loss=float(loss),
        accuracy=metrics.accuracy(data.labels, predicted), confusion=cm,
        report=metrics.per_class_report(data.labels, predicted, n_classes),
        curve=metrics.abstention_curve(proba, data.labels, ABSTENTION_THRESHOLDS),
        mistakes=misclassified_frame(proba, data.labels),
        seconds=time.perf_counter() - start,
    )
    frozen(ev.proba, ev.predicted, ev.confidence, ev.confusion)
    return ev


def row_normalise(cm: np.ndarray) -> np.ndarray:
    """Each row divided by its total: entry (t, p) is the fraction of true ``t`` predicted as ``p``.

    A row with no examples stays all zero rather than dividing by zero.
    """
    cm = np.asarray(cm, dtype=np.float64)
    totals = cm.sum(axis=1, keepdims=True)
    return np.divide(cm, totals, out=np.zeros_like(cm), where=totals > 0)


def misclassified_frame(proba: np.ndarray, y_true: np.ndarray, *, top: int = 3) -> pd.DataFrame:
    """One row per wrong prediction, most confident mistakes first.

    ``proba: (n, k)`` predicted probabilities, ``y_true: (n,)``. Columns: ``index`` (row in the test
    set), ``true``, ``predicted``, ``confidence`` (probability of the prediction), ``p_true``
    (probability given to the right answer), and ``top_classes``/``top_probs`` (the ``top`` best guesses).
    """
    proba = np.asarray(proba)
    y_true = np.asarray(y_true).astype(np.int64)
    if proba.ndim != 2 or proba.shape[0] != y_true.shape[0]:
        raise ValueError(f"proba (n, k) and y_true (n,) disagree: {proba.shape} vs {y_true.shape}")
    pred = proba.argmax(axis=1)
    wrong = np.flatnonzero(pred != y_true)
    p = proba[wrong]
    order = np.argsort(-p, axis=1, kind="stable")[:, :top]
    rows = np.arange(len(wrong))
    frame = pd.DataFrame({
        "index": wrong,
        "true": y_true[wrong],
        "predicted": pred[wrong],
        "confidence": p[rows, pred[wrong]],
        "p_true": p[rows, y_true[wrong]],
        "top_classes": list(order),
        "top_probs": list(np.take_along_axis(p, order, axis=1)),
    })
    # Stable sort: equal confidences keep test-set order, so pages are reproducible.
    return frame.sort_values("confidence", ascending=False, kind="stable").reset_index(drop=True)


def cell_members(labels: np.ndarray, ev: Evaluation, true_digit: int, predicted_digit: int, limit: int) -> np.ndarray:
    """Test positions of the digits in one confusion cell, most confident first, at most ``limit``."""
    members = np.flatnonzero((np.asarray(labels) == true_digit) & (ev.predicted == predicted_digit))
    return members[np.argsort(-ev.confidence[members], kind="stable")][:limit]


def filter_mistakes(mistakes: pd.DataFrame, true_digits: list[int], predicted_digits: list[int], *,
                    most_confident_first: bool = True) -> pd.DataFrame:
    """The rows of ``misclassified_frame`` on these true and predicted digits (empty lists: any)."""
    if true_digits:
        mistakes = mistakes[mistakes["true"].isin(true_digits)]
    if predicted_digits:
        mistakes = mistakes[mistakes["predicted"].isin(predicted_digits)]
    return mistakes if most_confident_first else mistakes.iloc[::-1]


def page_count(n_rows: int, page_size: int) -> int:
    """How many pages of ``page_size`` rows ``n_rows`` fill (at least one)."""
    return max(1, -(-n_rows // page_size))


@dataclass(frozen=True)
class Abstention:
    """Answering only when the top probability reaches a threshold."""

    coverage: float  # share of test digits answered
    accuracy: float  # accuracy on the answered ones, NaN when none is
    answered: int  # digits answered
    abstained: int  # digits handed to a human


def abstain_below(ev: Evaluation, labels: np.ndarray, threshold: float) -> Abstention:
    """What the model does if it answers only when its confidence is at least ``threshold``."""
    answered = ev.confidence >= threshold
    accuracy = float((ev.predicted[answered] == np.asarray(labels)[answered]).mean()) if answered.any() else float("nan")
    return Abstention(coverage=float(answered.mean()), accuracy=accuracy, answered=int(answered.sum()),
                      abstained=int((~answered).sum()))
