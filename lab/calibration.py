"""Evaluate's calibration: the reliability of the test answers before and after one temperature fitted on validation.

The temperature is fitted on the run's validation split (training-file digits the run held out), never on the
test digits it is then judged on. That split is the trainer's, or, for a model file that kept its training
settings, drawn again the way the trainer draws it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lab.evaluation import Abstention, TestData, frozen
from lab.labels import noun
from nn.config import TrainConfig
from nn.data import split_indices, to_float
from nn.explain.calibration import N_BINS, Reliability, fit_temperature, nll, reliability, tempered

SPLIT_STREAM = 0  # the trainer spawns five streams from its seed; the first draws the split (nn/trainer)


@dataclass(frozen=True)
class CalibrationReport:
    """The test set's reliability before (``before``) and after (``after``) dividing the logits by ``temperature``.

    ``temperature``/``after``/``proba_after`` are None when no validation split is known.
    ``val_size``: digits the temperature was fitted on; ``val_nll``: their cross-entropy before and after.
    """

    before: Reliability
    temperature: float | None
    after: Reliability | None
    proba_after: np.ndarray | None  # (n, 10) float32, read-only
    val_size: int
    val_nll: tuple[float, float] | None


def validation_indices(val_idx: np.ndarray | None, meta: dict, n_train: int) -> np.ndarray | None:
    """The positions in the training file of the run's validation digits; None when they cannot be known.

    A live or finished run has them (its trainer's ``val_idx``, passed in). A model file with its ``train_config`` gets the
    same split again from its seed and ``val_size`` (tests/test_explain_calibration_lab.py checks it
    against the trainer). Anything else, or a config that does not parse, is None.
    """
    if val_idx is not None:
        return np.asarray(val_idx) if len(val_idx) else None
    try:
        config = TrainConfig.from_dict(meta["train_config"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    if not 0 < config.val_size < n_train:
        return None
    split_seed = np.random.SeedSequence(config.seed).spawn(5)[SPLIT_STREAM]
    return split_indices(n_train, config.val_size, np.random.default_rng(split_seed))[1]


def calibrate(model: Any, test: TestData, val_images: np.ndarray | None, val_labels: np.ndarray | None,
              n_bins: int = N_BINS) -> CalibrationReport:
    """Reliability of ``model`` on ``test``; with validation digits (uint8), a fitted temperature and after."""
    logits = model.forward(test.X).astype(np.float64)
    before = reliability(tempered(logits, 1.0), test.labels, n_bins)
    if val_images is None or val_labels is None or len(val_labels) == 0:
        return CalibrationReport(before, None, None, None, 0, None)
    val_logits = model.forward(to_float(val_images)).astype(np.float64)
    val_labels = np.asarray(val_labels).astype(np.int64)
    t = fit_temperature(val_logits, val_labels)
    proba_after = tempered(logits, t).astype(np.float32)
    frozen(proba_after)
    return CalibrationReport(
        before=before, temperature=t, after=reliability(proba_after, test.labels, n_bins),
        proba_after=proba_after,
        val_size=len(val_labels), val_nll=(nll(val_logits, val_labels), nll(val_logits, val_labels, t)))


def temperature_note(t: float) -> str:
    """One sentence on what the fitted temperature says about the network's confidence."""
    if t > 1.05:
        return (f"T = {t:.2f} > 1: the network is overconfident; dividing its scores by {t:.2f} softens its "
                f"probabilities until they match how often it is right on held-out {noun(plural=True)}.")
    if t < 0.95:
        return (f"T = {t:.2f} < 1: the network is underconfident; its probabilities are sharpened to match how "
                f"often it is right on held-out {noun(plural=True)}.")
    return f"T = {t:.2f}: the network's confidence already matches how often it is right; scaling changes little."


def calibrated_abstention(report: CalibrationReport, labels: np.ndarray, threshold: float) -> Abstention | None:
    """Answering only when the calibrated confidence reaches ``threshold`` (None without a temperature)."""
    if report.proba_after is None:
        return None
    confidence = report.proba_after.max(axis=1)
    answered = confidence >= threshold
    right = report.proba_after.argmax(axis=1) == np.asarray(labels)
    accuracy = float(right[answered].mean()) if answered.any() else float("nan")
    return Abstention(coverage=float(answered.mean()), accuracy=accuracy, answered=int(answered.sum()),
                      abstained=int((~answered).sum()))
