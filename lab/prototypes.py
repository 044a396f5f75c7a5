"""Inspect's prototypes: the ten digits as the network would draw them, beside the average training digit of each.

The ascent is nn/explain/prototypes.py; here it starts from the Data page's class means (0..255) and,
for a first-layer unit, from the average of those ten means: "the average digit".
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from lab.evaluation import frozen
from nn.explain.prototypes import PrototypeParams, Prototypes, class_prototypes, prototypes


def digit_prototypes(model: Any, means: np.ndarray, params: PrototypeParams) -> Prototypes:
    """The ten classes' prototypes from ``means: (10, 28, 28)`` (0..255); arrays read-only."""
    result = class_prototypes(model, np.asarray(means, dtype=np.float64).reshape(10, -1) / 255.0, params)
    frozen(result.images, result.values, result.objective)
    return result


def unit_prototype(model: Any, means: np.ndarray, unit: int, params: PrototypeParams) -> tuple[Prototypes, float]:
    """The input that most excites first-layer ``unit``'s weighted input, from the average digit; read-only.

    A unit's input moves less per unit of ink than a digit's score, so the same penalties would wash its
    picture out: they are divided by ``gain`` = (mean norm of the ten scores' gradients at their class means)
    / (norm of the unit's gradient), which is the same as scaling the unit's input up by ``gain``.
    Returns the prototypes and the gain.
    """
    means = np.asarray(means, dtype=np.float64).reshape(10, -1) / 255.0
    score_slope = np.mean([np.linalg.norm(model.input_gradient(means[c:c + 1], c)) for c in range(10)])
    unit_slope = float(np.linalg.norm(model.weights[0][:, unit]))           # d z_unit / dx = W_1[:, unit]
    gain = float(score_slope / unit_slope) if unit_slope > 0 else 1.0
    scaled = dataclasses.replace(params, l2=params.l2 / gain, blur=params.blur / gain)
    result = prototypes(model, means.mean(axis=0, keepdims=True), 0, [unit], scaled)
    frozen(result.images, result.values, result.objective)
    return result, gain
