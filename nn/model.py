"""The multilayer perceptron: forward pass, backward pass by hand, introspection.

For layers ``l = 1 .. L`` with ``H_0 = X`` (n, 784), batch-first:

    Z_l = H_{l-1} W_l + b_l          W_l: (fan_in, fan_out), b_l: (fan_out,)
    A_l = f_l(Z_l)                   hidden layers only; the output layer keeps Z_L as logits
    H_l = A_l * M_l / keep_l         inverted dropout while training (M_l: 0/1 mask), else H_l = A_l
    p   = softmax(Z_L),  loss = -(1/n) sum_i log p_{i, y_i}

Backward, from ``dZ_L = (p - Y) / n`` (see nn/losses.py):

    dW_l     = H_{l-1}^T dZ_l        (fan_in, fan_out)
    db_l     = sum over rows of dZ_l (fan_out,)
    dH_{l-1} = dZ_l W_l^T            (n, fan_in); not computed for l = 1 (nobody needs dL/dX)
    dZ_{l-1} = dH_{l-1} * M_{l-1} / keep * f'(A_{l-1})

Speed (the training pass is what the benchmark times):

* all parameters live in one flat float32 buffer, every ``W_l`` and ``b_l`` a view
  into it (and the same for the gradients), so an optimizer can update the whole
  network with a handful of NumPy calls instead of a handful per array;
* per batch size, one ``_Workspace`` of preallocated buffers; every step writes
  into them with ``out=`` and in-place operators, so the hot loop allocates
  almost nothing;
* the activation overwrites ``Z`` in place (derivatives are written through
  ``A``, see nn/activations.py), the loss overwrites the logits with their
  gradient, and the input gradient is skipped.
* :meth:`MLP.train_backward` can hand each layer to the optimizer the moment
  its gradient is final (``on_layer``), so the update reads gradient and
  weights while they are still in the CPU cache.
* with a thread team (nn/parallel.py), a large layer's work is cut by rows:
  batch rows in the forward pass, rows of ``W_l`` in the backward pass, where
  each thread also updates the rows whose gradient it just formed.

Parameters are updated in place only: ``model.weights[l]`` is a view that the
trainer, the optimizer and the UI all hold. Never rebind it; use
:meth:`MLP.set_params` to load values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from nn.activations import Activation, get_activation
from nn.config import ModelConfig
from nn.init import init_weight
from nn.losses import softmax, softmax_cross_entropy_counted
from nn.parallel import Team, for_each_share

_EVAL_CHUNK = 4096  # rows per block in inference, so a 60,000-image forward pass stays small in memory
_MAX_WORKSPACES = 4  # batch sizes kept warm (e.g. full batches, the last partial batch)


@dataclass(frozen=True)
class LayerTrace:
    """One layer's values for a batch: ``pre`` = Z (n, k), ``post`` = f(Z) (n, k).

    For the output layer ``post`` holds the softmax probabilities.
    """

    pre: np.ndarray
    post: np.ndarray


def param_count(config: ModelConfig) -> int:
    """Number of trainable numbers: sum over layers of fan_in * fan_out + fan_out."""
    sizes = config.layer_sizes
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


_OPTIMIZER_STATE = {"sgd": 0, "momentum": 1, "nesterov": 1, "adam": 2, "adamw": 2}


def memory_estimate(config: ModelConfig, batch_size: int, optimizer: str = "adam") -> int:
    """Bytes a training run needs: parameters, gradients, optimizer state, batch buffers.

    Parameters and gradients count once each; the optimizer keeps per-parameter
    state (Adam/AdamW: two moments; momentum/Nesterov: one velocity) plus one
    scratch buffer. Per batch: the input, and per hidden unit the activation,
    its gradient and a derivative buffer (two more with dropout); logits twice.
    """
    if optimizer not in _OPTIMIZER_STATE:
        raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {', '.join(_OPTIMIZER_STATE)}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    itemsize = np.dtype(config.dtype).itemsize
    params = param_count(config) * (2 + _OPTIMIZER_STATE[optimizer] + 1)
    per_row = config.input_size + 2 * config.n_classes
    for width, p in zip(config.hidden, config.dropouts):
        per_row += width * (5 if p > 0 else 3)
    return (params + per_row * batch_size) * itemsize


class _Workspace:
    """Preallocated buffers for training passes over batches of exactly ``n`` rows."""

    def __init__(self, n: int, hidden: tuple[int, ...], n_classes: int, dropouts: tuple[float, ...], dtype):
        self.n = n
        self.acts = [np.empty((n, k), dtype) for k in hidden]  # Z_l, then A_l in place
        self.mask_buffers = [np.empty((n, k), dtype) if p > 0 else None for k, p in zip(hidden, dropouts)]
        self.masks: list[np.ndarray | None] = [None] * len(hidden)  # the masks of the last pass (None: no dropout)
        self.dropped = [np.empty((n, k), dtype) if p > 0 else None for k, p in zip(hidden, dropouts)]
        self.deltas = [np.empty((n, k), dtype) for k in hidden]  # dH_l, then dZ_l in place
        self.derivs = [np.empty((n, k), dtype) for k in hidden]  # f'(A_l)
        self.logits = np.empty((n, n_classes), dtype)  # Z_L, then dL/dZ_L in place
        self.inputs: list[np.ndarray | None] = [None] * (len(hidden) + 1)  # H_{l-1} fed to layer l


class MLP:
    """A multilayer perceptron built from a :class:`ModelConfig`.

    ``weights[l]``: (fan_in, fan_out); ``biases[l]``: (fan_out,); the gradients
    of the last :meth:`train_step_gradients` call sit in ``grad_W`` and
    ``grad_b`` with the same shapes. All are views into two flat buffers.
    """

    def __init__(self, config: ModelConfig, rng: np.random.Generator):
        if not isinstance(config, ModelConfig):
            raise ValueError(f"config must be a ModelConfig, got {type(config).__name__}")
        if not isinstance(rng, np.random.Generator):
            raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        self.config = config
        self.dtype = np.dtype(config.dtype)
        sizes = config.layer_sizes
        self.activations: list[Activation] = [get_activation(a, config.leaky_slope) for a in config.activations]
        self.keep: list[float] = [1.0 - p for p in config.dropouts]

        total = param_count(config)
        self._params = np.zeros(total, self.dtype)
        self._grads = np.zeros(total, self.dtype)
        self.weights, self.biases = self._views(self._params, sizes)
        self.grad_W, self.grad_b = self._views(self._grads, sizes)
        for W in self.weights:
            fan_in, fan_out = W.shape
            W[...] = init_weight(fan_in, fan_out, config.init, rng, scale=config.init_scale, dtype=self.dtype)
        # biases stay zero: the random weights already break the symmetry between units

        self._workspaces: dict[int, _Workspace] = {}
        self._pending: tuple[_Workspace, np.ndarray] | None = None  # between forward+loss and backward
        self.last_batch_correct = 0  # correct predictions in the last training batch (before the step)

    @staticmethod
    def _views(flat: np.ndarray, sizes: tuple[int, ...]) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Cut ``flat`` into W_1, b_1, W_2, b_2, ... in that order, back to back."""
        weights, biases, at = [], [], 0
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            weights.append(flat[at : at + fan_in * fan_out].reshape(fan_in, fan_out))
            at += fan_in * fan_out
            biases.append(flat[at : at + fan_out])
            at += fan_out
        return weights, biases

    # ------------------------------------------------------------------ parameters

    @property
    def n_layers(self) -> int:
        """Number of weight layers (hidden layers + 1)."""
        return len(self.weights)

    def parameters(self) -> list[np.ndarray]:
        """Live views ``[W_1, b_1, ..., W_L, b_L]``: what an optimizer updates in place."""
        return [a for pair in zip(self.weights, self.biases) for a in pair]

    def gradients(self) -> list[np.ndarray]:
        """Live views ``[dW_1, db_1, ..., dW_L, db_L]``, matching :meth:`parameters`."""
        return [a for pair in zip(self.grad_W, self.grad_b) for a in pair]

    def get_params(self) -> list[np.ndarray]:
        """A copy of ``[W_1, b_1, ..., W_L, b_L]`` (e.g. the last good weights)."""
        flat = self._params.copy()
        weights, biases = self._views(flat, self.config.layer_sizes)
        return [a for pair in zip(weights, biases) for a in pair]

    def set_params(self, params: list[np.ndarray]) -> None:
        """Copy values from ``[W_1, b_1, ..., W_L, b_L]`` into the live arrays (references stay valid)."""
        live = self.parameters()
        if len(params) != len(live):
            raise ValueError(f"expected {len(live)} arrays (W and b per layer), got {len(params)}")
        for i, (target, value) in enumerate(zip(live, params)):
            value = np.asarray(value)
            if value.shape != target.shape:
                raise ValueError(f"array {i} has shape {value.shape}, expected {target.shape}")
        for target, value in zip(live, params):
            np.copyto(target, value, casting="same_kind")

    def all_finite(self) -> bool:
        """True when no weight or bias is NaN or infinite."""
        return bool(np.isfinite(self._params).all())  # one pass over the flat buffer

    # ------------------------------------------------------------------ inputs

    def _check_X(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim == 3 and X.shape[1] * X.shape[2] == self.config.input_size:
            X = X.reshape(X.shape[0], -1)  # (n, 28, 28) images
        if X.ndim != 2 or X.shape[1] != self.config.input_size:
            raise ValueError(f"X must have shape (n, {self.config.input_size}), got {X.shape}")
        if not np.issubdtype(X.dtype, np.floating):
            raise ValueError(f"X must hold floats scaled to [0, 1] (x / 255), got dtype {X.dtype}")
        return np.asarray(X, dtype=self.dtype)

    def _check_y(self, y: np.ndarray, n: int) -> np.ndarray:
        y = np.asarray(y)
        if y.shape != (n,) or not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"y must be {n} integer labels, got shape {y.shape} dtype {y.dtype}")
        if n and (y.min() < 0 or y.max() >= self.config.n_classes):
            raise ValueError(f"labels must be in [0, {self.config.n_classes}), got {y.min()}..{y.max()}")
        return y

    # ------------------------------------------------------------------ inference

    def forward(
        self, X: np.ndarray, *, train: bool = False, rng: np.random.Generator | None = None, team: Team | None = None
    ) -> np.ndarray:
        """Logits (n, C) for X (n, 784).

        ``train=True`` applies dropout with masks drawn from ``rng`` (the same
        draws as :meth:`train_step_gradients` with the same ``rng`` state). A
        ``team`` shares each block of rows between its threads.
        """
        X = self._check_X(X)
        if train and any(k < 1.0 for k in self.keep):
            if rng is None:
                raise ValueError("forward(train=True) with dropout needs an rng to draw the masks")
            ws = self._new_workspace(X.shape[0])
            return self._train_forward(ws, X, rng).copy()
        logits = np.empty((X.shape[0], self.config.n_classes), self.dtype)
        macs_per_row = sum(W.size for W in self.weights)
        for start in range(0, X.shape[0], _EVAL_CHUNK):
            block = slice(start, start + _EVAL_CHUNK)
            rows = X[block].shape[0]
            for_each_share(team, rows, rows * macs_per_row, partial(self._eval_rows, X[block], logits[block]))
        return logits

    def _eval_rows(self, X: np.ndarray, logits: np.ndarray, rows: slice) -> None:
        """Inference for ``X[rows]``, written into ``logits[rows]``."""
        H = X[rows]
        for W, b, act in zip(self.weights, self.biases, self.activations):
            Z = H @ W
            Z += b
            H = act.forward(Z, out=Z)
        out = np.matmul(H, self.weights[-1], out=logits[rows])
        out += self.biases[-1]

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities (n, C); each row sums to 1."""
        logits = self.forward(X)
        return softmax(logits, out=logits)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted class (n,) int: the largest logit."""
        return np.argmax(self.forward(X), axis=1)

    def forward_trace(self, X: np.ndarray) -> list[LayerTrace]:
        """Every layer's pre-activation and activation for X, output layer last (post = softmax)."""
        H = self._check_X(X)
        traces = []
        for W, b, act in zip(self.weights, self.biases, self.activations):
            Z = H @ W + b
            H = act(Z)
            traces.append(LayerTrace(pre=Z, post=H))
        logits = H @ self.weights[-1] + self.biases[-1]
        traces.append(LayerTrace(pre=logits, post=softmax(logits)))
        return traces

    def input_gradient(self, X: np.ndarray, class_index: int) -> np.ndarray:
        """d logit_c / d X (n, 784): how each pixel would move the score of class c (no dropout)."""
        if isinstance(class_index, bool) or not isinstance(class_index, (int, np.integer)):
            raise ValueError(f"class_index must be an integer, got {class_index!r}")
        if not 0 <= class_index < self.config.n_classes:
            raise ValueError(f"class_index must be in [0, {self.config.n_classes}), got {class_index!r}")
        X = self._check_X(X)
        ws = self._new_workspace(X.shape[0])
        self._train_forward(ws, X, None)
        ws.logits[...] = 0
        ws.logits[:, class_index] = 1
        return self._backward(ws, ws.logits, None, None, input_grad=True)

    # ------------------------------------------------------------------ training

    def loss_and_gradients(
        self, X: np.ndarray, y: np.ndarray, *, rng: np.random.Generator | None = None
    ) -> tuple[float, list[np.ndarray], list[np.ndarray]]:
        """Mean cross-entropy on (X, y) and fresh copies of dL/dW_l and dL/db_l.

        Dropout is active when ``rng`` is given. Also leaves the gradients in
        ``grad_W`` / ``grad_b``.
        """
        X = self._check_X(X)
        y = self._check_y(y, X.shape[0])
        loss = self.train_step_gradients(X, y, rng)
        return loss, [g.copy() for g in self.grad_W], [g.copy() for g in self.grad_b]

    def train_step_gradients(self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator | None = None) -> float:
        """The fast path, once per batch: returns the loss, writes ``grad_W`` / ``grad_b``.

        X: (n, 784) in the model's dtype (float32 by default) and y: (n,) integer
        labels are trusted here (the trainer built them); use
        :meth:`loss_and_gradients` for checked inputs. Dropout is active when
        ``rng`` is given. ``last_batch_correct`` counts correct predictions.
        """
        loss = self.train_forward_loss(X, y, rng)
        self.train_backward()
        return loss

    def train_forward_loss(
        self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator | None = None, team: Team | None = None
    ) -> float:
        """First half of :meth:`train_step_gradients`: forward pass and loss; call :meth:`train_backward` next.

        The split lets a caller look at the loss (e.g. stop on divergence) before
        any gradient is formed or any weight is updated. A ``team`` (nn/parallel.py)
        shares the batch's rows between threads (same result up to float rounding).
        """
        if X.dtype != self.dtype:
            X = np.asarray(X, dtype=self.dtype)
        ws = self._workspaces.get(X.shape[0])
        if ws is None:
            ws = self._new_workspace(X.shape[0])
            if len(self._workspaces) >= _MAX_WORKSPACES:
                self._workspaces.pop(next(iter(self._workspaces)))
            self._workspaces[X.shape[0]] = ws
        logits = self._train_forward(ws, X, rng, team)
        loss, dlogits, self.last_batch_correct = softmax_cross_entropy_counted(logits, y, out=logits)
        self._pending = (ws, dlogits)
        return loss

    def train_backward(
        self, on_layer: Callable[[int, slice], None] | None = None, team: Team | None = None
    ) -> None:
        """Second half of :meth:`train_step_gradients`: writes ``grad_W`` / ``grad_b`` of the last forward pass.

        ``on_layer(l, rows)`` (optional) is called as soon as the gradients of
        ``weights[l][rows]`` are final (``grad_b[l]`` is final before) and those rows
        are no longer needed by backward, last layer first: the caller may update
        them right there (see :meth:`nn.optim.Optimizer.update_param`) while they
        are still in the CPU cache. Without a ``team``, ``rows`` is all of them;
        with one, each thread calls it for its own rows (see :meth:`_backward`).
        """
        if self._pending is None:
            raise ValueError("train_backward needs a train_forward_loss call first")
        ws, dlogits = self._pending
        self._pending = None
        self._backward(ws, dlogits, self.grad_W, self.grad_b, on_layer=on_layer, team=team)

    def _new_workspace(self, n: int) -> _Workspace:
        return _Workspace(n, self.config.hidden, self.config.n_classes, self.config.dropouts, self.dtype)

    def _train_forward(
        self, ws: _Workspace, X: np.ndarray, rng: np.random.Generator | None, team: Team | None = None
    ) -> np.ndarray:
        """Forward pass into ``ws``; dropout when ``rng`` is given. Returns the logits buffer.

        With a ``team``, each thread carries its own rows of the batch through every layer
        (rows never mix before the loss). The dropout masks are drawn first, on this thread,
        in layer order: the random stream is the same with or without a team.
        """
        for l, buffer in enumerate(ws.mask_buffers):
            ws.masks[l] = None
            keep = self.keep[l]
            if rng is not None and keep < 1.0:
                mask = ws.masks[l] = buffer
                rng.random(out=mask, dtype=self.dtype)
                np.less(mask, keep, out=mask)  # 1 with probability keep
                mask *= 1.0 / keep  # inverted dropout: the expected activation is unchanged
        ws.inputs[0] = X
        for l in range(1, self.n_layers):
            ws.inputs[l] = ws.acts[l - 1] if ws.masks[l - 1] is None else ws.dropped[l - 1]
        n = X.shape[0]
        for_each_share(team, n, n * sum(W.size for W in self.weights), partial(self._forward_rows, ws))
        return ws.logits

    def _forward_rows(self, ws: _Workspace, rows: slice) -> None:
        """The training forward pass for ``rows`` of the batch (masks and inputs already set)."""
        H = ws.inputs[0][rows]
        for l, act in enumerate(self.activations):
            Z = np.matmul(H, self.weights[l], out=ws.acts[l][rows])
            Z += self.biases[l]
            H = act.forward(Z, out=Z)  # A_l overwrites Z_l
            if ws.masks[l] is not None:
                H = np.multiply(H, ws.masks[l][rows], out=ws.dropped[l][rows])
        logits = np.matmul(H, self.weights[-1], out=ws.logits[rows])
        logits += self.biases[-1]

    def _backward(
        self,
        ws: _Workspace,
        dZ: np.ndarray,
        grad_W: list[np.ndarray] | None,
        grad_b: list[np.ndarray] | None,
        *,
        input_grad: bool = False,
        on_layer: Callable[[int, slice], None] | None = None,
        team: Team | None = None,
    ) -> np.ndarray | None:
        """Backpropagate dL/dZ_L through every layer of the last forward pass in ``ws``.

        ``on_layer(l, rows)`` runs once layer l's gradients are written and ``W_l[rows]`` has
        been used for dH_{l-1}: from then on, nothing in backward reads those rows again.
        ``grad_b[l]`` is final before the first call for layer l; the calls for one layer
        cover all of W_l's rows, and exactly one of them starts at row 0.

        With a ``team``, a large layer is cut by rows of W_l (inputs of the layer): thread k
        forms dW_l[rows_k] = H_{l-1}[:, rows_k]^T dZ_l, the columns rows_k of dH_{l-1} from
        W_l[rows_k], then calls ``on_layer`` for its rows, so the update of those rows runs
        on the thread that just formed their gradient.
        """
        n = dZ.shape[0]
        for l in range(self.n_layers - 1, -1, -1):
            W = self.weights[l]
            dH = ws.deltas[l - 1] if l > 0 else None
            if grad_W is not None:
                np.add.reduce(dZ, axis=0, out=grad_b[l])  # db = column sums of dZ
            job = partial(self._layer_backward, ws, l, dZ, dH, grad_W, on_layer)
            for_each_share(team, W.shape[0], n * W.size, job)
            if dH is None:
                break
            mask = ws.masks[l - 1]
            if mask is not None:
                dH *= mask
            dH *= self.activations[l - 1].derivative(ws.acts[l - 1], out=ws.derivs[l - 1])
            dZ = dH
        if input_grad:
            return dZ @ self.weights[0].T
        return None

    def _layer_backward(
        self,
        ws: _Workspace,
        l: int,
        dZ: np.ndarray,
        dH: np.ndarray | None,
        grad_W: list[np.ndarray] | None,
        on_layer: Callable[[int, slice], None] | None,
        rows: slice,
    ) -> None:
        """Layer l's backward for ``rows`` of W_l: dW_l[rows], the columns ``rows`` of dH_{l-1}, then the update."""
        if grad_W is not None:
            np.matmul(ws.inputs[l][:, rows].T, dZ, out=grad_W[l][rows])
        if dH is not None:
            np.matmul(dZ, self.weights[l][rows].T, out=dH[:, rows])
        if on_layer is not None:
            on_layer(l, rows)  # dW_l[rows] just written: the update finds it in cache
