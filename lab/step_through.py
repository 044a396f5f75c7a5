"""One training step with the real numbers: forward, backward and the update for one unit, cell by cell.

Everything here works on a float64 copy of the learner's network (:func:`float64_copy`) and computes its
numbers with the textbook's own functions (``MLP.forward_cached``, ``MLP.backward``,
``softmax_cross_entropy``, the optimizer's ``update``), so what the Step-through page shows is what the
code computes. Layers are numbered as in the equations: l = 1 .. L, units j from 0.

    batch = Batch(X, y)                          # 1-8 digits, X: (n, 784) floats in [0, 1]
    fwd = unit_forward(model, batch, row, l, j)  # H_{l-1} * W_l[:, j], the sum, + b, z, f(z)
    out = output_step(model, batch, row)         # logits, exp, softmax, -log p_y
    bwd = unit_backward(model, batch, row, l, j) # delta from above, f'(z), dL/dW_l[:, j]
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from nn.losses import softmax_cross_entropy
from nn.model import MLP, Cache

TOP_TERMS = 8  # how many of a weighted sum's terms a page lists by size


@dataclass(frozen=True)
class Batch:
    """The digits a learner picked: X (n, 784) floats in [0, 1], labels y (n,)."""

    X: np.ndarray
    y: np.ndarray

    def __post_init__(self) -> None:
        if self.X.ndim != 2 or self.y.shape != (self.X.shape[0],) or not 1 <= self.X.shape[0] <= 64:
            raise ValueError(f"a batch is 1 to 64 images with one label each, got X {self.X.shape}, y {self.y.shape}")


@dataclass(frozen=True)
class Pass:
    """The textbook's forward and backward pass over a batch, kept whole: what every view reads."""

    logits: np.ndarray  # (n, 10)
    cache: Cache
    loss: float
    dZ_out: np.ndarray  # dL/dZ_L = (p - Y) / n, (n, 10)
    dW: list[np.ndarray]
    db: list[np.ndarray]
    deltas: list[np.ndarray]  # dL/dZ_l for l = 1 .. L (index l - 1), (n, fan_out)


@dataclass(frozen=True)
class UnitForward:
    """Unit j of layer l for one digit: z = sum_i H_{l-1,i} W_l[i, j] + b_j, then h = f(z)."""

    layer: int
    unit: int
    inputs: np.ndarray  # H_{l-1} of the digit, (fan_in,)
    weights: np.ndarray  # W_l[:, j], (fan_in,)
    products: np.ndarray  # inputs * weights, (fan_in,)
    top: np.ndarray  # indices of the largest |products|, largest first
    total: float  # sum of the products
    bias: float
    z: float
    activation: str  # the layer's f, or "none" for the output layer (its z is a logit)
    h: float


@dataclass(frozen=True)
class OutputStep:
    """The output for one digit: logits z_k, exp(z_k - max), their sum, p_k, and the loss -log p_y."""

    logits: np.ndarray
    exps: np.ndarray
    exp_sum: float
    probs: np.ndarray
    label: int
    loss: float


@dataclass(frozen=True)
class UnitBackward:
    """Unit j of layer l, backward: its delta for one digit and its gradients over the batch."""

    layer: int
    unit: int
    from_above: np.ndarray  # W_{l+1}[j, k] * delta_{l+1, k} per unit k above (empty for the output layer)
    above_top: np.ndarray  # indices of the largest |from_above|
    dH: float  # sum of from_above (for the output layer: dL/dz itself)
    fprime: float  # f'(z) (1 for the output layer)
    delta: float  # dL/dz_j = dH * f'(z)
    dW_column: np.ndarray  # dL/dW_l[:, j] over the whole batch, (fan_in,)
    db: float  # dL/db_j over the batch


def float64_copy(model: MLP) -> MLP:
    """The same network in float64 (its own arrays): the learner's model is never touched."""
    copy = MLP(replace(model.config, dtype="float64"), np.random.default_rng(0))
    copy.set_params([p.astype(np.float64) for p in model.parameters()])
    return copy


def full_pass(model: MLP, batch: Batch) -> Pass:
    """Forward, loss and backward of the textbook over ``batch`` (no dropout), every delta kept."""
    logits, cache = model.forward_cached(batch.X)
    loss, dZ = softmax_cross_entropy(logits, batch.y)
    dW, db, _ = model.backward(cache, dZ)
    deltas = [dZ]
    for l in range(model.n_layers - 1, 0, -1):  # the same chain rule as backward, kept per layer
        deltas.insert(0, (deltas[0] @ model.weights[l].T) * model.activations[l - 1].deriv(cache.acts[l - 1]))
    return Pass(logits, cache, loss, dZ, dW, db, deltas)


def check_unit(model: MLP, layer: int, unit: int) -> None:
    """A ValueError naming the bad layer or unit, else nothing."""
    if not 1 <= layer <= model.n_layers:
        raise ValueError(f"layer must be 1 to {model.n_layers}, got {layer}")
    width = model.weights[layer - 1].shape[1]
    if not 0 <= unit < width:
        raise ValueError(f"layer {layer} has units 0 to {width - 1}, got {unit}")


def unit_forward(model: MLP, p: Pass, row: int, layer: int, unit: int) -> UnitForward:
    """The weighted sum of unit ``unit`` in layer ``layer`` for digit ``row``, term by term."""
    check_unit(model, layer, unit)
    inputs = p.cache.inputs[layer - 1][row]
    weights = model.weights[layer - 1][:, unit]
    products = inputs * weights
    bias = float(model.biases[layer - 1][unit])
    total = float(products.sum())
    hidden = layer < model.n_layers
    z = float(p.cache.pre[layer - 1][row, unit]) if hidden else float(p.logits[row, unit])
    h = float(p.cache.acts[layer - 1][row, unit]) if hidden else z
    name = model.config.activations[layer - 1] if hidden else "none"
    top = np.argsort(-np.abs(products), kind="stable")[:TOP_TERMS]
    return UnitForward(layer, unit, inputs, weights, products, top, total, bias, z, name, h)


def output_step(p: Pass, batch: Batch, row: int) -> OutputStep:
    """Softmax and the loss for digit ``row``, with every exponential written out."""
    z = p.logits[row]
    exps = np.exp(z - z.max())  # shifted by the max, as the code does: the same p, no overflow
    probs = exps / exps.sum()
    label = int(batch.y[row])
    return OutputStep(z, exps, float(exps.sum()), probs, label, float(-np.log(probs[label])))


def unit_backward(model: MLP, p: Pass, row: int, layer: int, unit: int) -> UnitBackward:
    """Where unit ``unit`` of layer ``layer`` gets its error from, and what it makes of it."""
    check_unit(model, layer, unit)
    delta = float(p.deltas[layer - 1][row, unit])
    if layer == model.n_layers:
        from_above, dH, fprime = np.empty(0), delta, 1.0
    else:
        from_above = model.weights[layer][unit, :] * p.deltas[layer][row]  # W_{l+1}[j, k] delta_k
        dH = float(from_above.sum())
        fprime = float(model.activations[layer - 1].deriv(p.cache.acts[layer - 1][row : row + 1, unit])[0])
    top = np.argsort(-np.abs(from_above), kind="stable")[:TOP_TERMS]
    return UnitBackward(layer, unit, from_above, top, dH, fprime, delta,
                        p.dW[layer - 1][:, unit].copy(), float(p.db[layer - 1][unit]))
