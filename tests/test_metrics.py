"""Metrics against small examples worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from nn.metrics import (
    abstention_curve,
    accuracy,
    class_metrics,
    confusion_matrix,
    most_confused_pairs,
    per_class_report,
)

# Three classes, eight examples:
#   true: 0 0 0 1 1 2 2 2
#   pred: 0 1 0 1 1 2 0 1
Y_TRUE = np.array([0, 0, 0, 1, 1, 2, 2, 2])
Y_PRED = np.array([0, 1, 0, 1, 1, 2, 0, 1])


def test_accuracy_counts_matches() -> None:
    assert accuracy(Y_TRUE, Y_PRED) == pytest.approx(5 / 8)
    assert np.isnan(accuracy(np.array([], int), np.array([], int)))


def test_confusion_matrix_rows_are_true_classes() -> None:
    cm = confusion_matrix(Y_TRUE, Y_PRED, n_classes=3)
    expected = np.array([
        [2, 1, 0],  # true 0: two right, one called 1
        [0, 2, 0],  # true 1: both right
        [1, 1, 1],  # true 2: one each
    ])
    np.testing.assert_array_equal(cm, expected)
    assert cm.dtype == np.int64


def test_confusion_matrix_default_ten_classes_and_bad_labels() -> None:
    cm = confusion_matrix(np.array([9, 3]), np.array([9, 4]))
    assert cm.shape == (10, 10) and cm[9, 9] == 1 and cm[3, 4] == 1 and cm.sum() == 2
    with pytest.raises(ValueError, match="10"):
        confusion_matrix(np.array([10]), np.array([0]))
    with pytest.raises(ValueError, match="differ in length"):
        confusion_matrix(np.array([1, 2]), np.array([1]))


def test_precision_recall_f1_by_hand() -> None:
    m = class_metrics(Y_TRUE, Y_PRED, n_classes=3)
    # class 0: predicted 3 times (2 right) -> P = 2/3; 3 true (2 found) -> R = 2/3; F1 = 2/3
    # class 1: predicted 4 times (2 right) -> P = 1/2; 2 true, both found -> R = 1;  F1 = 2/3
    # class 2: predicted once (right)      -> P = 1;   3 true, 1 found   -> R = 1/3; F1 = 1/2
    np.testing.assert_allclose(m.precision, [2 / 3, 1 / 2, 1])
    np.testing.assert_allclose(m.recall, [2 / 3, 1, 1 / 3])
    np.testing.assert_allclose(m.f1, [2 / 3, 2 / 3, 1 / 2])
    np.testing.assert_array_equal(m.support, [3, 2, 3])


def test_class_never_predicted_gets_zero_not_nan() -> None:
    m = class_metrics(np.array([0, 1]), np.array([0, 0]), n_classes=2)
    assert m.precision[1] == 0.0 and m.recall[1] == 0.0 and m.f1[1] == 0.0
    assert m.precision[0] == 0.5


def test_per_class_report_is_a_table_indexed_by_class() -> None:
    report = per_class_report(Y_TRUE, Y_PRED, n_classes=3)
    assert list(report.columns) == ["precision", "recall", "f1", "support"]
    assert report.index.name == "class" and list(report.index) == [0, 1, 2]
    assert report.loc[2, "recall"] == pytest.approx(1 / 3)
    assert report["support"].sum() == 8


def test_abstention_curve_by_hand() -> None:
    # Four examples with top probabilities 0.9 (right), 0.8 (wrong), 0.6 (right), 0.4 (wrong).
    proba = np.array([
        [0.9, 0.1, 0.0],
        [0.2, 0.8, 0.0],
        [0.6, 0.3, 0.1],
        [0.3, 0.4, 0.3],
    ])
    y = np.array([0, 0, 0, 0])
    curve = abstention_curve(proba, y, thresholds=np.array([0.0, 0.5, 0.7, 0.85, 0.95]))
    np.testing.assert_allclose(curve.coverage, [1.0, 0.75, 0.5, 0.25, 0.0])
    np.testing.assert_allclose(curve.accuracy[:4], [0.5, 2 / 3, 0.5, 1.0])
    assert np.isnan(curve.accuracy[4])  # nothing answered


def test_abstention_threshold_is_inclusive_and_default_grid() -> None:
    proba = np.array([[0.7, 0.3], [0.3, 0.7]])
    curve = abstention_curve(proba, np.array([0, 1]), thresholds=np.array([0.7]))
    assert curve.coverage[0] == 1.0
    default = abstention_curve(proba, np.array([0, 1]))
    assert default.thresholds.shape == (101,) and default.coverage[0] == 1.0 and default.coverage[-1] == 0.0


def test_most_confused_pairs_orders_by_count() -> None:
    cm = np.array([
        [50, 3, 0],
        [7, 40, 3],
        [0, 1, 60],
    ])
    assert most_confused_pairs(cm, k=3) == [(1, 0, 7), (0, 1, 3), (1, 2, 3)]
    assert most_confused_pairs(np.eye(3, dtype=int) * 5) == []  # no mistakes, no pairs
    with pytest.raises(ValueError, match="square"):
        most_confused_pairs(np.zeros((2, 3)))
