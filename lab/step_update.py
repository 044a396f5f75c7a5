"""The update with numbers, a step taken for real, and the gradient checked by finite differences.

All on the float64 copy the Step-through page works on (lab/step_through.py), with the textbook's
optimizer (nn/optim.py): the numbers a preview shows are the rule's own, computed by running the rule on
a one-number copy of the clicked weight and its state.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from lab.step_through import Batch, full_pass
from nn.losses import softmax, softmax_cross_entropy
from nn.model import MLP
from nn.optim import Adam, Optimizer


@dataclass(frozen=True)
class WeightUpdate:
    """What the optimizer does to one weight W_l[i, j] on this step: its rule's numbers before and after."""

    rule: str  # the optimizer's class name
    t: int  # the step this would be (1-based)
    lr: float
    weight: float
    grad: float  # dL/dW from backprop (weight decay, if any, is part of the rule's step)
    state_before: dict[str, float]  # velocity v, or moments m and v; empty for SGD
    state_after: dict[str, float]
    corrected: dict[str, float]  # Adam: m_hat, v_hat
    weight_after: float

    @property
    def change(self) -> float:
        return self.weight_after - self.weight


@dataclass(frozen=True)
class StepResult:
    """One real step on the batch: loss and probabilities of the true digits before and after."""

    loss_before: float
    loss_after: float
    probs_before: np.ndarray  # (n, 10)
    probs_after: np.ndarray


@dataclass(frozen=True)
class GradientCheck:
    """Backprop's dL/dW_l[i, j] against the central difference (L(w + eps) - L(w - eps)) / (2 eps)."""

    layer: int
    i: int
    j: int
    eps: float
    analytic: float
    numeric: float

    @property
    def rel_error(self) -> float:
        """|a - n| / (|a| + |n|): 0 when they agree; about 1e-10 or less is agreement in float64."""
        scale = abs(self.analytic) + abs(self.numeric)
        return abs(self.analytic - self.numeric) / scale if scale > 0 else 0.0


def param_index(layer: int) -> int:
    """Where W_l sits in ``model.parameters()`` = [W_1, b_1, W_2, ...]."""
    return 2 * (layer - 1)


def preview_update(opt: Optimizer, model: MLP, layer: int, i: int, j: int, grad: float) -> WeightUpdate:
    """The rule of ``opt`` applied to W_l[i, j] alone, with its own state: nothing in ``opt`` changes."""
    k = param_index(layer)
    flat = i * model.weights[layer - 1].shape[1] + j
    one = copy.copy(opt)  # the same class, hyperparameters, lr and step count
    one.params = [np.array([float(model.weights[layer - 1][i, j])])]
    one.decay = [opt.decay[k]]
    one.state = [{name: np.array([float(a.reshape(-1)[flat])]) for name, a in opt.state[k].items()}]
    before = {name: float(a[0]) for name, a in one.state[0].items()}
    weight = float(one.params[0][0])
    one.step([np.array([grad])])
    after = {name: float(a[0]) for name, a in one.state[0].items()}
    corrected = {}
    if isinstance(opt, Adam):
        corrected = {"m_hat": after["m"] / (1 - opt.beta1**one.t), "v_hat": after["v"] / (1 - opt.beta2**one.t)}
    return WeightUpdate(type(opt).__name__, one.t, opt.lr, weight, grad, before, after, corrected,
                        float(one.params[0][0]))


def take_step(model: MLP, opt: Optimizer, batch: Batch) -> StepResult:
    """Exactly one step of ``opt`` on ``batch`` (``opt`` is over ``model.parameters()``), before and after."""
    before = full_pass(model, batch)
    opt.step([g for pair in zip(before.dW, before.db) for g in pair])
    after = full_pass(model, batch)
    return StepResult(before.loss, after.loss, softmax(before.logits), softmax(after.logits))


def batch_loss(model: MLP, batch: Batch) -> float:
    return softmax_cross_entropy(model.forward(batch.X), batch.y)[0]


def gradient_check(model: MLP, batch: Batch, layer: int, i: int, j: int, eps: float = 1e-6,
                   analytic: float | None = None) -> GradientCheck:
    """Central difference of the batch loss in W_l[i, j] (restored after), next to backprop's value
    (``analytic``, when the caller already has it from a pass over the same weights)."""
    if not 0 < eps < 1:
        raise ValueError(f"eps must be between 0 and 1, got {eps!r}")
    W = model.weights[layer - 1]
    old = float(W[i, j])
    try:
        W[i, j] = old + eps
        up = batch_loss(model, batch)
        W[i, j] = old - eps
        down = batch_loss(model, batch)
    finally:
        W[i, j] = old
    if analytic is None:
        analytic = float(full_pass(model, batch).dW[layer - 1][i, j])
    return GradientCheck(layer, i, j, eps, analytic, (up - down) / (2 * eps))


def error_by_eps(model: MLP, batch: Batch, layer: int, i: int, j: int,
                 eps_values: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(eps, relative error) for eps from 1e-12 to 1e-1: rounding wins on the left, truncation on the right."""
    eps_values = np.logspace(-12, -1, 23) if eps_values is None else np.asarray(eps_values, float)
    analytic = float(full_pass(model, batch).dW[layer - 1][i, j])  # one backward pass, not one per eps
    errors = np.array([gradient_check(model, batch, layer, i, j, e, analytic).rel_error for e in eps_values])
    return eps_values, errors


def random_checks(model: MLP, batch: Batch, rng: np.random.Generator, count: int = 20,
                  eps: float = 1e-6) -> list[GradientCheck]:
    """``count`` weights drawn at random among those with a gradient on this batch, from every layer.

    A weight whose input is 0 on every digit (most of MNIST's border pixels) has a zero gradient both ways:
    a trivially right check that teaches nothing, so such weights are not drawn. Layers take turns, so a
    deep layer gets as many checks as the wide first one.
    """
    grads = full_pass(model, batch).dW
    checks = []
    for k in range(count):
        layer = k % model.n_layers + 1
        live = np.flatnonzero(np.abs(grads[layer - 1]) > 1e-12)
        if live.size == 0:
            continue
        i, j = np.unravel_index(int(rng.choice(live)), grads[layer - 1].shape)
        checks.append(gradient_check(model, batch, layer, int(i), int(j), eps, float(grads[layer - 1][i, j])))
    return checks
