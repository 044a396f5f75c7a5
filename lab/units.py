"""What single units do: how often they are active, which digits a first-layer unit pushes, their order."""

from __future__ import annotations

import numpy as np

from nn.model import MLP, LayerTrace


def active_fraction(trace: LayerTrace) -> np.ndarray:
    """(k,) the share of digits on which each unit's pre-activation is positive.

    For ReLU that is exactly "the unit outputs something"; for tanh and sigmoid it means "above
    the midpoint", which is still a fair measure of how selective a unit is.
    """
    return (np.asarray(trace.pre) > 0).mean(axis=0)


def dead_fraction(trace: LayerTrace) -> float:
    """Share of the layer's units that are never active on any of the given digits."""
    return float((active_fraction(trace) == 0).mean())


def unit_class_effect(model: MLP, traces: list[LayerTrace], unit: int) -> np.ndarray:
    """(C,) how raising first-layer ``unit``'s activation by 1 moves each logit, averaged over digits.

    For each digit this is d logit / d a_unit = W_2[unit] D_2 W_3 ... D_{L-1} W_L, where D_l holds
    that digit's activation derivatives f'(z_l): the weights on paths through units that are
    switched off for that digit do not count. ``traces`` is ``model.forward_trace(X)`` for the digits.
    """
    n_hidden = model.n_layers - 1
    if n_hidden < 1:
        raise ValueError("the model has no hidden layer, so it has no first-layer units")
    if not 0 <= unit < model.weights[0].shape[1]:
        raise ValueError(f"unit must be in [0, {model.weights[0].shape[1]}), got {unit!r}")
    n = traces[0].post.shape[0]
    g = np.broadcast_to(model.weights[1][unit].astype(np.float64), (n, model.weights[1].shape[1]))
    for layer in range(1, n_hidden):
        post = traces[layer].post
        deriv = model.activations[layer].derivative(post, np.empty_like(post))
        g = (g * deriv) @ model.weights[layer + 1]
    return np.asarray(g, dtype=np.float64).mean(axis=0)


FILTER_ORDERS = ("weight norm", "how often active", "unit number")


def filter_order(W1: np.ndarray, active: np.ndarray, sort_by: str) -> np.ndarray:
    """First-layer units in the order the filter grid shows them (one of ``FILTER_ORDERS``).

    Strongest filters first, or the most often active first (never-active units last), or by number.
    """
    if sort_by == "weight norm":
        return np.argsort(-np.linalg.norm(W1, axis=0), kind="stable")
    if sort_by == "how often active":
        return np.argsort(-np.asarray(active), kind="stable")
    if sort_by == "unit number":
        return np.arange(np.asarray(W1).shape[1])
    raise ValueError(f"sort_by must be one of {FILTER_ORDERS}, got {sort_by!r}")


def unit_note(active_share: float, activation: str | None) -> str | None:
    """"dead" for a ReLU-like unit never active on the sample, "always" for one active on almost every digit.

    ``activation`` is the layer's (None for the output units of a model without a hidden layer).
    """
    if active_share == 0 and activation in ("relu", "leaky_relu"):
        return "dead"
    if active_share > 0.95:
        return "always"
    return None
