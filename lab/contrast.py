"""Why this answer and not another, and what would change it: one digit, its answer and the class the learner picks.

Used by Draw (your drawing against any digit) and Evaluate (a mistake against its true label). The math is in
nn/explain/saliency.py (integrated gradients) and nn/explain/flip.py (the smallest flip).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lab.labels import noun
from nn.explain.flip import MAX_STEPS, VISIBLE, smallest_flip
from nn.explain.saliency import IG_STEPS, integrated_gradients
from nn.losses import softmax

SIDE = 28
GREY_LEVEL = 0.5 / 255  # a change smaller than half a grey level does not show in an 8-bit picture


@dataclass(frozen=True)
class Contrast:
    """Digit ``predicted`` against ``other`` for one image. Maps are (28, 28).

    ``attribution``: each pixel's share of the margin z_predicted - z_other (integrated gradients against a
    blank image); ``margin`` at the image, ``margin_blank`` at a blank image. The flip: ``new_image`` in
    [0, 1], ``change`` = new - old, ``success`` (the network answers ``other`` for it), ``steps``, its size
    ``l2``, ``visible`` (pixels changed by more than ``VISIBLE``), ``changed`` (by a grey level or more),
    ``new_proba`` (10,) the probabilities for the new image.
    """

    predicted: int
    other: int
    attribution: np.ndarray
    margin: float
    margin_blank: float
    new_image: np.ndarray
    change: np.ndarray
    success: bool
    steps: int
    l2: float
    visible: int
    changed: int
    new_proba: np.ndarray

    @property
    def explained(self) -> float:
        """What the map adds up to: margin - margin_blank, up to the midpoint rule's error."""
        return float(self.attribution.sum())


def contrast(model: Any, x: np.ndarray, predicted: int, other: int) -> Contrast:
    """``x: (784,)`` (or (1, 784)) in [0, 1]: why ``predicted`` rather than ``other``, and the smallest flip to ``other``."""
    if predicted == other:
        raise ValueError(f"pick {noun(article=True)} other than the answer to contrast it with")
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    ig = integrated_gradients(model, x, predicted, other, steps=IG_STEPS)
    flip = smallest_flip(model, x[None, :], other, max_steps=MAX_STEPS)
    delta = flip.delta[0]
    logits = model.forward(flip.x_new.astype(model.dtype)).astype(np.float64)
    return Contrast(
        predicted=int(predicted), other=int(other), attribution=ig.pixels.reshape(SIDE, SIDE), margin=ig.margin,
        margin_blank=ig.margin_baseline, new_image=flip.x_new[0].reshape(SIDE, SIDE),
        change=delta.reshape(SIDE, SIDE), success=bool(flip.success[0]), steps=int(flip.steps[0]),
        l2=float(flip.l2[0]), visible=int(flip.visible_pixels[0]), changed=int((np.abs(delta) >= GREY_LEVEL).sum()),
        new_proba=softmax(logits)[0])


def default_other(proba: np.ndarray, predicted: int, label: int | None = None) -> int:
    """The class to contrast with by default: the true label when the answer is wrong, else the runner-up."""
    if label is not None and label != predicted:
        return int(label)
    order = np.argsort(-np.asarray(proba), kind="stable")
    return int(order[1] if order[0] == predicted else order[0])


__all__ = ["GREY_LEVEL", "IG_STEPS", "MAX_STEPS", "VISIBLE", "Contrast", "contrast", "default_other"]
