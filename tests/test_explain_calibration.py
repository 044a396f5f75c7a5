"""Calibration: reliability bins against a hand count, ECE of a calibrated predictor, a known temperature."""

from __future__ import annotations

import numpy as np
import pytest

from nn.explain.calibration import (T_MAX, T_MIN, expected_calibration_error, fit_temperature, nll, reliability,
                                    tempered)


def sampled_labels(proba: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One label per row drawn from that row's probabilities: a predictor calibrated by construction."""
    cumulative = np.cumsum(proba, axis=1)
    u = rng.random((len(proba), 1)) * cumulative[:, -1:]
    return (u > cumulative).sum(axis=1)


def test_bins_and_ece_against_a_hand_count() -> None:
    # Four bins of width 0.25; confidences 0.35, 0.4 (bin 1), 0.6 (bin 2), 0.9, 1.0 (bin 3).
    proba = np.array([[0.35, 0.33, 0.32], [0.4, 0.35, 0.25], [0.2, 0.6, 0.2], [0.05, 0.05, 0.9],
                      [1.0, 0.0, 0.0]])
    labels = np.array([0, 2, 1, 0, 0])  # right: row 0, 2, 4; wrong: row 1, 3
    r = reliability(proba, labels, n_bins=4)
    np.testing.assert_array_equal(r.counts, [0, 2, 1, 2])
    assert np.isnan(r.accuracy[0]) and np.isnan(r.confidence[0])
    np.testing.assert_allclose(r.confidence[1:], [0.375, 0.6, 0.95])
    np.testing.assert_allclose(r.accuracy[1:], [0.5, 1.0, 0.5])
    expected = (2 * abs(0.5 - 0.375) + 1 * abs(1.0 - 0.6) + 2 * abs(0.5 - 0.95)) / 5
    assert r.ece == pytest.approx(expected)


def test_a_calibrated_predictor_has_an_ece_near_zero_and_an_overconfident_one_does_not() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, (200_000, 10))
    proba = tempered(logits, 1.0)
    labels = sampled_labels(proba, rng)
    assert expected_calibration_error(proba, labels) < 0.005
    sharper = tempered(logits, 0.5)  # the same answers, said more confidently than they are right
    assert expected_calibration_error(sharper, labels) > 0.05


@pytest.mark.parametrize("true_t", [0.4, 1.0, 2.5, 7.0])
def test_temperature_scaling_recovers_a_known_temperature(true_t: float) -> None:
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 4, (100_000, 10))
    labels = sampled_labels(tempered(logits, true_t), rng)
    fitted = fit_temperature(logits, labels)
    assert fitted == pytest.approx(true_t, rel=0.03)
    # The fit is the minimum of the loss: a little either side is worse.
    assert nll(logits, labels, fitted) < min(nll(logits, labels, fitted * 1.05), nll(logits, labels, fitted / 1.05))
    assert expected_calibration_error(tempered(logits, fitted), labels) < 0.01


def test_temperature_stops_at_its_bounds() -> None:
    logits = np.array([[3.0, 0.0], [0.0, 3.0]])
    assert fit_temperature(logits, np.array([0, 1])) == T_MIN  # always right: sharper is always better
    assert fit_temperature(logits, np.array([1, 0])) == T_MAX  # always wrong: the flattest allowed


def test_temperature_never_changes_the_answer() -> None:
    logits = np.random.default_rng(2).normal(0, 2, (500, 10))
    for t in (0.1, 1.0, 30.0):
        np.testing.assert_array_equal(tempered(logits, t).argmax(axis=1), logits.argmax(axis=1))


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_a_temperature_that_is_not_positive_is_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="temperature"):
        tempered(np.zeros((1, 10)), bad)


def test_mismatched_or_out_of_range_labels_are_refused() -> None:
    with pytest.raises(ValueError, match="disagree"):
        reliability(np.full((3, 10), 0.1), np.zeros(2, int))
    with pytest.raises(ValueError, match="labels"):
        reliability(np.full((3, 10), 0.1), np.array([0, 1, 10]))
    with pytest.raises(ValueError, match="at least one"):
        fit_temperature(np.zeros((0, 10)), np.zeros(0, int))
