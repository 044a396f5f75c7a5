"""The fast training step: the textbook's arithmetic (nn/model.py) in preallocated buffers, in place.

The same equations as :class:`nn.model.MLP`, computed so that the hot loop allocates almost nothing:

* the gradients live in one flat buffer laid out like the model's parameters, so the optimizer
  updates the whole network with a handful of NumPy calls (nn/engine/flat_optim.py);
* per batch size, one :class:`~nn.engine.buffers.Workspace`; every step writes into it with ``out=``;
* the activation overwrites Z in place (derivatives are written through A, see nn/activations.py),
  the loss overwrites the logits with their gradient, and the input gradient is skipped;
* with a team of threads or processes, each member computes its share (nn/engine/shares.py).

tests/test_engine_equals_textbook.py proves the loss and every gradient equal to the textbook's.
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np

from nn.engine.buffers import Workspace
from nn.engine.flat_optim import FlatOptimizer
from nn.engine.processes import ProcessTeam, shared_zeros
from nn.engine.shares import Shares
from nn.engine.threads import Team, for_each_share
from nn.engine.loss import softmax_cross_entropy_counted
from nn.model import MLP

_EVAL_CHUNK = 4096  # rows per block in inference, so a 60,000-image forward pass stays small in memory
_MAX_WORKSPACES = 4  # batch sizes kept warm (e.g. full batches, the last partial batch)
_PIXEL_SCALE = np.float32(1 / 255)  # uint8 pixels to [0, 1], as nn.data.to_float does


class Engine(Shares):
    """Trains ``model``'s parameters in place; ``grad_W`` / ``grad_b`` hold the last step's gradients.

    Binds the model's weight and bias arrays when made: make it after the parameters found
    their final home (see :func:`nn.engine.buffers.share_parameters`).
    """

    def __init__(self, model: MLP, optimizer: FlatOptimizer | None = None):
        self.model = model
        self.optimizer = optimizer  # what train_batch updates with (a process team's workers inherit it)
        self.config = model.config
        self.dtype = model.dtype
        self.weights, self.biases = model.weights, model.biases
        self.activations, self.keep = model.activations, model.keep
        self.n_layers = model.n_layers
        sizes = model.config.layer_sizes
        self._grads = shared_zeros(model._params.size, self.dtype)  # shared with a process team's workers
        self.grad_W, self.grad_b = model.views(self._grads)
        # Where each W_l starts in the flat buffer (b_l follows it): W_1, b_1, W_2, b_2, ...
        self._offsets = [sum(a * b + b for a, b in zip(sizes[:l], sizes[1 : l + 1])) for l in range(len(sizes) - 1)]
        self._slices: dict[int, list[tuple[int, int]]] = {}  # param_slices, per number of parts
        self._plans: dict[tuple[int, int], list[tuple[int, int, int, bool]]] = {}  # _weight_plan, per (parts, k)
        self._workspaces: dict[int, Workspace] = {}
        self._eval_x: np.ndarray | None = None  # an inference block a process team shares (prepare_shared)
        self._eval_logits: np.ndarray | None = None
        self._eval_idx: np.ndarray | None = None
        # Between forward+loss and backward: the workspace, and either dL/dlogits (one thread
        # goes on from there) or the team whose threads already formed every dZ_l of their rows.
        self._pending: tuple[Workspace | None, np.ndarray | None, Team | ProcessTeam | None] | None = None
        self._staged = 0  # the size of the batch stage_batch last put in place for a team
        self._source: np.ndarray | None = None  # see set_batch_source
        self.last_batch_correct = 0  # correct predictions in the last training batch (before the step)
        self._grad_list = self.gradients()  # the same list every step: the optimizer's fast path
        self.step_phases = (self._forward_phase, self._weight_phase)  # a team's one job per batch

    def gradients(self) -> list[np.ndarray]:
        """Live views ``[dW_1, db_1, ..., dW_L, db_L]``, matching ``model.parameters()``."""
        return [a for pair in zip(self.grad_W, self.grad_b) for a in pair]

    # ------------------------------------------------------------------ inference

    def forward(self, X: np.ndarray, team: Team | ProcessTeam | None = None) -> np.ndarray:
        """Logits (n, C) for X (n, 784) in the model's dtype; a ``team`` shares each block of rows."""
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

    def _eval_rows(self, X: np.ndarray, logits: np.ndarray, rows: slice) -> None:
        """Inference for ``X[rows]``, written into ``logits[rows]``."""
        H = X[rows]
        for W, b, act in zip(self.weights, self.biases, self.activations):
            Z = H @ W
            Z += b
            H = act.forward(Z, out=Z)
        out = np.matmul(H, self.weights[-1], out=logits[rows])
        out += self.biases[-1]

    # ------------------------------------------------------------------ training

    def train_batch(self, y: np.ndarray, rng: np.random.Generator | None = None, *, idx: np.ndarray | None = None,
                    X: np.ndarray | None = None, team: Team | ProcessTeam | None = None,
                    loss_limit: float = math.inf) -> float:
        """One step of training on a batch: forward, loss, backward, update. Returns the batch's mean loss.

        The batch is the batch source's rows ``idx`` (converted here, or by each team member for its
        rows) or ``X`` (n, 784) in the model's dtype (an augmented batch); ``y``: (n,) labels; dropout
        when ``rng`` is given. Alone, a loss above ``loss_limit`` (or NaN) stops the step before the
        update: the weights stay as they were. With a ``team`` the step is one job in two phases (each
        member's rows forward and back to their dZ_l, a barrier, then each member forms and updates its
        slice of the parameters while it is in its cache), and the loss is known only after the update.
        """
        opt, n = self.optimizer, y.shape[0]
        if team is None or n < team.size:
            loss = self.train_forward_loss_from(idx, y, rng) if X is None else self.train_forward_loss(X, y, rng)
            if loss <= loss_limit:  # false for NaN too
                self.train_backward()
                opt.step(self._grad_list)
            return loss
        self.stage_batch(y, rng, X=X, idx=idx)
        opt.begin_step()
        results = team.run(self.step_phases, team.size, n, rng is not None, X is None, opt.t, opt.lr)
        return self.team_loss(results)

    def _forward_phase(self, k: int, parts: int, n: int, dropout: bool, gather: bool, t: int,
                       lr: float) -> tuple[float, int]:
        """Member k's rows of the staged batch: forward, loss, and back to every dZ_l (phase 1 of a step)."""
        return self.forward_share(k, parts, n, dropout, gather)

    def _weight_phase(self, k: int, parts: int, n: int, dropout: bool, gather: bool, t: int, lr: float) -> None:
        """Member k's slice of the weight gradients and its update (phase 2 of a step)."""
        opt = self.optimizer
        opt.t, opt.lr = t, lr  # a worker process has its own copy of these two numbers
        self.weight_share(k, parts, n, self._update_slice)

    def _update_slice(self, start: int, stop: int) -> None:
        self.optimizer.update_slice(self._grad_list, start, stop)

    def loss_and_gradients(self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator | None = None):
        """The step's loss and copies of dW_l, db_l for checked inputs (what the equality tests compare)."""
        X = self.model.check_X(X)
        y = self.model.check_y(y, X.shape[0])
        loss = self.train_step_gradients(X, y, rng)
        return loss, [g.copy() for g in self.grad_W], [g.copy() for g in self.grad_b]

    def train_step_gradients(self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator | None = None) -> float:
        """One batch on this thread: returns the loss, writes ``grad_W`` / ``grad_b``.

        X: (n, 784) in the model's dtype and y: (n,) integer labels are trusted here.
        Dropout is active when ``rng`` is given. ``last_batch_correct`` counts correct predictions.
        """
        loss = self.train_forward_loss(X, y, rng)
        self.train_backward()
        return loss

    def train_forward_loss(self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator | None = None,
                           team: Team | ProcessTeam | None = None) -> float:
        """First half of :meth:`train_step_gradients`: forward pass and loss; backward comes next.

        The split lets a caller look at the loss (e.g. stop on divergence) before
        any weight is updated. Without a ``team``, call :meth:`train_backward` next.
        With a team, each member carries its share of the batch's rows through the forward
        pass, the loss, and back through every layer to its rows of each dL/dZ_l
        (:meth:`forward_share`); the weight gradients come next from :meth:`weight_share`.
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

    def train_forward_loss_from(self, idx: np.ndarray, y: np.ndarray, rng: np.random.Generator | None = None,
                                team: Team | ProcessTeam | None = None) -> float:
        """:meth:`train_forward_loss` for the batch ``source[idx] / 255`` of the batch source.

        With a team, each member converts its own rows of the batch (the same numbers as
        ``nn.data.to_float``) as the first step of its share.
        """
        if self._source is None:
            raise ValueError("train_forward_loss_from needs set_batch_source() first")
        n = idx.shape[0]
        if team is None or team.size == 1 or n < team.size:
            return self.train_forward_loss(self.batch_from_source(idx), y, rng)
        self.stage_batch(y, rng, idx=idx)
        return self._team_forward_loss(team, n, rng is not None, gather=True)

    def train_backward(self) -> None:
        """Second half of :meth:`train_step_gradients`: writes ``grad_W`` / ``grad_b`` of the last forward pass."""
        if self._pending is None:
            raise ValueError("train_backward needs a train_forward_loss call first")
        ws, dlogits, team = self._pending
        self._pending = None
        if team is None:
            self._backward(ws, dlogits)
        else:
            team.run(self.weight_share, team.size, self._staged)

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

    def _team_forward_loss(self, team: Team | ProcessTeam, n: int, dropout: bool, gather: bool) -> float:
        """The staged batch's forward pass and loss by ``team`` (:meth:`forward_share`); backward comes next."""
        return self.team_loss(team.run(self.forward_share, team.size, n, dropout, gather), team)

    # ------------------------------------------------------------------ the batch source

    def set_batch_source(self, images: np.ndarray | None) -> None:
        """The images (N, 784) uint8 that batches are drawn from by index (None: forget them).

        Kept by reference. For a process team, set it before the team is formed.
        """
        if images is not None and (images.ndim != 2 or images.shape[1] != self.config.input_size
                                   or images.dtype != np.uint8):
            raise ValueError(f"a batch source must be uint8 images of shape (N, {self.config.input_size}), "
                             f"got {images.dtype} {images.shape}")
        self._source = images

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

        A process team forks its workers once; what is allocated after the fork is not
        shared with them. Call this before forming the team.
        """
        for n in batch_sizes:
            self._workspace(n)
        if self._eval_x is None:
            self._eval_x = shared_zeros((_EVAL_CHUNK, self.config.input_size), self.dtype)
            self._eval_logits = shared_zeros((_EVAL_CHUNK, self.config.n_classes), self.dtype)
            self._eval_idx = shared_zeros((_EVAL_CHUNK,), np.int64)

    # ------------------------------------------------------------------ the pass, in place

    def _workspace(self, n: int) -> Workspace:
        """The buffers for batches of ``n`` rows, kept for the next batch of the same size."""
        ws = self._workspaces.get(n)
        if ws is None:
            ws = Workspace(n, self.config.input_size, self.config.hidden, self.config.n_classes,
                           self.config.dropouts, self.dtype)
            if len(self._workspaces) >= _MAX_WORKSPACES:
                self._workspaces.pop(next(iter(self._workspaces)))
            self._workspaces[n] = ws
        return ws

    def _prepare_pass(self, ws: Workspace, X: np.ndarray, rng: np.random.Generator | None) -> None:
        """Draw the dropout masks (when ``rng`` is given) and point each layer at its input.

        The masks are drawn here, on the calling thread, in layer order, as the textbook's
        forward_cached draws them: the random stream is the same whichever does the arithmetic.
        """
        for l, buffer in enumerate(ws.mask_buffers):
            if rng is not None and buffer is not None:
                rng.random(out=buffer, dtype=self.dtype)
                keep = self.keep[l]
                np.less(buffer, keep, out=buffer)  # 1 with probability keep
                buffer *= 1.0 / keep  # inverted dropout: the expected activation is unchanged
        self._point_inputs(ws, X, rng is not None)

    def _point_inputs(self, ws: Workspace, X: np.ndarray, dropout: bool) -> None:
        """Which masks the pass applies, and which buffer feeds each layer."""
        ws.masks = [buffer if dropout else None for buffer in ws.mask_buffers]
        ws.inputs[0] = X
        for l in range(1, self.n_layers):
            ws.inputs[l] = ws.acts[l - 1] if ws.masks[l - 1] is None else ws.dropped[l - 1]

    def _train_forward(self, ws: Workspace, rows: slice = slice(None)) -> np.ndarray:
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

    def _through_activation(self, ws: Workspace, l: int, dH: np.ndarray, rows: slice = slice(None)) -> np.ndarray:
        """dZ_l from dH_l (for ``rows``), in place: undo dropout's mask, times f'(Z_l)."""
        mask = ws.masks[l]
        if mask is not None:
            dH *= mask[rows]
        dH *= self.activations[l].derivative(ws.acts[l][rows], out=ws.derivs[l][rows])
        return dH

    def _backward(self, ws: Workspace, dZ: np.ndarray) -> None:
        """Backpropagate dL/dZ_L through every layer of the last forward pass in ``ws``, on this thread."""
        for l in range(self.n_layers - 1, -1, -1):
            np.add.reduce(dZ, axis=0, out=self.grad_b[l])  # db = column sums of dZ
            np.matmul(ws.inputs[l].T, dZ, out=self.grad_W[l])
            if l == 0:
                break
            dH = np.matmul(dZ, self.weights[l].T, out=ws.deltas[l - 1])
            dZ = self._through_activation(ws, l - 1, dH)
