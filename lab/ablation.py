"""Inspect's ablation: switch hidden units off (or scale them) and compare the test-set answers with the intact network.

    base = ablation_base(model, test)                 # once per model version: every hidden layer's activations
    result = ablate(model, base, {0: [3, 17]}, 0.0)   # hidden layer 1's units 3 and 17 switched off

The model's weights are never touched (nn/explain/ablation.py scales what a layer passes on), so the model
every other page shows stays intact.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from lab.evaluation import TestData, frozen
from nn import metrics
from nn.explain.ablation import dead_units, forward_from, hidden_activations, unit_contributions

CONTRIBUTION_SAMPLE = 1000  # test digits of one class averaged to rank units by contribution


@dataclass(frozen=True)
class AblationBase:
    """The intact network on the test set: activations per hidden layer (n, units), answers and scores."""

    acts: list[np.ndarray]
    labels: np.ndarray
    predicted: np.ndarray
    confusion: np.ndarray
    per_class: np.ndarray  # (10,) accuracy on each true digit (recall)


def ablation_base(model: Any, test: TestData, *, activations: bool = True) -> AblationBase:
    """What every ablation is compared with and starts from; arrays read-only (shared per model version).

    ``activations=False``: the intact network's answers only (``acts`` empty, a few KB instead of every hidden
    layer's activations of the test set), which is all that "nothing switched off" needs.
    """
    acts = hidden_activations(model, test.X) if activations else []
    predicted = np.asarray(model.forward(test.X).argmax(axis=1), dtype=np.int64)
    cm = metrics.confusion_matrix(test.labels, predicted, model.config.n_classes)
    per_class = metrics.class_metrics_from_confusion(cm).recall
    frozen(*acts, predicted, cm, per_class)
    return AblationBase(acts=acts, labels=test.labels, predicted=predicted, confusion=cm, per_class=per_class)


@dataclass(frozen=True)
class AblationResult:
    """The ablated network against the intact one on the test set."""

    accuracy: float
    accuracy_intact: float
    per_class: np.ndarray  # (10,)
    confusion: np.ndarray  # (10, 10), rows true
    confusion_delta: np.ndarray  # ablated minus intact
    predicted: np.ndarray  # (n,)
    flipped: np.ndarray  # test positions whose answer changed: broken first, then fixed, then wrong to wrong
    broken: int  # right before, wrong now
    fixed: int  # wrong before, right now
    seconds: float  # how long the ablated pass over the test set took


def scales_for(model: Any, off: dict[int, list[int]], scale: float) -> list[np.ndarray | None]:
    """One scale array per hidden layer: ``scale`` for the units listed in ``off[layer]``, 1 elsewhere."""
    n_hidden = model.n_layers - 1
    scales: list[np.ndarray | None] = [None] * n_hidden
    for layer, units in off.items():
        if not 0 <= layer < n_hidden:
            raise ValueError(f"hidden layer {layer + 1} does not exist (the model has {n_hidden})")
        units = np.asarray(sorted(set(int(u) for u in units)), dtype=np.intp)
        if units.size == 0:
            continue
        width = model.weights[layer].shape[1]
        if units.min() < 0 or units.max() >= width:
            raise ValueError(f"hidden layer {layer + 1} has units 0 to {width - 1}")
        s = np.ones(width, model.dtype)
        s[units] = scale
        scales[layer] = s
    return scales


def ablate(model: Any, base: AblationBase, off: dict[int, list[int]], scale: float = 0.0) -> AblationResult:
    """The test set through ``model`` with the units in ``off`` ({hidden layer: units}) multiplied by ``scale``."""
    scales = scales_for(model, off, scale)
    start = time.perf_counter()
    lowest = next((l for l, s in enumerate(scales) if s is not None), None)
    if lowest is None:
        predicted = base.predicted
    elif not base.acts:
        raise ValueError("this ablation base holds no activations: build it with activations=True")
    else:
        predicted = forward_from(model, base.acts[lowest], lowest, scales).argmax(axis=1).astype(np.int64)
    seconds = time.perf_counter() - start
    cm = metrics.confusion_matrix(base.labels, predicted, model.config.n_classes)
    was_right, is_right = base.predicted == base.labels, predicted == base.labels
    changed = predicted != base.predicted
    broken, fixed = changed & was_right & ~is_right, changed & ~was_right & is_right
    flipped = np.concatenate([np.flatnonzero(broken), np.flatnonzero(fixed),
                              np.flatnonzero(changed & ~broken & ~fixed)])
    return AblationResult(
        accuracy=metrics.accuracy(base.labels, predicted), accuracy_intact=metrics.accuracy(base.labels, base.predicted),
        per_class=metrics.class_metrics_from_confusion(cm).recall, confusion=cm, confusion_delta=cm - base.confusion,
        predicted=predicted, flipped=flipped, broken=int(broken.sum()), fixed=int(fixed.sum()), seconds=seconds)


def most_used_units(model: Any, test: TestData, layer: int, digit: int, k: int) -> np.ndarray:
    """The ``k`` units of hidden ``layer`` that give most to ``digit``'s score on test digits of that class."""
    rows = np.flatnonzero(test.labels == digit)[:CONTRIBUTION_SAMPLE]
    if rows.size == 0:
        return np.empty(0, dtype=np.intp)
    contribution = unit_contributions(model, test.X[rows], layer, digit)
    return np.argsort(-contribution, kind="stable")[:k]


def never_active(base: AblationBase, layer: int) -> np.ndarray:
    """Units of hidden ``layer`` that pass nothing on for any test digit (dead, for ReLU)."""
    return dead_units(base.acts[layer])


def describe(off: dict[int, list[int]]) -> str:
    """"hidden 1: units 3, 17; hidden 2: 40 units" — what is switched off, in one line."""
    parts = []
    for layer in sorted(off):
        units = sorted(off[layer])
        if not units:
            continue
        listed = ", ".join(map(str, units)) if len(units) <= 8 else f"{len(units)} units"
        parts.append(f"hidden {layer + 1}: {'unit' if len(units) == 1 else 'units'} {listed}"
                     if len(units) <= 8 else f"hidden {layer + 1}: {listed}")
    return "; ".join(parts) or "nothing"
