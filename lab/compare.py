"""Paired A/B runs: run B repeats run A with one knob changed, and what that change did on the test set.

Pairing needs nothing new from the trainer: every random choice of a run comes from streams spawned
from its seed (split, initial weights, shuffling, dropout, augmentation; nn/trainer/trainer.py), so a
run with the same seed and one other knob changed sees the same split, the same batch order and the
same augmented pixels. Knobs that would change the split or the seed itself are not offered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lab.evaluation import Evaluation
from lab.params import SPECS, config_to_knobs, knobs_to_config
from nn.config import TrainConfig

# The knobs "run again with one change" offers, with the words the page uses for them.
CHANGEABLE = {
    "lr": "learning rate", "optimizer": "optimizer", "schedule": "learning-rate schedule",
    "batch_size": "batch size", "epochs": "epochs", "hidden": "hidden layers", "activation": "activation",
    "init": "initialisation", "dropout": "dropout", "l2": "L2 weight decay", "shift": "augmentation shift",
    "rotate": "augmentation rotation", "noise": "augmentation noise", "warmup": "warm-up epochs",
}


def one_change(config: TrainConfig, knob: str, value: Any) -> TrainConfig:
    """``config`` with ``knob`` set to ``value`` and everything else, the seed included, unchanged.

    A ValueError when the knob is not offered, the value does not change it, or the result is not a
    valid config (the message says which).
    """
    if knob not in CHANGEABLE:
        raise ValueError(f"{knob!r} cannot be changed in a paired run; choose one of {', '.join(CHANGEABLE)}")
    knobs = config_to_knobs(config)
    if knobs_to_config(knobs, base=config) != config:
        raise ValueError("this run's settings go beyond the Train page's knobs, so it cannot be repeated with "
                         "one change")
    if knobs[knob] == value:
        raise ValueError(f"the {CHANGEABLE[knob]} is already {SPECS[knob].render(value)}")
    knobs[knob] = value
    return knobs_to_config(knobs, base=config)


def change_text(config: TrainConfig, knob: str, value: Any) -> str:
    """The change in words: "learning rate 0.002 → 0.1"."""
    render = SPECS[knob].render
    return f"{CHANGEABLE[knob]} {render(config_to_knobs(config)[knob])} → {render(value)}"


@dataclass(frozen=True)
class Comparison:
    """Run B against run A on the same test digits."""

    confusion_diff: np.ndarray  # (10, 10) int64: B's confusion matrix minus A's
    recall_a: np.ndarray  # (10,) per true digit: share predicted right by A
    recall_b: np.ndarray
    fixed: np.ndarray  # test indices A got wrong and B right, B's most confident first
    broken: np.ndarray  # test indices A got right and B wrong, B's most confident first
    accuracy_a: float
    accuracy_b: float

    @property
    def recall_change(self) -> np.ndarray:
        """Per true digit, B's accuracy minus A's (a share: 0.01 is one percentage point)."""
        return self.recall_b - self.recall_a


def _recall(confusion: np.ndarray) -> np.ndarray:
    totals = confusion.sum(axis=1)
    return np.divide(np.diag(confusion), totals, out=np.zeros(len(totals)), where=totals > 0)


def compare(a: Evaluation, b: Evaluation, labels: np.ndarray) -> Comparison:
    """What changed from ``a`` to ``b`` (evaluations of two models on the same test set)."""
    labels = np.asarray(labels)
    if a.predicted.shape != b.predicted.shape or a.predicted.shape != labels.shape:
        raise ValueError("the two evaluations must be on the same test set")
    right_a, right_b = a.predicted == labels, b.predicted == labels

    def by_confidence(mask: np.ndarray) -> np.ndarray:
        idx = np.flatnonzero(mask)
        return idx[np.argsort(-b.confidence[idx], kind="stable")]

    return Comparison(
        confusion_diff=b.confusion.astype(np.int64) - a.confusion.astype(np.int64),
        recall_a=_recall(a.confusion), recall_b=_recall(b.confusion),
        fixed=by_confidence(~right_a & right_b), broken=by_confidence(right_a & ~right_b),
        accuracy_a=a.accuracy, accuracy_b=b.accuracy)
