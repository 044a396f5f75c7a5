"""The smallest change that makes the network answer a chosen class: projected gradient steps within [0, 1].

Each step is the smallest change that would do it if the network were linear around the current image
(a targeted DeepFool step, Moosavi-Dezfooli et al. 2016). With t the target, j the strongest other class,
m = z_j - z_t > 0 the gap still to close and w = d(z_t - z_j)/dx:

    w'  = w where the pixel can still move that way (ink can be added below 1, removed above 0), else 0
    x  <- clip(x + (1 + overshoot) (m + margin) / |w'|^2  w',  0, 1)        the step, projected into [0, 1]

The network is not linear, so this repeats until t wins or ``max_steps`` run out (or stalls where no pixel
can move the gap: every ReLU unit switched off, say; the flip then reports failure). Then the change
delta = x_new - x is shrunk along itself by bisection (x + s delta stays in [0, 1] for s in [0, 1]) to
the smallest s that still gives t: the steps' overshoot is not counted in the size reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nn.explain.gradients import logit_difference_gradient
from nn.model import MLP

MAX_STEPS = 50  # the budget: the tests and the page report how many digits flip within it
OVERSHOOT = 0.02
MARGIN = 1e-3  # aim a little past the tie, so a step lands on the target's side
SHRINK_ROUNDS = 12  # bisection on the scale of the change: 2^-12 of its size
VISIBLE = 0.1  # a pixel changed by more than this (a tenth of full ink) counts as visibly changed


@dataclass(frozen=True)
class Flip:
    """Per image (n rows): ``x_new`` (n, 784) in [0, 1]; ``success`` (n,) whether the target won within the
    budget; ``steps`` (n,) steps taken; ``predicted`` (n,) the answer for ``x_new``."""

    x: np.ndarray
    x_new: np.ndarray
    target: np.ndarray
    success: np.ndarray
    steps: np.ndarray
    predicted: np.ndarray

    @property
    def delta(self) -> np.ndarray:
        """(n, 784) the change: x_new - x."""
        return self.x_new - self.x

    @property
    def l2(self) -> np.ndarray:
        """(n,) the size of the change, sqrt(sum delta^2), in units of full-ink pixels."""
        return np.sqrt((self.delta ** 2).sum(axis=1))

    @property
    def visible_pixels(self) -> np.ndarray:
        """(n,) pixels changed by more than ``VISIBLE``."""
        return (np.abs(self.delta) > VISIBLE).sum(axis=1)


def _gap(logits: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(m, j): the strongest other class j per row and how far its logit is above the target's."""
    others = logits.copy()
    others[np.arange(len(target)), target] = -np.inf
    j = others.argmax(axis=1)
    rows = np.arange(len(target))
    return logits[rows, j] - logits[rows, target], j


def smallest_flip(model: MLP, X: np.ndarray, target: int | np.ndarray, *, max_steps: int = MAX_STEPS,
                  overshoot: float = OVERSHOOT) -> Flip:
    """For each row of ``X: (n, 784)`` in [0, 1], a nearby image in [0, 1] the network answers ``target`` for."""
    X = np.clip(np.asarray(model.check_X(X), dtype=np.float64), 0.0, 1.0)
    n = X.shape[0]
    target = np.broadcast_to(np.asarray(target), (n,)).astype(np.intp)
    if n and (target.min() < 0 or target.max() >= model.config.n_classes):
        raise ValueError(f"target must be a class in [0, {model.config.n_classes}), got {target!r}")
    x = X.copy()
    steps = np.zeros(n, np.int64)
    for _ in range(max_steps):
        logits = model.forward(x.astype(model.dtype)).astype(np.float64)
        rows = np.flatnonzero(logits.argmax(axis=1) != target)             # the network does not answer t yet
        if rows.size == 0:
            break
        gap, j = _gap(logits[rows], target[rows])
        xa = x[rows]
        w = logit_difference_gradient(model, xa.astype(model.dtype), target[rows], j).astype(np.float64)
        movable = ((w > 0) & (xa < 1)) | ((w < 0) & (xa > 0))              # the pixel can move along w
        w = np.where(movable, w, 0.0)
        norm2 = (w ** 2).sum(axis=1)
        size = np.divide(gap + MARGIN, norm2, out=np.zeros_like(norm2), where=norm2 > 0)
        x[rows] = np.clip(xa + ((1 + overshoot) * size)[:, None] * w, 0.0, 1.0)
        steps[rows] += 1
    x = _shrink(model, X, x, target)
    predicted = model.forward(x.astype(model.dtype)).argmax(axis=1)
    return Flip(x=X, x_new=x, target=target, success=predicted == target, steps=steps, predicted=predicted)


def _shrink(model: MLP, X: np.ndarray, x: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per row, X + s (x - X) with the smallest s in (0, 1] (to 2^-SHRINK_ROUNDS) that still gives the target."""
    wins = lambda z: model.forward(z.astype(model.dtype)).argmax(axis=1) == target  # noqa: E731
    ok = wins(x)
    lo, hi = np.zeros(len(X)), np.ones(len(X))                            # the target wins at s = hi
    for _ in range(SHRINK_ROUNDS):
        mid = (lo + hi) / 2
        at_mid = wins(X + mid[:, None] * (x - X))
        hi = np.where(ok & at_mid, mid, hi)
        lo = np.where(ok & ~at_mid, mid, lo)
    return np.where(ok[:, None], X + hi[:, None] * (x - X), x)
