"""Hidden-layer activations: relu, leaky_relu, sigmoid, tanh.

Each activation ``f`` comes with its derivative written in terms of its own
output ``a = f(z)``:

    relu        f'(z) = 1 if a > 0 else 0
    leaky_relu  f'(z) = 1 if a > 0 else slope        (0 <= slope <= 1, so sign(a) = sign(z))
    sigmoid     f'(z) = a (1 - a)
    tanh        f'(z) = 1 - a^2

Why through ``a`` and not ``z``: the training pass can then overwrite each
pre-activation ``Z`` with ``A = f(Z)`` in place and still run backward, so
it keeps one (n, k) buffer per layer instead of two.

Both functions write into ``out`` (which may be the input itself) and return
it, so the hot loop allocates nothing. Shapes are batch-first, ``(n, k)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Activation:
    """An elementwise nonlinearity and its derivative.

    ``forward(z, out)`` writes ``f(z)`` into ``out``; ``derivative(a, out)``
    writes ``f'(z)`` into ``out`` given ``a = f(z)``. Both return ``out``.
    """

    name: str
    forward: Callable[[np.ndarray, np.ndarray], np.ndarray]
    derivative: Callable[[np.ndarray, np.ndarray], np.ndarray]

    def __call__(self, z: np.ndarray) -> np.ndarray:
        """``f(z)`` as a new array (convenient outside the hot loop)."""
        return self.forward(z, np.empty_like(z))

    def deriv(self, a: np.ndarray) -> np.ndarray:
        """``f'(z)`` as a new array, given ``a = f(z)``."""
        return self.derivative(a, np.empty_like(a))


def relu(z: np.ndarray, out: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0, out=out)


def relu_derivative(a: np.ndarray, out: np.ndarray) -> np.ndarray:
    # The comparison writes 0.0 / 1.0 straight into the float buffer: no boolean temporary.
    return np.greater(a, 0, out=out)


def make_leaky_relu(slope: float) -> Activation:
    """``max(z, slope z)``; for ``slope`` in [0, 1] this equals ``z if z > 0 else slope z``."""
    if not 0.0 <= slope <= 1.0:
        raise ValueError(f"leaky_relu slope must be in [0, 1], got {slope!r}")

    def forward(z: np.ndarray, out: np.ndarray) -> np.ndarray:
        if out is z:
            scaled = z * slope  # the one place that allocates: z is about to be overwritten
            return np.maximum(z, scaled, out=out)
        np.multiply(z, slope, out=out)
        return np.maximum(z, out, out=out)

    def derivative(a: np.ndarray, out: np.ndarray) -> np.ndarray:
        np.greater(a, 0, out=out)  # 1 where active, 0 elsewhere
        out *= 1.0 - slope
        out += slope  # 1 where active, slope elsewhere
        return out

    return Activation("leaky_relu", forward, derivative)


def sigmoid(z: np.ndarray, out: np.ndarray) -> np.ndarray:
    # 1 / (1 + exp(-z)) overflows exp for z < -88 in float32. The identity
    # sigmoid(z) = (1 + tanh(z / 2)) / 2 is exact, never overflows, and works in place.
    np.multiply(z, 0.5, out=out)
    np.tanh(out, out=out)
    out += 1.0
    out *= 0.5
    return out


def sigmoid_derivative(a: np.ndarray, out: np.ndarray) -> np.ndarray:
    if out is a:
        raise ValueError("sigmoid_derivative needs out to differ from a")
    np.subtract(1.0, a, out=out)
    out *= a
    return out


def tanh(z: np.ndarray, out: np.ndarray) -> np.ndarray:
    return np.tanh(z, out=out)


def tanh_derivative(a: np.ndarray, out: np.ndarray) -> np.ndarray:
    np.multiply(a, a, out=out)
    return np.subtract(1.0, out, out=out)


RELU = Activation("relu", relu, relu_derivative)
SIGMOID = Activation("sigmoid", sigmoid, sigmoid_derivative)
TANH = Activation("tanh", tanh, tanh_derivative)


def get_activation(name: str, leaky_slope: float = 0.01) -> Activation:
    """The activation called ``name``; ``leaky_slope`` is used only by leaky_relu."""
    if name == "relu":
        return RELU
    if name == "leaky_relu":
        return make_leaky_relu(leaky_slope)
    if name == "sigmoid":
        return SIGMOID
    if name == "tanh":
        return TANH
    raise ValueError(f"unknown activation {name!r}; choose relu, leaky_relu, sigmoid or tanh")
