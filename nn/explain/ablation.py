"""Switching hidden units off (or scaling them): the network's answers with some units' outputs multiplied by s.

Ablation changes what a hidden layer passes on, never the weights: with one scale per unit s_l (1 = intact,
0 = switched off),

    H_l = f(Z_l) * s_l        for every hidden layer l, then on through the layers above as usual.

Only the layers from the lowest scaled one upwards need recomputing, so the test set's activations of
that layer are computed once (``hidden_activations``) and each ablation costs the layers above it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nn.explain.gradients import gradients_below
from nn.model import MLP, ROWS_AT_ONCE

Scales = Sequence[np.ndarray | None]  # one (units,) array per hidden layer; None: that layer intact


def check_scales(model: MLP, scales: Scales) -> list[np.ndarray | None]:
    """``scales`` as a list with one (units,) float array or None per hidden layer; refuses the rest."""
    n_hidden = model.n_layers - 1
    if len(scales) != n_hidden:
        raise ValueError(f"need one scale array (or None) per hidden layer: {n_hidden}, got {len(scales)}")
    out: list[np.ndarray | None] = []
    for l, s in enumerate(scales):
        if s is None:
            out.append(None)
            continue
        s = np.asarray(s, dtype=model.dtype)
        if s.shape != (model.weights[l].shape[1],) or not np.isfinite(s).all():
            raise ValueError(f"scales of hidden layer {l + 1} must be {model.weights[l].shape[1]} finite numbers")
        out.append(s)
    return out


def hidden_activations(model: MLP, X: np.ndarray) -> list[np.ndarray]:
    """A_l = f(Z_l) of every hidden layer for X (no dropout): a list of (n, units) arrays, bottom first."""
    X = model.check_X(X)
    acts = [np.empty((X.shape[0], W.shape[1]), model.dtype) for W in model.weights[:-1]]
    for start in range(0, X.shape[0], ROWS_AT_ONCE):
        H = X[start: start + ROWS_AT_ONCE]
        for l, f in enumerate(model.activations):
            H = f(H @ model.weights[l] + model.biases[l])
            acts[l][start: start + ROWS_AT_ONCE] = H
    return acts


def forward_from(model: MLP, A: np.ndarray, layer: int, scales: Scales) -> np.ndarray:
    """Logits (n, 10) from hidden layer ``layer``'s intact activations ``A: (n, units)`` (0 = first hidden).

    ``A`` is scaled by ``scales[layer]``, and every hidden layer above by its own scales; scales below
    ``layer`` must be None (they would have changed ``A``).
    """
    scales = check_scales(model, scales)
    if not 0 <= layer < model.n_layers - 1:
        raise ValueError(f"layer must name a hidden layer, 0 to {model.n_layers - 2}, got {layer!r}")
    if any(s is not None for s in scales[:layer]):
        raise ValueError(f"units below hidden layer {layer + 1} are scaled: start from the lowest scaled layer")
    logits = np.empty((A.shape[0], model.config.n_classes), model.dtype)
    for start in range(0, A.shape[0], ROWS_AT_ONCE):
        H = A[start: start + ROWS_AT_ONCE]
        for l in range(layer, model.n_layers - 1):
            if l > layer:
                H = model.activations[l](H @ model.weights[l] + model.biases[l])
            if scales[l] is not None:
                H = H * scales[l]                                          # H_l = f(Z_l) * s_l
        logits[start: start + ROWS_AT_ONCE] = H @ model.weights[-1] + model.biases[-1]
    return logits


def forward_scaled(model: MLP, X: np.ndarray, scales: Scales) -> np.ndarray:
    """Logits (n, 10) for images X with hidden units scaled by ``scales``: the whole network, from the input."""
    if model.n_layers < 2:
        raise ValueError("the model has no hidden layer, so there is no unit to switch off")
    X = model.check_X(X)
    A0 = model.activations[0](X @ model.weights[0] + model.biases[0])
    return forward_from(model, A0, 0, scales)


def unit_contributions(model: MLP, X: np.ndarray, layer: int, digit: int) -> np.ndarray:
    """(units,) how much each unit of hidden layer ``layer`` gives to ``digit``'s logit, averaged over X's rows.

    Per digit image: activation x d logit / d activation, the first-order estimate of how far the logit
    would fall if that unit were switched off (exact for the last hidden layer, where the logit is linear
    in the activations).
    """
    if not 0 <= layer < model.n_layers - 1:
        raise ValueError(f"layer must name a hidden layer, 0 to {model.n_layers - 2}, got {layer!r}")
    if not 0 <= digit < model.config.n_classes:
        raise ValueError(f"digit must be in [0, {model.config.n_classes}), got {digit!r}")
    logits, cache = model.forward_cached(X)
    dZ = np.zeros_like(logits)
    dZ[:, digit] = 1.0
    dA = gradients_below(model, cache, model.n_layers - 1, dZ)[layer + 1]  # d logit / d A_layer
    return (cache.acts[layer] * dA).mean(axis=0)


def dead_units(acts: np.ndarray) -> np.ndarray:
    """The units (indices) whose activation is never above zero on any of the rows of ``acts: (n, units)``."""
    return np.flatnonzero(~(np.asarray(acts) > 0).any(axis=0))
