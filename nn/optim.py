"""Optimizers: SGD, momentum, Nesterov, Adam, AdamW.

The :class:`Optimizer` base class owns everything the rules share: the loop
over parameters, the step count, the learning rate (settable between steps:
``opt.lr = 0.01``) and weight decay. Each subclass owns exactly one update
rule, written for one parameter array ``p`` with gradient ``g`` (the layout of
scikit-learn's ``neural_network/_stochastic_optimizers.py``):

    SGD        p <- p - lr g
    Momentum   v <- mu v - lr g;            p <- p + v
    Nesterov   v <- mu v - lr g;            p <- p + mu v - lr g     (Sutskever et al. 2013)
    Adam       m <- b1 m + (1 - b1) g;      v <- b2 v + (1 - b2) g^2
               p <- p - lr m_hat / (sqrt(v_hat) + eps),
               m_hat = m / (1 - b1^t),  v_hat = v / (1 - b2^t)       (Kingma & Ba 2015)
               (stored without the (1 - b) factors, see :class:`Adam`)
    AdamW      Adam, with the weight decay applied to p directly        (Loshchilov & Hutter 2019)

Weight decay ``wd``: for sgd/momentum/nesterov/adam it is the L2 penalty
``(wd / 2) ||W||^2`` of the loss, so ``wd W`` is added to the gradient before
the rule runs (the grads passed to :meth:`Optimizer.step` are changed in
place). For AdamW it is decoupled: ``p <- p (1 - lr wd)`` before the Adam step,
so Adam's per-parameter scaling does not weaken it. Only weight matrices are
decayed, never biases: shrinking a bias towards zero does not make the function
any smoother, it only shifts units (the ``decay`` argument overrides this).

Speed: when the parameters are consecutive slices of one flat buffer (as
:class:`nn.model.MLP` lays them out), the rule runs once on the whole buffer:
the same elementwise arithmetic with a few NumPy calls per step instead of a
few per array. Every update is in place, into the arrays the caller holds.

The trainer calls :meth:`Optimizer.step` once per batch on one thread. With a team of
threads or processes (nn/parallel.py, nn/processes.py) it calls :meth:`Optimizer.begin_step`
instead and lets each member call :meth:`Optimizer.update_slice` for its slice of the flat
parameter buffer right after forming its gradient (cache-hot; bit-identical to ``step``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from nn.config import TrainConfig
from nn.processes import shared_zeros


def _check_number(name: str, value: float, low: float, high: float, *, low_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if (value <= low if low_open else value < low) or value > high:
        raise ValueError(f"{name} must be in {'(' if low_open else '['}{low}, {high}], got {value!r}")
    return float(value)


def _flat_base(arrays: Sequence[np.ndarray]) -> np.ndarray | None:
    """The 1-D buffer that ``arrays`` tile exactly, back to back in order, else None."""
    base = arrays[0].base if arrays else None
    if base is None or base.ndim != 1 or not base.flags.c_contiguous:
        return None
    start, item, pos = base.ctypes.data, base.itemsize, 0
    for a in arrays:
        if a.base is not base or a.dtype != base.dtype or not a.flags.c_contiguous:
            return None
        if a.ctypes.data - start != pos * item:
            return None
        pos += a.size
    return base if pos == base.size else None


class Optimizer:
    """Base class: the loop over parameters, the step count, weight decay.

    params: the arrays to update in place (e.g. ``model.parameters()``).
    decay: per array, whether weight decay applies (default: arrays with
    ndim >= 2, i.e. weight matrices and not biases).
    """

    n_buffers = 0  # per-parameter state arrays the rule needs (velocity, moments)
    decoupled_decay = False

    def __init__(
        self,
        params: Sequence[np.ndarray],
        *,
        lr: float,
        weight_decay: float = 0.0,
        decay: Sequence[bool] | None = None,
    ):
        self.params = list(params)
        if not self.params:
            raise ValueError("an optimizer needs at least one parameter array")
        for i, p in enumerate(self.params):
            if not isinstance(p, np.ndarray) or not np.issubdtype(p.dtype, np.floating):
                kind = p.dtype if isinstance(p, np.ndarray) else type(p).__name__
                raise ValueError(f"parameter {i} must be a float numpy array, got {kind}")
        self.lr = lr
        self.weight_decay = _check_number("weight decay", weight_decay, 0.0, 1.0)
        self.decay = [p.ndim >= 2 for p in self.params] if decay is None else [bool(d) for d in decay]
        if len(self.decay) != len(self.params):
            raise ValueError(f"decay lists {len(self.decay)} flags for {len(self.params)} parameters")
        self.t = 0  # steps taken

        # The rule runs on "groups": the one flat buffer behind all params if there is one, else
        # each param. State and scratch are allocated per group.
        self._flat = _flat_base(self.params)
        self._groups: list[np.ndarray] = [self._flat] if self._flat is not None else list(self.params)
        # Shared with a process team's workers (nn/processes.py), which update their rows in place.
        self._state = [[shared_zeros(g.shape, g.dtype) for _ in range(self.n_buffers)] for g in self._groups]
        self._scratch = [shared_zeros(g.shape, g.dtype) for g in self._groups]
        self._grad_flat = np.empty_like(self._flat) if self._flat is not None else None
        self._known: tuple[tuple[np.ndarray, ...], list[np.ndarray], list[np.ndarray]] = ((), [], [])
        self._slice_views: dict[tuple[int, int], tuple] = {}  # update_slice's views, per slice

    @property
    def lr(self) -> float:
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = _check_number("learning rate", value, 0.0, 100.0)

    def reset_state(self) -> None:
        """Forget velocities / moments and the step count (e.g. after restoring weights)."""
        self.t = 0
        for buffers in self._state:
            for b in buffers:
                b.fill(0)

    def _grads(self, grads: Sequence[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """(grads shaped like each param, grads laid out like the groups), checked once per set of arrays."""
        grads = list(grads)
        known, per_param, groups = self._known
        if len(grads) == len(known) and all(a is b for a, b in zip(grads, known)):
            return per_param, groups  # the same arrays as last step: layout already checked
        if len(grads) != len(self.params):
            raise ValueError(f"expected {len(self.params)} gradient arrays, got {len(grads)}")
        for i, (p, g) in enumerate(zip(self.params, grads)):
            if not isinstance(g, np.ndarray) or g.shape != p.shape:
                raise ValueError(f"gradient {i} has shape {np.shape(g)}, parameter has {p.shape}")
        if self._flat is None:
            grads = [g if g.flags.c_contiguous else np.ascontiguousarray(g) for g in grads]
            per_param, groups = grads, grads
        else:
            flat = _flat_base(grads)
            if flat is None or flat.size != self._flat.size:  # another layout: gather into one buffer
                flat, at = self._grad_flat, 0
                for g in grads:
                    flat[at : at + g.size] = g.reshape(-1)
                    at += g.size
                grads = None  # the copy must be refreshed every step: do not remember this layout
            per_param, at = [], 0
            for p in self.params:
                per_param.append(flat[at : at + p.size].reshape(p.shape))
                at += p.size
            groups = [flat]
        if grads is not None:
            self._known = (tuple(grads), per_param, groups)
        return per_param, groups

    def step(self, grads: Sequence[np.ndarray]) -> None:
        """One update of every parameter from ``grads`` (same order and shapes as ``params``)."""
        per_param, groups = self._grads(grads)
        for i, (p, g) in enumerate(zip(self.params, per_param)):
            self._decay(i, p, g)
        self.t += 1
        for job in zip(self._groups, groups, self._state, self._scratch):
            self._update(*job)

    def begin_step(self) -> None:
        """Start a step taken one slice at a time with :meth:`update_slice` (counts the step)."""
        self.t += 1

    def update_slice(self, grads: Sequence[np.ndarray], start: int, stop: int) -> None:
        """Update elements ``[start, stop)`` of the one flat buffer behind ``params``, as part of
        the step begun by :meth:`begin_step`.

        Updating disjoint slices that cover the buffer after one ``begin_step()`` is bit-identical
        to ``step(grads)``: every rule is elementwise and uses the same scalars. Why it exists: the
        members of a team (nn/parallel.py, nn/processes.py) each form the gradient of one slice of
        the parameters and update that slice right away, at the same time as the others, with a
        few NumPy calls, while its gradient is still in the CPU cache.
        """
        if self._flat is None:
            raise ValueError("update_slice needs parameters that tile one flat buffer (as MLP.parameters() do)")
        if not 0 <= start <= stop <= self._flat.size:
            raise ValueError(f"slice [{start}, {stop}) is outside the {self._flat.size} parameters")
        per_param, groups = self._grads(grads)
        if self.weight_decay > 0:  # the loop costs microseconds per step even with nothing to decay
            at = 0
            for i, (p, g) in enumerate(zip(self.params, per_param)):
                low, high = max(start, at), min(stop, at + p.size)
                if low < high:  # weight decay only where this param overlaps the slice
                    self._decay(i, p.reshape(-1)[low - at : high - at], g.reshape(-1)[low - at : high - at])
                at += p.size
        # The slice's views, made once: a team member updates the same slice every step.
        views = self._slice_views.get((start, stop))
        if views is None or views[0] is not groups[0]:
            views = (groups[0], self._flat[start:stop], groups[0][start:stop],
                     [buffer[start:stop] for buffer in self._state[0]], self._scratch[0][start:stop])
            self._slice_views[(start, stop)] = views
        self._update(*views[1:])

    def _decay(self, i: int, p: np.ndarray, g: np.ndarray) -> None:
        """Weight decay of ``params[i]`` (or rows of it): shrink p (decoupled) or add wd p to g (L2)."""
        if self.weight_decay > 0 and self.decay[i]:
            if self.decoupled_decay:
                p *= 1.0 - self.lr * self.weight_decay
            else:
                g += self.weight_decay * p

    def _update(self, p: np.ndarray, g: np.ndarray, state: list[np.ndarray], tmp: np.ndarray) -> None:
        """Apply the rule to one array ``p`` in place; ``tmp`` is scratch space of p's shape."""
        raise NotImplementedError


class SGD(Optimizer):
    """p <- p - lr g."""

    def _update(self, p, g, state, tmp):
        np.multiply(g, self.lr, out=tmp)
        p -= tmp


class Momentum(Optimizer):
    """Heavy ball: a velocity that accumulates past gradients. v <- mu v - lr g; p <- p + v."""

    n_buffers = 1

    def __init__(self, params, *, lr, momentum=0.9, weight_decay=0.0, decay=None):
        super().__init__(params, lr=lr, weight_decay=weight_decay, decay=decay)
        self.momentum = _check_number("momentum", momentum, 0.0, 0.999)

    def _update(self, p, g, state, tmp):
        (v,) = state
        v *= self.momentum
        np.multiply(g, self.lr, out=tmp)
        v -= tmp
        p += v


class Nesterov(Momentum):
    """Momentum that looks ahead: v <- mu v - lr g; p <- p + mu v - lr g."""

    def _update(self, p, g, state, tmp):
        (v,) = state
        v *= self.momentum
        np.multiply(g, self.lr, out=tmp)
        v -= tmp
        p -= tmp
        np.multiply(v, self.momentum, out=tmp)
        p += tmp


class Adam(Optimizer):
    """Per-parameter step sizes from running averages of g and g^2, bias-corrected.

    Stored state (the paper's m_t, v_t with the (1 - b) factors left out):

        M <- b1 M + g          so the paper's m_t = (1 - b1) M
        V <- b2 V + g^2        so the paper's v_t = (1 - b2) V

    Why: multiplying g by (1 - b1) and g^2 by (1 - b2) would cost two more
    passes over every array per step; as scalars they can be folded, together
    with the bias corrections, into the two numbers of the final update (see
    ``_update``). The step taken is the paper's, up to float rounding.
    """

    n_buffers = 2

    def __init__(self, params, *, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, decay=None):
        super().__init__(params, lr=lr, weight_decay=weight_decay, decay=decay)
        self.beta1 = _check_number("beta1", beta1, 0.0, 0.9999)
        self.beta2 = _check_number("beta2", beta2, 0.0, 0.99999)
        self.eps = _check_number("eps", eps, 0.0, 1.0, low_open=True)

    def _update(self, p, g, state, tmp):
        M, V = state
        b1, b2 = self.beta1, self.beta2
        M *= b1
        M += g
        np.multiply(g, g, out=tmp)
        V *= b2
        V += tmp
        # The paper's step lr m_hat / (sqrt(v_hat) + eps), with m_hat = (1 - b1) M / (1 - b1^t) and
        # sqrt(v_hat) = c sqrt(V), c = sqrt((1 - b2) / (1 - b2^t)), equals lr_t M / (sqrt(V) + eps_t):
        # every constant becomes one of two scalars, and the arrays see 10 passes instead of 14.
        c = math.sqrt((1.0 - b2) / (1.0 - b2**self.t))
        lr_t = self.lr * (1.0 - b1) / ((1.0 - b1**self.t) * c)
        np.sqrt(V, out=tmp)
        tmp += self.eps / c
        np.divide(M, tmp, out=tmp)
        tmp *= lr_t
        p -= tmp


class AdamW(Adam):
    """Adam with decoupled weight decay: p <- p (1 - lr wd), then the Adam step."""

    decoupled_decay = True


def make_optimizer(config: TrainConfig, params: Sequence[np.ndarray]) -> Optimizer:
    """The optimizer ``config.optimizer`` names, over ``params`` (e.g. ``model.parameters()``)."""
    name, lr, wd = config.optimizer, config.lr, config.weight_decay
    common = {"lr": lr, "weight_decay": wd}
    if name == "sgd":
        return SGD(params, **common)
    if name == "momentum":
        return Momentum(params, momentum=config.momentum, **common)
    if name == "nesterov":
        return Nesterov(params, momentum=config.momentum, **common)
    if name == "adam":
        return Adam(params, beta1=config.beta1, beta2=config.beta2, eps=config.eps, **common)
    if name == "adamw":
        return AdamW(params, beta1=config.beta1, beta2=config.beta2, eps=config.eps, **common)
    raise ValueError(f"unknown optimizer {name!r}; choose sgd, momentum, nesterov, adam or adamw")
