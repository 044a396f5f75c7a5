"""What each member of a team computes in a training step and in inference (a mixin of :class:`Engine`).

A step with a team (nn/engine/threads.py, nn/engine/processes.py) is one job in two phases. First by
batch rows (:meth:`Shares.forward_share`): each member takes its rows through the forward pass, the loss
and back to its rows of every dZ_l, all of which is row by row. Then, once every member is through, by
slices of the flat parameter buffer (:meth:`Shares.weight_share`): each member forms the gradient of its
slice and updates it right away, while it is still in the CPU cache. Nothing is left to one member alone
in between. The shares are disjoint, so the result is the single-thread step's up to float rounding.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from nn.engine.threads import shares
from nn.engine.loss import softmax_cross_entropy_counted


class Shares:
    """The per-member parts of :class:`nn.engine.step.Engine` (uses its buffers and bound arrays)."""

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
        :meth:`nn.engine.flat_optim.FlatOptimizer.update_slice`), with a few NumPy calls for the whole slice.
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

    def eval_share(self, k: int, parts: int, rows: int, gather: bool = False) -> None:
        """Member k of ``parts``: inference for its share of the first ``rows`` rows of the shared eval block.

        With ``gather``, the block is the batch source's rows listed in the shared eval indices,
        which this member converts first.
        """
        share = shares(rows, parts)[k]
        if gather:
            self._convert(self._eval_idx[share], out=self._eval_x[share])
        self._eval_rows(self._eval_x, self._eval_logits, share)

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
            total = self._grads.size
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
