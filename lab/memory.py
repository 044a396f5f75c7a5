"""How much memory one training run may plan to use, and how much a configuration would need."""

from __future__ import annotations

import os

import numpy as np

from lab.settings import max_trainings_setting
from nn.config import TrainConfig
from nn.memory import memory_headroom
from nn.model import param_count
from nn.trainer import memory_estimate
from nn.trainer.telemetry import INNER_FRACTIONS


def memory_budget_bytes() -> int:
    """How much memory one run may plan to use: ``MNIST_RUN_MEMORY_MB`` if set, else a share of what is free.

    Each of the ``MNIST_MAX_TRAININGS`` simultaneous runs gets an equal share of half the currently
    available memory (the other half stays for the shared dataset, the server and the pages).
    """
    raw = os.environ.get("MNIST_RUN_MEMORY_MB")
    if raw:
        try:
            return max(1, int(float(raw) * 2**20))
        except ValueError:
            pass
    available = _available_memory_bytes()
    return int(available * 0.5 / max_trainings_setting()[0])


def _available_memory_bytes() -> int:
    """What this server process may still allocate: the tightest of free memory, its cgroup and its rlimit."""
    room = memory_headroom().bytes
    return room if room is not None else 2 * 2**30  # unknown platform: assume a modest machine


def run_memory_bytes(config: TrainConfig) -> int:
    """What a run will allocate: the engine's estimate plus evaluation blocks, filter snapshots and the timeline."""
    eval_rows = 4096  # the model evaluates in blocks of this many rows
    itemsize = np.dtype(config.model.dtype).itemsize
    evaluation = eval_rows * (sum(config.model.hidden) * 2 + config.model.n_classes * 2) * itemsize
    w1 = config.model.layer_sizes[0] * config.model.layer_sizes[1] * itemsize
    snapshots = min(config.snapshot_budget_bytes, w1 * (config.epochs + 1))
    timeline = min(config.snapshot_budget_bytes, timeline_need_bytes(config))
    return memory_estimate(config.model, config.batch_size, config.optimizer) + evaluation + snapshots + timeline


def timeline_need_bytes(config: TrainConfig) -> int:
    """The whole network's copies a run would keep with no budget: start, inside epoch 1, epoch ends, end."""
    copies = 1 + len(INNER_FRACTIONS) + config.epochs + 1
    return param_count(config.model) * np.dtype(config.model.dtype).itemsize * copies
