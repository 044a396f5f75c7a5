"""The chain rule from any layer down to the input: the gradient of a logit difference, or of one hidden unit.

``MLP.backward`` starts at the loss. Explanations start elsewhere: at the difference of two logits
(why 3 rather than 8?) or at one hidden unit's weighted input (what excites unit 17?). With the forward
pass's cache (no dropout) and ``dZ`` = d(quantity)/dZ_k for weight layer k (0-based, the output is L - 1):

    dH_k     = dZ_k W_k^T                  the gradient reaching layer k's input H_k
    dZ_{k-1} = dH_k * f'(Z_{k-1})          through the activation below it (H_k = A_{k-1} = f(Z_{k-1}))

down to dH_0 = d(quantity)/dX. The same two lines as MLP.backward, without the weight gradients.
"""

from __future__ import annotations

import numpy as np

from nn.model import MLP, Cache


def gradients_below(model: MLP, cache: Cache, layer: int, dZ: np.ndarray) -> list[np.ndarray]:
    """[dH_0, dH_1, .., dH_layer] for ``dZ``: (n, units of weight layer ``layer``) = d(quantity)/dZ_layer.

    ``dH_0`` is the gradient with respect to the input X (n, 784); ``dH_l`` for l >= 1 the gradient with
    respect to hidden layer l - 1's activations A_{l-1} (n, units). ``cache`` is from ``forward_cached`` (no rng).
    """
    if not 0 <= layer < model.n_layers:
        raise ValueError(f"layer must be in [0, {model.n_layers}), got {layer!r}")
    grads: list[np.ndarray] = [None] * (layer + 1)  # type: ignore[list-item]
    for l in reversed(range(layer + 1)):
        dH = dZ @ model.weights[l].T                                      # dH_l = dZ_l W_l^T
        grads[l] = dH
        if l > 0:
            dZ = dH * model.activations[l - 1].deriv(cache.acts[l - 1])   # dZ_{l-1} = dH_l * f'(Z_{l-1})
    return grads


def _classes(name: str, c: int | np.ndarray, n: int, n_classes: int) -> np.ndarray:
    c = np.broadcast_to(np.asarray(c), (n,))
    if not np.issubdtype(c.dtype, np.integer) or (n and (c.min() < 0 or c.max() >= n_classes)):
        raise ValueError(f"{name} must be class numbers in [0, {n_classes}), got {c!r}")
    return c.astype(np.intp)


def logit_difference_gradient(model: MLP, X: np.ndarray, a: int | np.ndarray, b: int | np.ndarray) -> np.ndarray:
    """d(z_a - z_b)/dX, (n, 784): where ink would raise class ``a``'s score over class ``b``'s (per row if arrays)."""
    logits, cache = model.forward_cached(X)
    n, k = logits.shape
    rows = np.arange(n)
    dZ = np.zeros_like(logits)
    dZ[rows, _classes("a", a, n, k)] += 1.0
    dZ[rows, _classes("b", b, n, k)] -= 1.0                               # a == b: the difference is 0
    return gradients_below(model, cache, model.n_layers - 1, dZ)[0]


def unit_gradient(model: MLP, X: np.ndarray, layer: int, unit: int) -> np.ndarray:
    """d Z_layer[:, unit]/dX, (n, 784): the gradient of one unit's weighted input (``layer`` L - 1: a logit)."""
    if not 0 <= layer < model.n_layers or not 0 <= unit < model.weights[layer].shape[1]:
        raise ValueError(f"no unit {unit!r} in weight layer {layer!r}")
    _, cache = model.forward_cached(X)
    dZ = np.zeros((cache.inputs[0].shape[0], model.weights[layer].shape[1]), model.dtype)
    dZ[:, unit] = 1.0
    return gradients_below(model, cache, layer, dZ)[0]
