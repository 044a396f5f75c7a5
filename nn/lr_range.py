"""The learning-rate range test (Smith 2017, "Cyclical learning rates for training neural networks", sec. 3.3).

Train a copy of the network for a few hundred batches while the learning rate grows exponentially
from ``lr_min`` to ``lr_max``; plot the loss against the rate. While the rate is too small the loss
barely moves; then it falls fastest; past some rate the steps overshoot and the loss climbs and
explodes. A good rate sits below that turn: the suggestion here is a tenth of the rate at which the
smoothed loss was lowest (the rule of thumb of Smith and of fastai's ``lr_find``).

It uses the textbook (nn/model.py, nn/optim.py) and the same random streams as nn/fit.py and the
trainer (split, initial weights, shuffling, dropout, augmentation from ``config.seed``), so its first
batch is the first batch the run itself would train on, and the run is left untouched.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nn.augment import augment_batch
from nn.config import TrainConfig
from nn.data import split_indices, to_float
from nn.model import MLP
from nn.optim import make_optimizer

STOP_FACTOR = 4.0  # the test ends once the smoothed loss is this many times its lowest value
BETA = 0.98  # smoothing of the loss: an exponential moving average, bias-corrected
_MAX_LR = {"sgd": 10.0, "momentum": 10.0, "nesterov": 10.0, "adam": 1.0, "adamw": 1.0}


@dataclass(frozen=True)
class RangeTest:
    """The rate and loss of every step taken, the smoothed loss, and what it suggests."""

    lrs: np.ndarray  # (k,) the learning rate of each step, growing exponentially
    losses: np.ndarray  # (k,) each batch's loss before its step
    smoothed: np.ndarray  # (k,) the smoothed loss
    best_lr: float  # where the smoothed loss was lowest
    suggested_lr: float  # best_lr / 10
    stopped_early: bool  # the loss exploded before lr_max was reached


def lr_range_test(config: TrainConfig, images: np.ndarray, labels: np.ndarray, *, steps: int = 200,
                  lr_min: float = 1e-6, lr_max: float | None = None) -> RangeTest:
    """Sweep the learning rate over ``steps`` batches on a fresh network built as ``config``'s run would be.

    images: (N, 28, 28) or (N, 784) uint8; labels: (N,). ``lr_max`` defaults to 1 for Adam(W) and 10
    for the SGD family.
    """
    lr_max = _MAX_LR[config.optimizer] if lr_max is None else lr_max
    if not (math.isfinite(lr_min) and math.isfinite(lr_max) and 0 < lr_min < lr_max <= 100):
        raise ValueError(f"need 0 < lr_min < lr_max <= 100, got {lr_min!r} and {lr_max!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or not 10 <= steps <= 10_000:
        raise ValueError(f"steps must be an integer in [10, 10000], got {steps!r}")
    split_seed, init_seed, shuffle_seed, dropout_seed, augment_seed = np.random.SeedSequence(config.seed).spawn(5)
    split_rng, shuffle_rng = np.random.default_rng(split_seed), np.random.default_rng(shuffle_seed)
    dropout_rng, augment_rng = np.random.default_rng(dropout_seed), np.random.default_rng(augment_seed)
    train_idx, _ = split_indices(len(images), config.val_size, split_rng)
    if config.train_subset is not None and config.train_subset < train_idx.size:
        train_idx = np.sort(split_rng.choice(train_idx, config.train_subset, replace=False))

    model = MLP(config.model, np.random.default_rng(init_seed))  # the copy: the run builds its own
    optimizer = make_optimizer(config.replace(lr=lr_min), model.parameters())
    batch_size = min(config.batch_size, train_idx.size)
    dropout = dropout_rng if any(p > 0 for p in config.model.dropouts) else None
    rates = lr_min * (lr_max / lr_min) ** (np.arange(steps) / (steps - 1))   # lr_i = lr_min (lr_max/lr_min)^(i/(k-1))
    losses, smoothed, average, lowest = [], [], 0.0, math.inf
    order, at = shuffle_rng.permutation(train_idx), 0
    for i, lr in enumerate(rates):
        if at + batch_size > order.size:  # a new epoch: shuffle again, as the run would
            order, at = shuffle_rng.permutation(train_idx), 0
        idx = order[at : at + batch_size]
        at += batch_size
        X, y = model.check_X(to_float(images[idx])), labels[idx]
        if config.augment.enabled:
            X = augment_batch(X, config.augment, augment_rng)
        optimizer.lr = float(lr)
        loss, dW, db = model.loss_and_gradients(X, y, rng=dropout)
        optimizer.step([g for pair in zip(dW, db) for g in pair])
        average = BETA * average + (1 - BETA) * loss
        smooth = average / (1 - BETA ** (i + 1))                          # bias correction, as in Adam
        losses.append(loss)
        smoothed.append(smooth)
        lowest = min(lowest, smooth)
        if not math.isfinite(smooth) or smooth > STOP_FACTOR * lowest:
            break
    smoothed_arr = np.asarray(smoothed)
    best = float(rates[int(np.nanargmin(np.where(np.isfinite(smoothed_arr), smoothed_arr, np.nan)))])
    return RangeTest(lrs=rates[: len(losses)], losses=np.asarray(losses), smoothed=smoothed_arr, best_lr=best,
                     suggested_lr=best / 10, stopped_early=len(losses) < steps)
