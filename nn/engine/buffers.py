"""The engine's preallocated buffers: one workspace per batch size, and what a run needs in memory.

Why: a training step that allocates its activations, deltas and derivative buffers anew each batch
spends a noticeable share of a small network's step in the allocator and in page faults. The engine
writes every step into these buffers with ``out=`` and in-place operators instead. They live in memory
a forked worker process shares (nn/engine/processes.py), so a process team works on them from both sides.
"""

from __future__ import annotations

import numpy as np

from nn.config import ModelConfig
from nn.engine.processes import shared_zeros
from nn.model import param_count

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


class Workspace:
    """Preallocated buffers for training passes over batches of exactly ``n`` rows.

    ``x`` and ``y`` hold the batch when a team shares it.
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


def share_parameters(model) -> None:
    """Move ``model``'s flat parameter buffer into memory a forked worker shares (values kept).

    For a process team only, before anything takes views of the parameters (the trainer calls it
    first thing): ``model.weights`` and ``model.biases`` are cut anew from the shared buffer.
    """
    flat = shared_zeros(model._params.size, model.dtype)
    flat[...] = model._params
    model._params = flat
    model.weights, model.biases = model.views(flat)
