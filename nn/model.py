"""The multilayer perceptron: forward pass, backward pass by hand, in the order you would derive them.

For layers ``l = 1 .. L`` and a batch ``X`` of n images, one per row (batch first):

    H_0 = X                              X: (n, 784), pixels in [0, 1]
    Z_l = H_{l-1} W_l + b_l              W_l: (fan_in, fan_out), b_l: (fan_out,), Z_l: (n, fan_out)
    A_l = f(Z_l)                         hidden layers l < L only (relu, tanh, ...: nn/activations.py)
    H_l = A_l * M_l                      M_l: dropout mask, 0 or 1/keep per unit, while training; else 1
    p   = softmax(Z_L)                   the output layer's Z_L are the logits (n, 10)
    loss = -(1/n) sum_i log p_{i, y_i}   mean cross-entropy (nn/losses.py)

Backward, the chain rule from the loss down, starting with ``dZ_L = (p - Y) / n`` (Y: one-hot labels):

    dW_l     = H_{l-1}^T dZ_l            (fan_in, fan_out): every input times every unit's error
    db_l     = sum_i dZ_l[i]             (fan_out,)
    dH_{l-1} = dZ_l W_l^T                (n, fan_in): the error sent back to the layer below
    dZ_{l-1} = dH_{l-1} * M_{l-1} * f'(Z_{l-1})

Each line below computes one of these lines. This file is the reference: readable, allocating, NumPy
only. The trainer runs the same arithmetic through ``nn/engine/`` (preallocated buffers, fused in-place
steps, teams of threads or processes), and tests/test_engine_equals_textbook.py proves the two equal.

The parameters live in one flat buffer, ``W_1, b_1, W_2, b_2, ...`` back to back; ``weights[l]`` and
``biases[l]`` are views into it (so an optimizer may update the whole network at once). Update them in
place; use :meth:`MLP.set_params` to load values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nn.activations import Activation, get_activation
from nn.config import ModelConfig
from nn.init import init_weight
from nn.losses import softmax, softmax_cross_entropy

ROWS_AT_ONCE = 4096  # inference takes this many rows at a time, so memory stays small for 10,000 images


@dataclass(frozen=True)
class LayerTrace:
    """One layer's values for a batch: ``pre`` = Z (n, k), ``post`` = f(Z) (n, k); softmax for the output."""

    pre: np.ndarray
    post: np.ndarray


@dataclass(frozen=True)
class Cache:
    """What the forward pass keeps for backward, per layer l = 1 .. L (index l - 1).

    ``inputs[l - 1]`` = H_{l-1} (n, fan_in); per hidden layer, ``pre`` = Z_l, ``acts`` = A_l = f(Z_l)
    and ``masks`` = M_l (None without dropout).
    """

    inputs: list[np.ndarray]
    pre: list[np.ndarray]
    acts: list[np.ndarray]
    masks: list[np.ndarray | None]


def param_count(config: ModelConfig) -> int:
    """Number of trainable numbers: sum over layers of fan_in * fan_out + fan_out."""
    sizes = config.layer_sizes
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


class MLP:
    """A multilayer perceptron built from a :class:`ModelConfig`, its weights drawn from ``rng``."""

    def __init__(self, config: ModelConfig, rng: np.random.Generator):
        if not isinstance(config, ModelConfig):
            raise ValueError(f"config must be a ModelConfig, got {type(config).__name__}")
        if not isinstance(rng, np.random.Generator):
            raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        self.config = config
        self.dtype = np.dtype(config.dtype)
        self.activations: list[Activation] = [get_activation(a, config.leaky_slope) for a in config.activations]
        self.keep: list[float] = [1.0 - p for p in config.dropouts]  # probability a hidden unit stays
        self._params = np.zeros(param_count(config), self.dtype)
        self.weights, self.biases = self.views(self._params)
        for W in self.weights:
            W[...] = init_weight(*W.shape, config.init, rng, scale=config.init_scale, dtype=self.dtype)
        # biases stay zero: the random weights already break the symmetry between units

    def views(self, flat: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Cut a flat buffer of :func:`param_count` numbers into W_1, b_1, W_2, b_2, ..., back to back."""
        weights, biases, at = [], [], 0
        sizes = self.config.layer_sizes
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            weights.append(flat[at : at + fan_in * fan_out].reshape(fan_in, fan_out))
            at += fan_in * fan_out
            biases.append(flat[at : at + fan_out])
            at += fan_out
        return weights, biases

    # ------------------------------------------------------------------ parameters

    @property
    def n_layers(self) -> int:
        """Number of weight layers L (hidden layers + 1)."""
        return len(self.weights)

    def parameters(self) -> list[np.ndarray]:
        """Live views ``[W_1, b_1, ..., W_L, b_L]``: what an optimizer updates in place."""
        return [a for pair in zip(self.weights, self.biases) for a in pair]

    def get_params(self) -> list[np.ndarray]:
        """A copy of ``[W_1, b_1, ..., W_L, b_L]`` (e.g. the last good weights)."""
        return [a.copy() for a in self.parameters()]

    def set_params(self, params: list[np.ndarray]) -> None:
        """Copy values from ``[W_1, b_1, ..., W_L, b_L]`` into the live arrays (references stay valid)."""
        live = self.parameters()
        if len(params) != len(live):
            raise ValueError(f"expected {len(live)} arrays (W and b per layer), got {len(params)}")
        for i, (target, value) in enumerate(zip(live, params)):
            if np.shape(value) != target.shape:
                raise ValueError(f"array {i} has shape {np.shape(value)}, expected {target.shape}")
        for target, value in zip(live, params):
            np.copyto(target, value, casting="same_kind")

    def all_finite(self) -> bool:
        """True when no weight or bias is NaN or infinite."""
        return bool(np.isfinite(self._params).all())

    # ------------------------------------------------------------------ forward

    def forward(self, X: np.ndarray) -> np.ndarray:
        """Logits Z_L (n, 10) for images X (n, 784) or (n, 28, 28): no dropout, nothing kept."""
        X = self.check_X(X)
        logits = np.empty((X.shape[0], self.config.n_classes), self.dtype)
        for start in range(0, X.shape[0], ROWS_AT_ONCE):
            H = X[start : start + ROWS_AT_ONCE]
            for W, b, f in zip(self.weights, self.biases, self.activations):
                H = f(H @ W + b)                                                # H_l = f(H_{l-1} W_l + b_l)
            logits[start : start + ROWS_AT_ONCE] = H @ self.weights[-1] + self.biases[-1]  # Z_L
        return logits

    def forward_cached(self, X: np.ndarray, rng: np.random.Generator | None = None) -> tuple[np.ndarray, Cache]:
        """Logits (n, 10) and the :class:`Cache` backward needs. With ``rng``, dropout is on.

        The masks are drawn from ``rng`` layer by layer, as ``U < keep`` scaled by 1/keep
        (inverted dropout: the expected H_l is A_l, so nothing changes at test time).
        """
        X = self.check_X(X)
        cache = Cache(inputs=[X], pre=[], acts=[], masks=[])
        H = X
        for l, f in enumerate(self.activations):
            Z = H @ self.weights[l] + self.biases[l]                          # Z_l = H_{l-1} W_l + b_l
            A = f(Z)                                                          # A_l = f(Z_l)
            M = None
            if rng is not None and self.keep[l] < 1:
                U = rng.random(A.shape, dtype=self.dtype)
                M = (U < self.keep[l]).astype(self.dtype) * (1.0 / self.keep[l])  # M_l: 0 or 1/keep
            H = A if M is None else A * M                                     # H_l = A_l * M_l
            cache.pre.append(Z)
            cache.acts.append(A)
            cache.masks.append(M)
            cache.inputs.append(H)
        logits = H @ self.weights[-1] + self.biases[-1]                       # Z_L, the logits
        return logits, cache

    # ------------------------------------------------------------------ backward

    def backward(self, cache: Cache, dZ: np.ndarray, *, to_input: bool = False):
        """Gradients from ``dZ`` = dL/dZ_L (n, 10): lists dW (W_l's shapes) and db, and dL/dX if ``to_input``.

        Returns ``(dW, db, dX)``; ``dX`` (n, 784) is None unless ``to_input``.
        """
        dW: list[np.ndarray] = [None] * self.n_layers  # type: ignore[list-item]
        db: list[np.ndarray] = [None] * self.n_layers  # type: ignore[list-item]
        dX = None
        for l in reversed(range(self.n_layers)):
            dW[l] = cache.inputs[l].T @ dZ                                    # dW_l = H_{l-1}^T dZ_l
            db[l] = dZ.sum(axis=0)                                            # db_l = sum_i dZ_l[i]
            if l == 0:
                if to_input:
                    dX = dZ @ self.weights[0].T                               # dL/dX = dZ_1 W_1^T
                break
            dH = dZ @ self.weights[l].T                                       # dH_{l-1} = dZ_l W_l^T
            if cache.masks[l - 1] is not None:
                dH = dH * cache.masks[l - 1]                                  # dropped units pass nothing back
            dZ = dH * self.activations[l - 1].deriv(cache.acts[l - 1])        # dZ_{l-1} = dH * f'(Z_{l-1})
        return dW, db, dX

    def loss_and_gradients(
        self, X: np.ndarray, y: np.ndarray, *, rng: np.random.Generator | None = None
    ) -> tuple[float, list[np.ndarray], list[np.ndarray]]:
        """Mean cross-entropy on (X, y) and its gradients dL/dW_l, dL/db_l. Dropout is on when ``rng`` is given."""
        X = self.check_X(X)
        y = self.check_y(y, X.shape[0])
        logits, cache = self.forward_cached(X, rng)                           # forward
        loss, dZ = softmax_cross_entropy(logits, y)                           # loss, and dZ_L = (p - Y) / n
        dW, db, _ = self.backward(cache, dZ)                                  # backward
        return loss, dW, db

    # ------------------------------------------------------------------ reading the network

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities p = softmax(Z_L), (n, 10); each row sums to 1."""
        logits = self.forward(X)
        return softmax(logits, out=logits)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted class (n,) int: the largest logit."""
        return np.argmax(self.forward(X), axis=1)

    def forward_trace(self, X: np.ndarray) -> list[LayerTrace]:
        """Every layer's Z and f(Z) for X, output layer last (its post is softmax)."""
        logits, cache = self.forward_cached(X)
        traces = [LayerTrace(pre=Z, post=A) for Z, A in zip(cache.pre, cache.acts)]
        return traces + [LayerTrace(pre=logits, post=softmax(logits))]

    def input_gradient(self, X: np.ndarray, class_index: int) -> np.ndarray:
        """d logit_c / d X (n, 784): how each pixel would move the score of class c. Backward from dZ_L = e_c."""
        if isinstance(class_index, bool) or not isinstance(class_index, (int, np.integer)):
            raise ValueError(f"class_index must be an integer, got {class_index!r}")
        if not 0 <= class_index < self.config.n_classes:
            raise ValueError(f"class_index must be in [0, {self.config.n_classes}), got {class_index!r}")
        logits, cache = self.forward_cached(X)
        dZ = np.zeros_like(logits)
        dZ[:, class_index] = 1.0
        return self.backward(cache, dZ, to_input=True)[2]

    # ------------------------------------------------------------------ checking inputs

    def check_X(self, X: np.ndarray) -> np.ndarray:
        """X as (n, 784) floats in the model's dtype; (n, 28, 28) images are flattened. Refuses the rest."""
        X = np.asarray(X)
        if X.ndim == 3 and X.shape[1] * X.shape[2] == self.config.input_size:
            X = X.reshape(X.shape[0], -1)
        if X.ndim != 2 or X.shape[1] != self.config.input_size:
            raise ValueError(f"X must have shape (n, {self.config.input_size}), got {X.shape}")
        if not np.issubdtype(X.dtype, np.floating):
            raise ValueError(f"X must hold floats scaled to [0, 1] (x / 255), got dtype {X.dtype}")
        return np.asarray(X, dtype=self.dtype)

    def check_y(self, y: np.ndarray, n: int) -> np.ndarray:
        """y as n integer labels in [0, 10). Refuses the rest."""
        y = np.asarray(y)
        if y.shape != (n,) or not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"y must be {n} integer labels, got shape {y.shape} dtype {y.dtype}")
        if n and (y.min() < 0 or y.max() >= self.config.n_classes):
            raise ValueError(f"labels must be in [0, {self.config.n_classes}), got {y.min()}..{y.max()}")
        return y
