"""Weight initialisation: he, xavier (glorot), normal. Biases start at zero.

Why scale at all: with ``Z = X W`` each unit sums ``fan_in`` products, so the
variance of ``Z`` is ``fan_in * Var(W)`` times the variance of the inputs.
Choosing ``Var(W)`` to cancel that keeps signals (and gradients) about the same
size from layer to layer, instead of exploding or vanishing with depth.

* he (He et al. 2015): normal with ``std = sqrt(2 / fan_in)``; the 2 makes up
  for ReLU zeroing half its inputs.
* xavier / glorot (Glorot & Bengio 2010): uniform on ``[-l, l]`` with
  ``l = sqrt(6 / (fan_in + fan_out))``, i.e. ``Var = 2 / (fan_in + fan_out)``,
  a compromise between the forward and the backward pass; suits tanh/sigmoid.
* normal: ``std = scale``, the classic small-random-numbers start (for
  experiments: too small and deep nets barely learn).

Samples are drawn in float64 and then cast, so a float32 and a float64 network
built from the same seed hold the same weights (up to rounding).
"""

from __future__ import annotations

import math

import numpy as np

SCHEMES = ("he", "xavier", "glorot", "normal")


def init_weight(
    fan_in: int,
    fan_out: int,
    scheme: str,
    rng: np.random.Generator,
    *,
    scale: float = 0.01,
    dtype: str | np.dtype = "float32",
) -> np.ndarray:
    """A weight matrix W: (fan_in, fan_out) drawn from ``rng`` by ``scheme``."""
    if fan_in < 1 or fan_out < 1:
        raise ValueError(f"fan_in and fan_out must be positive, got {(fan_in, fan_out)!r}")
    if scheme == "he":
        w = rng.normal(0.0, math.sqrt(2.0 / fan_in), size=(fan_in, fan_out))
    elif scheme in ("xavier", "glorot"):
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        w = rng.uniform(-limit, limit, size=(fan_in, fan_out))
    elif scheme == "normal":
        if not scale > 0:
            raise ValueError(f"normal init needs a positive scale, got {scale!r}")
        w = rng.normal(0.0, scale, size=(fan_in, fan_out))
    else:
        raise ValueError(f"unknown init {scheme!r}; choose one of {', '.join(SCHEMES)}")
    return w.astype(dtype, copy=False)
