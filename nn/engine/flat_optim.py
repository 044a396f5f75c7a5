"""The optimizers' rules (nn/optim.py) run over one flat buffer at a time, fused, in place.

When the parameters are consecutive slices of one flat buffer (as :class:`nn.model.MLP` lays them out),
each rule runs once on the whole buffer: the same elementwise arithmetic with a few NumPy calls per step
instead of a few per array, into preallocated scratch space. With a team, each member updates its own
slice right after forming its gradient (:meth:`FlatOptimizer.update_slice`, bit-identical to ``step``).

A :class:`FlatOptimizer` wraps the textbook optimizer it speeds up and reads its hyperparameters
(lr, momentum, betas, eps, weight decay, t) from it; tests/test_engine_equals_textbook.py proves every
rule equal to the textbook's after 1, 3 and 10 steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from nn.config import TrainConfig
from nn.engine.processes import shared_zeros
from nn.optim import SGD, Adam, Momentum, Nesterov, Optimizer, make_optimizer


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


def _sgd(opt: SGD, p, g, state, tmp) -> None:
    np.multiply(g, opt.lr, out=tmp)
    p -= tmp


def _momentum(opt: Momentum, p, g, state, tmp) -> None:
    (v,) = state
    v *= opt.momentum
    np.multiply(g, opt.lr, out=tmp)
    v -= tmp
    p += v


def _nesterov(opt: Nesterov, p, g, state, tmp) -> None:
    (v,) = state
    v *= opt.momentum
    np.multiply(g, opt.lr, out=tmp)
    v -= tmp
    p -= tmp
    np.multiply(v, opt.momentum, out=tmp)
    p += tmp


def _adam(opt: Adam, p, g, state, tmp) -> None:
    """Adam with the moments stored without their (1 - b) factors: M = m / (1 - b1), V = v / (1 - b2).

    Multiplying g by (1 - b1) and g^2 by (1 - b2) would cost two more passes over every array per
    step; as scalars they fold, with the bias corrections, into the two numbers of the final update.
    """
    M, V = state
    b1, b2 = opt.beta1, opt.beta2
    M *= b1
    M += g
    np.multiply(g, g, out=tmp)
    V *= b2
    V += tmp
    # The paper's step lr m_hat / (sqrt(v_hat) + eps), with m_hat = (1 - b1) M / (1 - b1^t) and
    # sqrt(v_hat) = c sqrt(V), c = sqrt((1 - b2) / (1 - b2^t)), equals lr_t M / (sqrt(V) + eps_t):
    # every constant becomes one of two scalars, and the arrays see 10 passes instead of 14.
    c = math.sqrt((1.0 - b2) / (1.0 - b2**opt.t))
    lr_t = opt.lr * (1.0 - b1) / ((1.0 - b1**opt.t) * c)
    np.sqrt(V, out=tmp)
    tmp += opt.eps / c
    np.divide(M, tmp, out=tmp)
    tmp *= lr_t
    p -= tmp


# The fused rule and its number of state buffers, per textbook rule (subclasses first: Nesterov is a Momentum).
_FUSED: list[tuple[type, Callable, int]] = [(Nesterov, _nesterov, 1), (Momentum, _momentum, 1),
                                            (Adam, _adam, 2), (SGD, _sgd, 0)]


class FlatOptimizer:
    """The rule of ``opt`` (a textbook optimizer over ``model.parameters()``) on the flat buffer behind them.

    ``lr`` and ``t`` are the wrapped optimizer's (set either one).
    """

    def __init__(self, opt: Optimizer):
        self.opt = opt
        self.params = opt.params
        self._rule, n_buffers = next((rule, n) for kind, rule, n in _FUSED if isinstance(opt, kind))
        # The rule runs on "groups": the one flat buffer behind all params if there is one, else
        # each param. State and scratch are allocated per group.
        self._flat = _flat_base(self.params)
        self._groups: list[np.ndarray] = [self._flat] if self._flat is not None else list(self.params)
        # Shared with a process team's workers (nn/engine/processes.py), which update their rows in place.
        self._state = [[shared_zeros(g.shape, g.dtype) for _ in range(n_buffers)] for g in self._groups]
        self._scratch = [shared_zeros(g.shape, g.dtype) for g in self._groups]
        self._grad_flat = np.empty_like(self._flat) if self._flat is not None else None
        self._known: tuple[tuple[np.ndarray, ...], list[np.ndarray], list[np.ndarray]] = ((), [], [])
        self._slice_views: dict[tuple[int, int], tuple] = {}  # update_slice's views, per slice

    @property
    def lr(self) -> float:
        return self.opt.lr

    @lr.setter
    def lr(self, value: float) -> None:
        self.opt.lr = value

    @property
    def t(self) -> int:
        return self.opt.t

    @t.setter
    def t(self, value: int) -> None:
        self.opt.t = value

    def reset_state(self) -> None:
        """Forget velocities / moments and the step count (e.g. after restoring weights)."""
        self.opt.t = 0
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
        """One update of every parameter from ``grads`` (changed in place by L2 weight decay)."""
        per_param, groups = self._grads(grads)
        for i, (p, g) in enumerate(zip(self.params, per_param)):
            self._decay(i, p, g)
        self.opt.t += 1
        for p, g, state, tmp in zip(self._groups, groups, self._state, self._scratch):
            self._rule(self.opt, p, g, state, tmp)

    def begin_step(self) -> None:
        """Start a step taken one slice at a time with :meth:`update_slice` (counts the step)."""
        self.opt.t += 1

    def update_slice(self, grads: Sequence[np.ndarray], start: int, stop: int) -> None:
        """Update elements ``[start, stop)`` of the one flat buffer behind ``params``, as part of
        the step begun by :meth:`begin_step`.

        Updating disjoint slices that cover the buffer after one ``begin_step()`` is bit-identical
        to ``step(grads)``: every rule is elementwise and uses the same scalars.
        """
        if self._flat is None:
            raise ValueError("update_slice needs parameters that tile one flat buffer (as MLP.parameters() do)")
        if not 0 <= start <= stop <= self._flat.size:
            raise ValueError(f"slice [{start}, {stop}) is outside the {self._flat.size} parameters")
        per_param, groups = self._grads(grads)
        if self.opt.weight_decay > 0:  # the loop costs microseconds per step even with nothing to decay
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
        self._rule(self.opt, *views[1:])

    def textbook_state(self) -> list[dict[str, np.ndarray]]:
        """The rule's state per parameter array, as nn/optim.py keeps it (copies): Adam's m and v with their
        (1 - b) factors put back, a momentum's velocity v; nothing for SGD."""
        names = {_adam: ("m", "v"), _momentum: ("v",), _nesterov: ("v",), _sgd: ()}[self._rule]
        scale = {"m": 1.0 - getattr(self.opt, "beta1", 0.0), "v": 1.0 - getattr(self.opt, "beta2", 0.0)}
        if self._rule is not _adam:
            scale = {"v": 1.0}
        per_param: list[dict[str, np.ndarray]] = []
        at = 0
        for k, p in enumerate(self.params):
            if self._flat is not None:
                buffers, part = self._state[0], slice(at, at + p.size)
            else:
                buffers, part = self._state[k], slice(None)
            per_param.append({name: (b.reshape(-1)[part] * scale[name]).reshape(p.shape)
                              for name, b in zip(names, buffers)})
            at += p.size
        return per_param

    def _decay(self, i: int, p: np.ndarray, g: np.ndarray) -> None:
        """Weight decay of ``params[i]`` (or rows of it): shrink p (decoupled) or add wd p to g (L2)."""
        opt = self.opt
        if opt.weight_decay > 0 and opt.decay[i]:
            if opt.decoupled_decay:
                p *= 1.0 - opt.lr * opt.weight_decay
            else:
                g += opt.weight_decay * p


def make_flat_optimizer(config: TrainConfig, params: Sequence[np.ndarray]) -> FlatOptimizer:
    """The fused form of ``make_optimizer(config, params)``."""
    return FlatOptimizer(make_optimizer(config, params))
