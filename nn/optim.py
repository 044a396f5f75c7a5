"""Optimizers: SGD, momentum, Nesterov, Adam, AdamW, each rule in its paper's notation.

The :class:`Optimizer` base owns what the rules share (the layout of scikit-learn's
``neural_network/_stochastic_optimizers.py``): the loop over the parameter arrays, the step count
``t``, the learning rate (settable between steps: ``opt.lr = 0.01``) and weight decay. Each subclass
writes one update, for one parameter array ``p`` with gradient ``g``:

    SGD        p <- p - lr g
    Momentum   v <- mu v - lr g;            p <- p + v
    Nesterov   v <- mu v - lr g;            p <- p + mu v - lr g         (Sutskever et al. 2013)
    Adam       m <- b1 m + (1 - b1) g;      v <- b2 v + (1 - b2) g^2      (Kingma & Ba 2015)
               m_hat = m / (1 - b1^t);      v_hat = v / (1 - b2^t)
               p <- p - lr m_hat / (sqrt(v_hat) + eps)
    AdamW      p <- p (1 - lr wd), then Adam                              (Loshchilov & Hutter 2019)

Weight decay ``wd``: for sgd/momentum/nesterov/adam it is the L2 penalty ``(wd / 2) ||W||^2`` added
to the loss, so ``wd W`` is added to the gradient before the rule. For AdamW it is decoupled, applied to
p directly, so Adam's per-parameter scaling does not weaken it. Only weight matrices are decayed, never
biases: shrinking a bias does not make the function any smoother, it only shifts units.

Every update is in place, into the arrays the caller holds (``model.parameters()``). The trainer runs
the same rules over one flat buffer at a time (nn/engine/flat_optim.py), proven equal by tests.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from nn.config import TrainConfig


def check_number(name: str, value: float, low: float, high: float, *, low_open: bool = False) -> float:
    """``value`` as a float if it is a finite number in [low, high] (or (low, high]); else a ValueError quoting it."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if (value <= low if low_open else value < low) or value > high:
        raise ValueError(f"{name} must be in {'(' if low_open else '['}{low}, {high}], got {value!r}")
    return float(value)


class Optimizer:
    """Base class: the loop over parameters, the step count, the learning rate, weight decay.

    params: the arrays to update in place (e.g. ``model.parameters()``). decay: per array, whether
    weight decay applies (default: arrays with ndim >= 2, the weight matrices).
    """

    decoupled_decay = False  # AdamW: decay p itself instead of adding wd p to the gradient

    def __init__(self, params: Sequence[np.ndarray], *, lr: float, weight_decay: float = 0.0,
                 decay: Sequence[bool] | None = None):
        self.params = list(params)
        if not self.params:
            raise ValueError("an optimizer needs at least one parameter array")
        for i, p in enumerate(self.params):
            if not isinstance(p, np.ndarray) or not np.issubdtype(p.dtype, np.floating):
                kind = p.dtype if isinstance(p, np.ndarray) else type(p).__name__
                raise ValueError(f"parameter {i} must be a float numpy array, got {kind}")
        self.lr = lr
        self.weight_decay = check_number("weight decay", weight_decay, 0.0, 1.0)
        self.decay = [p.ndim >= 2 for p in self.params] if decay is None else [bool(d) for d in decay]
        if len(self.decay) != len(self.params):
            raise ValueError(f"decay lists {len(self.decay)} flags for {len(self.params)} parameters")
        self.t = 0  # steps taken
        self.state: list[dict[str, np.ndarray]] = [{} for _ in self.params]  # per array: velocity, moments

    @property
    def lr(self) -> float:
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = check_number("learning rate", value, 0.0, 100.0)

    def reset_state(self) -> None:
        """Forget velocities / moments and the step count (e.g. after restoring weights)."""
        self.t = 0
        self.state = [{} for _ in self.params]

    def step(self, grads: Sequence[np.ndarray]) -> None:
        """One update of every parameter from ``grads`` (same order and shapes as ``params``)."""
        if len(grads) != len(self.params):
            raise ValueError(f"expected {len(self.params)} gradient arrays, got {len(grads)}")
        self.t += 1
        for p, g, state, decay in zip(self.params, grads, self.state, self.decay):
            if np.shape(g) != p.shape:
                raise ValueError(f"a gradient has shape {np.shape(g)}, its parameter {p.shape}")
            if decay and self.weight_decay > 0:
                if self.decoupled_decay:
                    p *= 1.0 - self.lr * self.weight_decay                 # p <- p (1 - lr wd)
                else:
                    g = g + self.weight_decay * p                          # g <- g + wd p
            self.update(p, g, state)

    def update(self, p: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray]) -> None:
        """The rule for one array ``p`` (in place); ``state`` holds its velocity or moments."""
        raise NotImplementedError


class SGD(Optimizer):
    """Plain gradient descent."""

    def update(self, p, g, state):
        p -= self.lr * g                                                   # p <- p - lr g


class Momentum(Optimizer):
    """Heavy ball: a velocity that accumulates past gradients."""

    def __init__(self, params, *, lr, momentum=0.9, weight_decay=0.0, decay=None):
        super().__init__(params, lr=lr, weight_decay=weight_decay, decay=decay)
        self.momentum = check_number("momentum", momentum, 0.0, 0.999)

    def update(self, p, g, state):
        v = state.setdefault("v", np.zeros_like(p))                        # v starts at 0
        v[...] = self.momentum * v - self.lr * g                           # v <- mu v - lr g
        p += v                                                             # p <- p + v


class Nesterov(Momentum):
    """Momentum that looks ahead: the step uses the velocity it is about to have."""

    def update(self, p, g, state):
        v = state.setdefault("v", np.zeros_like(p))
        v[...] = self.momentum * v - self.lr * g                           # v <- mu v - lr g
        p += self.momentum * v - self.lr * g                               # p <- p + mu v - lr g


class Adam(Optimizer):
    """Per-parameter step sizes from running averages of g and g^2, bias-corrected."""

    def __init__(self, params, *, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, decay=None):
        super().__init__(params, lr=lr, weight_decay=weight_decay, decay=decay)
        self.beta1 = check_number("beta1", beta1, 0.0, 0.9999)
        self.beta2 = check_number("beta2", beta2, 0.0, 0.99999)
        self.eps = check_number("eps", eps, 0.0, 1.0, low_open=True)

    def update(self, p, g, state):
        b1, b2, t = self.beta1, self.beta2, self.t
        m = state.setdefault("m", np.zeros_like(p))                        # first moment, starts at 0
        v = state.setdefault("v", np.zeros_like(p))                        # second moment, starts at 0
        m[...] = b1 * m + (1 - b1) * g                                     # m <- b1 m + (1 - b1) g
        v[...] = b2 * v + (1 - b2) * g * g                                 # v <- b2 v + (1 - b2) g^2
        m_hat = m / (1 - b1**t)                                            # bias corrections: m and v
        v_hat = v / (1 - b2**t)                                            # start at 0, not at E[g]
        p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)                 # p <- p - lr m_hat / (sqrt(v_hat) + eps)


class AdamW(Adam):
    """Adam with decoupled weight decay (the base class applies p <- p (1 - lr wd) first)."""

    decoupled_decay = True


RULES: dict[str, type[Optimizer]] = {"sgd": SGD, "momentum": Momentum, "nesterov": Nesterov, "adam": Adam,
                                     "adamw": AdamW}


def make_optimizer(config: TrainConfig, params: Sequence[np.ndarray]) -> Optimizer:
    """The optimizer ``config.optimizer`` names, over ``params`` (e.g. ``model.parameters()``)."""
    if config.optimizer not in RULES:
        raise ValueError(f"unknown optimizer {config.optimizer!r}; choose sgd, momentum, nesterov, adam or adamw")
    rule, common = RULES[config.optimizer], {"lr": config.lr, "weight_decay": config.weight_decay}
    if rule in (Momentum, Nesterov):
        return rule(params, momentum=config.momentum, **common)
    if rule in (Adam, AdamW):
        return rule(params, beta1=config.beta1, beta2=config.beta2, eps=config.eps, **common)
    return rule(params, **common)
