"""Why class a and not class b: integrated gradients of the logit difference, against a blank image.

The raw gradient d(z_a - z_b)/dx describes an infinitesimal change at this one image; on MNIST it is
speckle (border weights that training never moved, ReLU gates that switch on a single pixel).
Integrated gradients (Sundararajan et al. 2017) average it along the straight path from a baseline x0
to the image and weigh it by how far each pixel travelled:

    IG_i = (x_i - x0_i) * mean over t in (0, 1] of  d m / d x_i  at  x0 + t (x - x0),     m = z_a - z_b

With x0 the blank image (all paper):
- completeness: sum_i IG_i = m(x) - m(x0), so each pixel's number is its share of the margin;
- a blank pixel gets exactly 0 (it did not travel), so no speckle off the strokes;
- it is deterministic (no noise to sample, unlike SmoothGrad): the same map on every rerun.
The mean over t is a midpoint rule with ``steps`` points: one batch of ``steps`` images forward and back.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nn.explain.gradients import logit_difference_gradient
from nn.model import MLP

IG_STEPS = 32  # midpoint rule; the page prints how far from complete the sum comes out


@dataclass(frozen=True)
class Attribution:
    """``pixels``: (784,) each pixel's share of the margin m = z_a - z_b; ``margin``: m(x);
    ``margin_baseline``: m(x0). Completeness: ``pixels.sum()`` ~ ``margin - margin_baseline``."""

    pixels: np.ndarray
    margin: float
    margin_baseline: float

    @property
    def completeness_gap(self) -> float:
        """How far the sum of the map is from the margin it explains (0 in the limit of many steps)."""
        return float(self.pixels.sum() - (self.margin - self.margin_baseline))


def integrated_gradients(model: MLP, x: np.ndarray, a: int, b: int, *, steps: int = IG_STEPS,
                         baseline: np.ndarray | None = None) -> Attribution:
    """IG of z_a - z_b for one image ``x: (784,)`` against ``baseline`` (default: blank), in float64."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    x0 = np.zeros_like(x) if baseline is None else np.asarray(baseline, dtype=np.float64).reshape(x.shape)
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not 1 <= steps <= 4096:
        raise ValueError(f"steps must be an integer from 1 to 4096, got {steps!r}")
    t = (np.arange(steps) + 0.5) / steps                                   # midpoints of [0, 1]
    path = x0 + t[:, None] * (x - x0)                                      # (steps, 784)
    grads = logit_difference_gradient(model, path.astype(model.dtype), a, b).astype(np.float64)
    pixels = (x - x0) * grads.mean(axis=0)                                 # IG_i
    ends = model.forward(np.stack([x, x0]).astype(model.dtype)).astype(np.float64)
    return Attribution(pixels=pixels, margin=float(ends[0, a] - ends[0, b]),
                       margin_baseline=float(ends[1, a] - ends[1, b]))
