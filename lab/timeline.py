"""One timeline for every view of a run: the network at each kept checkpoint, how to name it, the URL value.

A run keeps copies of the whole network (``nn.trainer.telemetry.Checkpoint``: the start, a few points
inside epoch 1, every epoch's end, where it ended). Rewinding a page to one of them builds the network
from that copy, so every number the page computes is the number of the model at that point, exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from nn.config import ModelConfig
from nn.model import MLP, param_count
from nn.trainer.telemetry import Checkpoint

MAX_POSITION_CHARS = 16  # a URL's epoch value longer than this is refused without being parsed


def model_at(config: ModelConfig, checkpoint: Checkpoint) -> MLP:
    """A network of ``config`` holding the weights of ``checkpoint`` (a ValueError if they do not fit)."""
    expected = param_count(config)
    if checkpoint.params.shape != (expected,):
        raise ValueError(f"the checkpoint holds {checkpoint.params.size} numbers; this network has {expected}")
    model = MLP(config, np.random.default_rng(0))
    weights, biases = model.views(checkpoint.params)
    model.set_params([a for pair in zip(weights, biases) for a in pair])
    return model


def label(checkpoint: Checkpoint) -> str:
    """A short name for the slider: "start", "epoch 1 · batch 27/430", "epoch 3", "end (epoch 3 · batch 12)"."""
    step, bpe = checkpoint.step, checkpoint.batches_per_epoch
    if checkpoint.kind == "start":
        return "start"
    done, batch = divmod(step, bpe) if bpe else (0, step)
    where = f"epoch {done}" if batch == 0 else f"epoch {done + 1} · batch {batch}/{bpe}"
    return f"end ({where})" if checkpoint.kind == "end" else where


def describe(checkpoint: Checkpoint, epochs_planned: int, *, live: bool = False) -> str:
    """What a panel says it shows: "epoch 3 of 8 (live)", "the random start (epoch 0 of 8)", ..."""
    suffix = " (live)" if live else ""
    step, bpe = checkpoint.step, checkpoint.batches_per_epoch
    if checkpoint.kind == "start":
        return f"the random start (epoch 0 of {epochs_planned}){suffix}"
    done, batch = divmod(step, bpe) if bpe else (0, step)
    if batch == 0:
        where = f"epoch {done} of {epochs_planned}"
    else:
        where = f"epoch {done + 1} of {epochs_planned}, after batch {batch} of {bpe}"
    if checkpoint.kind == "end":
        return f"the end of the run ({where}){suffix}"
    return where + suffix


def url_value(checkpoint: Checkpoint) -> str:
    """The checkpoint's position for the URL: epochs, at most 4 decimals ("3", "0.0628")."""
    return f"{round(checkpoint.position, 4):g}"


def parse_position(text: object) -> float | None:
    """A URL's epoch value as a position in epochs, or None if it is not a short, finite, non-negative number."""
    if not isinstance(text, str) or not 0 < len(text.strip()) <= MAX_POSITION_CHARS:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def nearest(checkpoints: Sequence[Checkpoint], position: float) -> int:
    """Index of the checkpoint closest to ``position`` (the later one on a tie); the list must not be empty."""
    if not checkpoints:
        raise ValueError("no checkpoints to choose from")
    distances = [abs(c.position - position) for c in checkpoints]
    best = min(distances)
    return max(i for i, d in enumerate(distances) if d == best)


def timeline_bytes(checkpoints: Sequence[Checkpoint]) -> int:
    """Memory the checkpoints hold."""
    return sum(c.nbytes for c in checkpoints)
