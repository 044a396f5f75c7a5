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
* with a team of threads or processes (nn/parallel.py, nn/processes.py), a
  step is one job for the team's members, in two phases. First by batch rows
  (:meth:`MLP.forward_share`): each member takes its rows through the forward
  pass, the loss and back to its rows of every dZ_l, all of which is row by
  row. Then, once every member is through, by slices of the flat parameter
  buffer (:meth:`MLP.weight_share`): each member forms the gradient of its
  slice and updates it right away, while it is still in the CPU cache.
  Nothing is left to one member alone in between.

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
from nn.parallel import Team, for_each_share, shares
from nn.processes import ProcessTeam, shared_zeros

_EVAL_CHUNK = 4096  # rows per block in inference, so a 60,000-image forward pass stays small in memory
_MAX_WORKSPACES = 4  # batch sizes kept warm (e.g. full batches, the last partial batch)
_PIXEL_SCALE = np.float32(1 / 255)  # uint8 pixels to [0, 1], as nn.data.to_float does


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
    """Preallocated buffers for training passes over batches of exactly ``n`` rows.

    In memory that a forked worker process shares (nn/processes.py): a process team
    works on these buffers from both sides. ``x`` and ``y`` hold the batch when a team
    shares it.
    """

    def __init__(self, n: int, input_size: int, hidden: tuple[int, ...], n_classes: int,
                 dropouts: tuple[float, ...], dtype):
        self.n = n
        self.x = shared_zeros((n, input_size), dtype)
        self.y = shared_zeros((n,), np.int64)
        self.idx = shared_zeros((n,), np.int64)  # the batch's rows of the batch source, if it has one
        self.pixels = np.empty((n, input_size), np.uint8)  # scratch: each process its own
        self.acts = [shared_zeros((n, k), dtype) for k in hidden]  # Z_l, then A_l in place
        self.mask_buffers = [shared_zeros((n, k), dtype) if p > 0 else None for k, p in zip(hidden, dropouts)]
        self.masks: list[np.ndarray | None] = [None] * len(hidden)  # the masks of the last pass (None: no dropout)
        self.dropped = [shared_zeros((n, k), dtype) if p > 0 else None for k, p in zip(hidden, dropouts)]
        self.deltas = [shared_zeros((n, k), dtype) for k in hidden]  # dH_l, then dZ_l in place
        self.derivs = [shared_zeros((n, k), dtype) for k in hidden]  # f'(A_l)
        self.logits = shared_zeros((n, n_classes), dtype)  # Z_L, then dL/dZ_L in place
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
        self._params = shared_zeros(total, self.dtype)  # shared with a process team's workers, if any
        self._grads = shared_zeros(total, self.dtype)
        self.weights, self.biases = self._views(self._params, sizes)
        # Where each W_l starts in the flat buffer (b_l follows it): W_1, b_1, W_2, b_2, ...
        self._offsets = [sum(a * b + b for a, b in zip(sizes[:l], sizes[1 : l + 1])) for l in range(len(sizes) - 1)]
        self._slices: dict[int, list[tuple[int, int]]] = {}  # param_slices, per number of parts
        self._plans: dict[tuple[int, int], list[tuple[int, int, int, bool]]] = {}  # _weight_plan, per (parts, k)
        self.grad_W, self.grad_b = self._views(self._grads, sizes)
        for W in self.weights:
            fan_in, fan_out = W.shape
            W[...] = init_weight(fan_in, fan_out, config.init, rng, scale=config.init_scale, dtype=self.dtype)
        # biases stay zero: the random weights already break the symmetry between units

        self._workspaces: dict[int, _Workspace] = {}
        self._eval_x: np.ndarray | None = None  # an inference block a process team shares (prepare_shared)
        self._eval_logits: np.ndarray | None = None
        self._eval_idx: np.ndarray | None = None
        # Between forward+loss and backward: the workspace, and either dL/dlogits (one thread
        # goes on from there) or the team whose threads already formed every dZ_l of their rows.
        self._pending: tuple[_Workspace | None, np.ndarray | None, Team | ProcessTeam | None] | None = None
        self._staged = 0  # the size of the batch stage_batch last put in place for a team
        self._source: np.ndarray | None = None  # see set_batch_source
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
        self, X: np.ndarray, *, train: bool = False, rng: np.random.Generator | None = None,
        team: Team | ProcessTeam | None = None,
    ) -> np.ndarray:
        """Logits (n, C) for X (n, 784).

        ``train=True`` applies dropout with masks drawn from ``rng`` (the same
        draws as :meth:`train_step_gradients` with the same ``rng`` state). A
        ``team`` shares each block of rows between its members.
        """
        X = self._check_X(X)
        if train and any(k < 1.0 for k in self.keep):
            if rng is None:
                raise ValueError("forward(train=True) with dropout needs an rng to draw the masks")
            ws = self._new_workspace(X.shape[0])
            self._prepare_pass(ws, X, rng)
            return self._train_forward(ws).copy()
        logits = np.empty((X.shape[0], self.config.n_classes), self.dtype)
        macs_per_row = sum(W.size for W in self.weights)
        for start in range(0, X.shape[0], _EVAL_CHUNK):
            block = slice(start, start + _EVAL_CHUNK)
            rows = X[block].shape[0]
            if self._processes_take(team, rows):
                np.copyto(self._eval_x[:rows], X[block])  # where the workers can read it
                logits[block] = self._eval_by_processes(team, rows, gather=False)
            else:
                for_each_share(team, rows, rows * macs_per_row, partial(self._eval_rows, X[block], logits[block]))
        return logits

    def forward_from(self, idx: np.ndarray, team: Team | ProcessTeam | None = None) -> np.ndarray:
        """Logits (n, C) for the images ``source[idx] / 255`` of the batch source (see :meth:`set_batch_source`).

        Converts a block of images at a time (memory stays small); with a process team,
        each member converts its own rows of each block.
        """
        if self._source is None:
            raise ValueError("forward_from needs set_batch_source() first")
        idx = np.asarray(idx)
        logits = np.empty((idx.shape[0], self.config.n_classes), self.dtype)
        for start in range(0, idx.shape[0], _EVAL_CHUNK):
            block = slice(start, start + _EVAL_CHUNK)
            rows = idx[block].shape[0]
            if self._processes_take(team, rows):
                self._eval_idx[:rows] = idx[block]
                logits[block] = self._eval_by_processes(team, rows, gather=True)
            else:
                logits[block] = self.forward(self._convert(idx[block]), team=team)
        return logits

    def _processes_take(self, team: Team | ProcessTeam | None, rows: int) -> bool:
        """Whether a process team shares this block of ``rows`` rows (through the shared eval block)."""
        if not (isinstance(team, ProcessTeam) and team.size > 1 and rows >= team.size):
            return False
        if self._eval_x is None:
            raise ValueError("inference with a process team needs prepare_shared() before the team is formed")
        return True

    def _eval_by_processes(self, team: ProcessTeam, rows: int, gather: bool) -> np.ndarray:
        """The logits of the shared eval block's first ``rows`` rows, each member doing its share (a view)."""
        team.run(self.eval_share, team.size, rows, gather)
        return self._eval_logits[:rows]

    def eval_share(self, k: int, parts: int, rows: int, gather: bool = False) -> None:
        """Member k of ``parts``: inference for its share of the first ``rows`` rows of the shared eval block.

        With ``gather``, the block is the batch source's rows listed in the shared eval indices,
        which this member converts first.
        """
        share = shares(rows, parts)[k]
        if gather:
            self._convert(self._eval_idx[share], out=self._eval_x[share])
        self._eval_rows(self._eval_x, self._eval_logits, share)

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
        self._prepare_pass(ws, X, None)
        self._train_forward(ws)
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

    def train_forward_loss(self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator | None = None,
                           team: Team | ProcessTeam | None = None) -> float:
        """First half of :meth:`train_step_gradients`: forward pass and loss; backward comes next.

        The split lets a caller look at the loss (e.g. stop on divergence) before
        any weight is updated. Without a ``team``, call :meth:`train_backward` next.
        With a team (nn/parallel.py, nn/processes.py), each member carries its share
        of the batch's rows through the forward pass, the loss, and back through every
        layer to its rows of each dL/dZ_l (:meth:`forward_share`); the weight
        gradients come next from :meth:`weight_share` on the same team. Same result
        up to float rounding.
        """
        if X.dtype != self.dtype:
            X = np.asarray(X, dtype=self.dtype)
        n = X.shape[0]
        ws = self._workspace(n)
        if team is None or team.size == 1 or n < team.size:
            self._prepare_pass(ws, X, rng)
            logits = self._train_forward(ws)
            loss, dlogits, self.last_batch_correct = softmax_cross_entropy_counted(logits, y, out=logits)
            self._pending = (ws, dlogits, None)
            return loss
        self.stage_batch(y, rng, X=X)
        return self._team_forward_loss(team, n, rng is not None, gather=False)

    def stage_batch(self, y: np.ndarray, rng: np.random.Generator | None = None, *,
                    X: np.ndarray | None = None, idx: np.ndarray | None = None) -> int:
        """Put a batch where a team's members read it, for :meth:`forward_share`; returns its size n.

        The batch is either ``X`` (n, 784) in the model's dtype, or the batch source's rows
        ``idx`` (n,), which the members convert themselves (``gather=True``). ``y``: (n,)
        labels. Dropout masks are drawn here from ``rng``, on the calling thread.
        """
        if (X is None) == (idx is None):
            raise ValueError("stage_batch needs the batch as either X or idx, not both or neither")
        n = y.shape[0]
        ws = self._workspace(n)
        if idx is not None:
            ws.idx[...] = idx
        elif X is not ws.x:
            np.copyto(ws.x, X)
        ws.y[...] = y
        self._prepare_pass(ws, ws.x, rng)
        self._staged = n
        return n

    def team_loss(self, results: list, team: Team | ProcessTeam | None = None) -> float:
        """The batch's mean loss from the members' ``(loss, correct)`` results of :meth:`forward_share`.

        Also sets ``last_batch_correct``. With the ``team`` that ran them, :meth:`train_backward`
        can form the weight gradients next.
        """
        self.last_batch_correct = int(sum(correct for _, correct in results))
        self._pending = None if team is None else (None, None, team)
        return float(sum(loss for loss, _ in results))

    def train_backward(self) -> None:
        """Second half of :meth:`train_step_gradients`: writes ``grad_W`` / ``grad_b`` of the last forward pass.

        After a forward pass shared by a team, the members form the gradients
        (:meth:`weight_share`); to update each member's slice as soon as it is formed,
        run :meth:`weight_share` through the team with an ``on_slice`` instead.
        """
        if self._pending is None:
            raise ValueError("train_backward needs a train_forward_loss call first")
        ws, dlogits, team = self._pending
        self._pending = None
        if team is None:
            self._backward(ws, dlogits, self.grad_W, self.grad_b)
        else:
            team.run(self.weight_share, team.size, self._staged)

    def set_batch_source(self, images: np.ndarray | None) -> None:
        """The images (N, 784) uint8 that :meth:`train_forward_loss_from` draws batches from (None: forget them).

        Kept by reference. For a process team, set it before the team is formed.
        """
        if images is not None and (images.ndim != 2 or images.shape[1] != self.config.input_size
                                   or images.dtype != np.uint8):
            raise ValueError(f"a batch source must be uint8 images of shape (N, {self.config.input_size}), "
                             f"got {images.dtype} {images.shape}")
        self._source = images

    def train_forward_loss_from(self, idx: np.ndarray, y: np.ndarray, rng: np.random.Generator | None = None,
                                team: Team | ProcessTeam | None = None) -> float:
        """:meth:`train_forward_loss` for the batch ``source[idx] / 255`` of the batch source.

        With a team, each member converts its own rows of the batch (the same numbers as
        ``nn.data.to_float``) as the first step of its share, instead of one thread
        converting all of them before.
        """
        if self._source is None:
            raise ValueError("train_forward_loss_from needs set_batch_source() first")
        n = idx.shape[0]
        if team is None or team.size == 1 or n < team.size:
            return self.train_forward_loss(self.batch_from_source(idx), y, rng)
        self.stage_batch(y, rng, idx=idx)
        return self._team_forward_loss(team, n, rng is not None, gather=True)

    def _team_forward_loss(self, team: Team | ProcessTeam, n: int, dropout: bool, gather: bool) -> float:
        """The staged batch's forward pass and loss by ``team`` (:meth:`forward_share`); backward comes next."""
        return self.team_loss(team.run(self.forward_share, team.size, n, dropout, gather), team)

    def forward_share(self, k: int, parts: int, n: int, dropout: bool, gather: bool = False) -> tuple[float, int]:
        """Member k of ``parts``: forward, loss, and dL/dZ_l of every layer for its rows of the batch.

        The batch is the one :meth:`stage_batch` put in the workspace for ``n`` rows
        (``dropout``: whether it drew masks); with ``gather``, the batch source's rows
        ``idx``, which this member converts first. Every step here is row by row: row i
        of Z_l depends only on row i of H_{l-1}, the loss of row i only on row i of the
        logits, and row i of dH_{l-1} = dZ_l W_l^T only on row i of dZ_l. So each member
        goes all the way from its inputs to its rows of every dZ_l without waiting for
        the others. Only the weight gradients dW_l = H_{l-1}^T dZ_l sum over the batch;
        they are left to :meth:`weight_share`. Returns this share's part of the batch's
        mean loss, and how many of its rows were predicted right.
        """
        ws = self._workspaces[n]
        rows = shares(n, parts)[k]
        if gather:
            self._convert(ws.idx[rows], out=ws.x[rows], scratch=ws.pixels[rows])
        # A worker process sets up its own view of the pass; threads all write the same values.
        self._point_inputs(ws, ws.x, dropout)
        logits = self._train_forward(ws, rows)
        loss, dZ, correct = softmax_cross_entropy_counted(logits, ws.y[rows], out=logits, batch_size=n)
        for l in range(self.n_layers - 1, 0, -1):
            dH = np.matmul(dZ, self.weights[l].T, out=ws.deltas[l - 1][rows])
            dZ = self._through_activation(ws, l - 1, dH, rows)
        return loss, correct

    def weight_share(self, k: int, parts: int, n: int, on_slice: Callable[[int, int], None] | None = None) -> None:
        """Member k of ``parts``: the gradient of its slice of the parameters, after :meth:`forward_share`.

        The parameters lie in one flat buffer, W_1, b_1, W_2, ... (see :meth:`param_slices`);
        each member takes one slice of it, cut between rows of a W. A row of W_l belongs to
        one input of layer l, so dW_l[rows] = H_{l-1}[:, rows]^T dZ_l needs no other member's
        rows, and db_l = column sums of dZ_l none either. Then ``on_slice(start, stop)``:
        the caller may update the slice right there (see
        :meth:`nn.optim.Optimizer.update_slice`), with a few NumPy calls for the whole slice.
        """
        ws = self._workspaces[n]
        self._pending = None
        start, stop = self.param_slices(parts)[k]
        for l, first, last, with_bias in self._weight_plan(parts, k):
            dZ = ws.logits if l == self.n_layers - 1 else ws.deltas[l]
            if first < last:
                np.matmul(ws.inputs[l][:, first:last].T, dZ, out=self.grad_W[l][first:last])
            if with_bias:
                np.add.reduce(dZ, axis=0, out=self.grad_b[l])
        if on_slice is not None:
            on_slice(start, stop)

    def _weight_plan(self, parts: int, k: int) -> list[tuple[int, int, int, bool]]:
        """For member k's slice: per layer it touches, (l, first row of W_l, row past the last, whether b_l too)."""
        plan = self._plans.get((parts, k))
        if plan is None:
            start, stop = self.param_slices(parts)[k]
            plan = []
            for l, (W, w_at) in enumerate(zip(self.weights, self._offsets)):
                fan_out = W.shape[1]
                first = min(max(start - w_at, 0), W.size) // fan_out
                last = min(max(stop - w_at, 0), W.size) // fan_out
                with_bias = start <= w_at + W.size < stop  # b_l follows W_l in the buffer
                if first < last or with_bias:
                    plan.append((l, first, last, with_bias))
            self._plans[(parts, k)] = plan
        return plan

    def param_slices(self, parts: int) -> list[tuple[int, int]]:
        """The flat parameter buffer cut into ``parts`` slices of about equal size, each cut between two rows of a W.

        Equal sizes make equal work: forming dW_l for r rows costs r x fan_out x n
        multiply-adds, its bias n x fan_out additions, and the update a fixed number of
        passes per number.
        """
        slices = self._slices.get(parts)
        if slices is None:
            total = self._params.size
            cuts = [0]
            for k in range(1, parts):
                target = round(total * k / parts)
                cut = total  # past the last W: everything left goes to the last members
                for W, w_at in zip(self.weights, self._offsets):
                    if target < w_at + W.size + W.shape[1]:  # in W_l or in b_l
                        row = round(min(max(target - w_at, 0), W.size) / W.shape[1])
                        cut = w_at + row * W.shape[1]
                        break
                cuts.append(max(cut, cuts[-1]))
            cuts.append(total)
            slices = self._slices[parts] = list(zip(cuts[:-1], cuts[1:]))
        return slices

    def _workspace(self, n: int) -> _Workspace:
        """The buffers for batches of ``n`` rows, kept for the next batch of the same size."""
        ws = self._workspaces.get(n)
        if ws is None:
            ws = self._new_workspace(n)
            if len(self._workspaces) >= _MAX_WORKSPACES:
                self._workspaces.pop(next(iter(self._workspaces)))
            self._workspaces[n] = ws
        return ws

    def batch_from_source(self, idx: np.ndarray) -> np.ndarray:
        """The batch source's images ``idx`` as floats (n, 784) in [0, 1], in the buffer a team reads.

        For a caller that changes the batch before :meth:`train_forward_loss` (augmentation):
        passing the returned array on saves a copy.
        """
        if self._source is None:
            raise ValueError("batch_from_source needs set_batch_source() first")
        ws = self._workspace(idx.shape[0])
        return self._convert(idx, out=ws.x, scratch=ws.pixels)

    def _convert(self, idx: np.ndarray, out: np.ndarray | None = None, scratch: np.ndarray | None = None) -> np.ndarray:
        """``source[idx] / 255`` as float32, the same numbers as nn.data.to_float (``scratch``: for the uint8 rows)."""
        pixels = np.take(self._source, idx, axis=0, out=scratch)
        return np.multiply(pixels, _PIXEL_SCALE, out=out)

    def prepare_shared(self, batch_sizes: list[int]) -> None:
        """Allocate now every buffer a process team's jobs use, for batches of these sizes.

        A process team (nn/processes.py) forks its workers once; what is allocated after
        the fork is not shared with them. Call this before forming the team.
        """
        for n in batch_sizes:
            self._workspace(n)
        if self._eval_x is None:
            self._eval_x = shared_zeros((_EVAL_CHUNK, self.config.input_size), self.dtype)
            self._eval_logits = shared_zeros((_EVAL_CHUNK, self.config.n_classes), self.dtype)
            self._eval_idx = shared_zeros((_EVAL_CHUNK,), np.int64)

    def _new_workspace(self, n: int) -> _Workspace:
        return _Workspace(n, self.config.input_size, self.config.hidden, self.config.n_classes,
                          self.config.dropouts, self.dtype)

    def _prepare_pass(self, ws: _Workspace, X: np.ndarray, rng: np.random.Generator | None) -> None:
        """Draw the dropout masks (when ``rng`` is given) and point each layer at its input.

        The masks are drawn here, on the calling thread, in layer order: the random
        stream is the same whether one thread or a team then does the arithmetic.
        """
        for l, buffer in enumerate(ws.mask_buffers):
            if rng is not None and buffer is not None:
                rng.random(out=buffer, dtype=self.dtype)
                keep = self.keep[l]
                np.less(buffer, keep, out=buffer)  # 1 with probability keep
                buffer *= 1.0 / keep  # inverted dropout: the expected activation is unchanged
        self._point_inputs(ws, X, rng is not None)

    def _point_inputs(self, ws: _Workspace, X: np.ndarray, dropout: bool) -> None:
        """Which masks the pass applies, and which buffer feeds each layer."""
        ws.masks = [buffer if dropout else None for buffer in ws.mask_buffers]
        ws.inputs[0] = X
        for l in range(1, self.n_layers):
            ws.inputs[l] = ws.acts[l - 1] if ws.masks[l - 1] is None else ws.dropped[l - 1]

    def _train_forward(self, ws: _Workspace, rows: slice = slice(None)) -> np.ndarray:
        """The training forward pass for ``rows`` of the batch prepared in ``ws``; returns those logits."""
        H = ws.inputs[0][rows]
        for l, act in enumerate(self.activations):
            Z = np.matmul(H, self.weights[l], out=ws.acts[l][rows])
            Z += self.biases[l]
            H = act.forward(Z, out=Z)  # A_l overwrites Z_l
            if ws.masks[l] is not None:
                H = np.multiply(H, ws.masks[l][rows], out=ws.dropped[l][rows])
        logits = np.matmul(H, self.weights[-1], out=ws.logits[rows])
        logits += self.biases[-1]
        return logits

    def _through_activation(self, ws: _Workspace, l: int, dH: np.ndarray, rows: slice = slice(None)) -> np.ndarray:
        """dZ_l from dH_l (for ``rows``), in place: undo dropout's mask, times f'(Z_l)."""
        mask = ws.masks[l]
        if mask is not None:
            dH *= mask[rows]
        dH *= self.activations[l].derivative(ws.acts[l][rows], out=ws.derivs[l][rows])
        return dH

    def _backward(
        self,
        ws: _Workspace,
        dZ: np.ndarray,
        grad_W: list[np.ndarray] | None,
        grad_b: list[np.ndarray] | None,
        *,
        input_grad: bool = False,
    ) -> np.ndarray | None:
        """Backpropagate dL/dZ_L through every layer of the last forward pass in ``ws``, on this thread."""
        for l in range(self.n_layers - 1, -1, -1):
            if grad_W is not None:
                np.add.reduce(dZ, axis=0, out=grad_b[l])  # db = column sums of dZ
                np.matmul(ws.inputs[l].T, dZ, out=grad_W[l])
            if l == 0:
                break
            dH = np.matmul(dZ, self.weights[l].T, out=ws.deltas[l - 1])
            dZ = self._through_activation(ws, l - 1, dH)
        if input_grad:
            return dZ @ self.weights[0].T
        return None
