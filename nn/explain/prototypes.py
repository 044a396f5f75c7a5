"""What a perfect 3 looks like to the network: the input that most excites a logit or a hidden unit.

Gradient ascent on the image (activation maximisation, Erhan et al. 2009; the regularisers of Yosinski
et al. 2015), from a start image x (the average digit), kept in [0, 1]. For a unit's value q(x) (a logit
or a hidden unit's weighted input), it maximises

    J(x) = q(x) - (l2 / 2) |x|^2 - (blur / 2) |x - B x|^2

B blurs with a Gaussian of width ``sigma`` pixels, so the last term penalises what blurring would remove:
speckle, the high frequencies a network reads but a person does not draw. The L2 term keeps ink only
where it pays. B is symmetric (a separable Gaussian with zero padding), so the gradient is

    dJ/dx = dq/dx - l2 x - blur (I - B)^2 x

Each step is x <- clip(x + eta dJ/dx, 0, 1), taken only if neither J nor q falls; otherwise eta is halved
and the step retried at the next iteration (a successful step lets eta grow by a quarter). So the unit's
value q rises monotonically, and the regularised objective with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nn.explain.gradients import gradients_below
from nn.model import MLP

SIDE = 28


@dataclass(frozen=True)
class PrototypeParams:
    """The ascent's settings, shown on the page next to the pictures."""

    steps: int = 60
    step_size: float = 0.05
    l2: float = 0.5
    blur: float = 5.0
    sigma: float = 1.0

    def __post_init__(self) -> None:
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or not 1 <= self.steps <= 5000:
            raise ValueError(f"steps must be an integer from 1 to 5000, got {self.steps!r}")
        for name in ("step_size", "l2", "blur", "sigma"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0 or (name in ("step_size", "sigma") and value == 0):
                raise ValueError(f"{name} must be a {'positive' if name in ('step_size', 'sigma') else 'non-negative'} "
                                 f"number, got {value!r}")


@dataclass(frozen=True)
class Prototypes:
    """Per row: ``images`` (n, 784) in [0, 1]; ``values`` (steps + 1, n) q after each step (row 0: the start);
    ``objective`` (steps + 1, n) J; ``params`` the settings used."""

    images: np.ndarray
    values: np.ndarray
    objective: np.ndarray
    params: PrototypeParams


def gaussian_blur_matrix(sigma: float, side: int = SIDE) -> np.ndarray:
    """(side, side) K with B(image) = K image K: a normalised Gaussian of width ``sigma``, zero-padded, symmetric."""
    radius = max(1, int(np.ceil(3 * sigma)))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    offsets = np.arange(side)[:, None] - np.arange(side)[None, :]
    return np.where(np.abs(offsets) <= radius, taps[np.clip(offsets + radius, 0, 2 * radius)], 0.0)


def _blur(x: np.ndarray, K: np.ndarray) -> np.ndarray:
    images = x.reshape(-1, SIDE, SIDE)
    return (K @ images @ K).reshape(x.shape)                               # K symmetric: B^T = B


def _value_and_gradient(model: MLP, x: np.ndarray, layer: int, units: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """q (n,) = Z_layer[i, units[i]] and dq/dx (n, 784)."""
    logits, cache = model.forward_cached(x.astype(model.dtype))
    Z = logits if layer == model.n_layers - 1 else cache.pre[layer]
    rows = np.arange(len(units))
    dZ = np.zeros_like(Z)
    dZ[rows, units] = 1.0
    return Z[rows, units].astype(np.float64), gradients_below(model, cache, layer, dZ)[0].astype(np.float64)


def objective_and_gradient(model: MLP, x: np.ndarray, layer: int, units: np.ndarray, params: PrototypeParams,
                           K: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """q (n,), J (n,) and dJ/dx (n, 784) at ``x`` for row i's unit ``units[i]``; ``K`` from gaussian_blur_matrix."""
    q, dq = _value_and_gradient(model, x, layer, units)
    rough = x - _blur(x, K)                                                # (I - B) x
    J = q - 0.5 * params.l2 * (x ** 2).sum(axis=1) - 0.5 * params.blur * (rough ** 2).sum(axis=1)
    return q, J, dq - params.l2 * x - params.blur * (rough - _blur(rough, K))  # dq - l2 x - blur (I - B)^2 x


def prototypes(model: MLP, start: np.ndarray, layer: int, units: np.ndarray | list[int],
               params: PrototypeParams = PrototypeParams()) -> Prototypes:
    """Row i climbs unit ``units[i]`` of weight layer ``layer`` (the output layer, L - 1, for class logits),
    from ``start[i]`` (n, 784) in [0, 1]."""
    x = np.clip(np.asarray(start, dtype=np.float64).reshape(-1, SIDE * SIDE), 0.0, 1.0).copy()
    units = np.asarray(units, dtype=np.intp).reshape(-1)
    if not 0 <= layer < model.n_layers or units.shape != (x.shape[0],):
        raise ValueError(f"need one unit per start image in weight layer 0..{model.n_layers - 1}")
    if units.size and (units.min() < 0 or units.max() >= model.weights[layer].shape[1]):
        raise ValueError(f"weight layer {layer} has units 0 to {model.weights[layer].shape[1] - 1}")
    K = gaussian_blur_matrix(params.sigma)
    eta = np.full(len(x), params.step_size)
    q, J, grad = objective_and_gradient(model, x, layer, units, params, K)
    values, objective = [q.copy()], [J.copy()]
    for _ in range(params.steps):
        trial = np.clip(x + eta[:, None] * grad, 0.0, 1.0)
        q_t, J_t, grad_t = objective_and_gradient(model, trial, layer, units, params, K)
        up = (J_t >= J) & (q_t >= q)                                       # keep only steps that lower neither
        x[up], q[up], J[up], grad[up] = trial[up], q_t[up], J_t[up], grad_t[up]
        eta = np.where(up, eta * 1.25, eta * 0.5)
        values.append(q.copy())
        objective.append(J.copy())
    return Prototypes(images=x, values=np.array(values), objective=np.array(objective), params=params)


def class_prototypes(model: MLP, class_means: np.ndarray, params: PrototypeParams = PrototypeParams()) -> Prototypes:
    """The ten digits' prototypes, each from its class's average image ``class_means`` (10, 784) in [0, 1]."""
    means = np.asarray(class_means, dtype=np.float64).reshape(model.config.n_classes, -1)
    return prototypes(model, means, model.n_layers - 1, np.arange(model.config.n_classes), params)
