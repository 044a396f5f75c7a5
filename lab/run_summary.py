"""What a finished (or running) training run showed, as the numbers a lesson or a leaderboard checks.

A ``RunSummary`` is built from a run's progress record (``RunSnapshot``) and its config; it holds no
model and no big arrays, so a session can keep a few dozen of them. ``metric(name)`` reads one of the
named ``METRICS`` (NaN when the run cannot tell, e.g. no validation set).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from lab.params import config_to_knobs
from lab.snapshot import RunSnapshot, is_active_phase
from nn.config import TrainConfig
from nn.events import RunState

METRICS: dict[str, str] = {
    "diverged": "1 when the run diverged (the loss exploded or became NaN), else 0",
    "epochs_done": "epochs completed",
    "final_val_acc": "validation accuracy after the last epoch (0-1)",
    "best_val_acc": "best validation accuracy over the epochs (0-1)",
    "final_train_acc": "training accuracy over the last epoch's batches (0-1)",
    "gap": "training accuracy minus validation accuracy after the last epoch",
    "val_loss_rise": "last validation loss minus its lowest value (how far it climbed back up)",
    "loss_drop": "fraction by which the training loss fell from the first epoch to the last",
    "grad_ratio": "first layer's gradient norm divided by the last layer's, after the last epoch",
    "loss_noise": "spread of the last epoch's batch losses: std of step-to-step changes / mean loss",
}


@dataclass(frozen=True)
class RunSummary:
    """The numbers one run produced; tuples per epoch, the first epoch first."""

    run_id: str
    phase: str
    knobs: Mapping[str, Any]
    epochs_planned: int
    train_acc: tuple[float, ...] = ()
    val_acc: tuple[float, ...] = ()
    train_loss: tuple[float, ...] = ()
    val_loss: tuple[float, ...] = ()
    grad_norms: tuple[float, ...] = ()  # per layer, after the last epoch
    loss_noise: float = math.nan
    dataset: str = "mnist"  # what it trained on (lab/datasets.py)

    @property
    def is_active(self) -> bool:
        """Still waiting, starting, running or paused."""
        return is_active_phase(self.phase)

    def metric(self, name: str) -> float:
        """The value of metric ``name`` (one of ``METRICS``); NaN when this run cannot tell."""
        if name not in METRICS:
            raise KeyError(f"unknown metric {name!r}; known: {', '.join(METRICS)}")
        return float(_METRIC_FUNCS[name](self))


def _last(values: tuple[float, ...]) -> float:
    return values[-1] if values else math.nan


def _finite_max(values: tuple[float, ...]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return max(finite) if finite else math.nan


def _loss_drop(s: RunSummary) -> float:
    if not s.train_loss or not s.train_loss[0]:
        return math.nan
    return (s.train_loss[0] - s.train_loss[-1]) / s.train_loss[0]


def _val_loss_rise(s: RunSummary) -> float:
    finite = [v for v in s.val_loss if math.isfinite(v)]
    return finite[-1] - min(finite) if finite else math.nan


def _grad_ratio(s: RunSummary) -> float:
    if len(s.grad_norms) < 2 or not s.grad_norms[-1]:
        return math.nan
    return s.grad_norms[0] / s.grad_norms[-1]


_METRIC_FUNCS = {
    "diverged": lambda s: 1.0 if s.phase == RunState.DIVERGED.value else 0.0,
    "epochs_done": lambda s: len(s.train_acc),
    "final_val_acc": lambda s: _last(s.val_acc),
    "best_val_acc": lambda s: _finite_max(s.val_acc),
    "final_train_acc": lambda s: _last(s.train_acc),
    "gap": lambda s: _last(s.train_acc) - _last(s.val_acc),
    "val_loss_rise": _val_loss_rise,
    "loss_drop": _loss_drop,
    "grad_ratio": _grad_ratio,
    "loss_noise": lambda s: s.loss_noise,
}


def loss_noise(batch_losses: np.ndarray, batches_per_epoch: int) -> float:
    """Std of the step-to-step change of the last epoch's batch losses, over their mean (NaN if too few)."""
    last = np.asarray(batch_losses, dtype=np.float64)[-max(batches_per_epoch, 1):]
    last = last[np.isfinite(last)]
    if last.size < 3 or last.mean() <= 0:
        return math.nan
    return float(np.std(np.diff(last)) / last.mean())


def summarize(snap: RunSnapshot, config: TrainConfig, dataset: str = "mnist") -> RunSummary:
    """The summary of a run from its progress record, config and dataset."""
    epochs = snap.epochs
    return RunSummary(
        run_id=snap.run_id,
        phase=snap.phase,
        knobs=config_to_knobs(config),
        epochs_planned=snap.epochs_planned,
        train_acc=tuple(float(e.train_acc) for e in epochs),
        val_acc=tuple(float(e.val_acc) for e in epochs),
        train_loss=tuple(float(e.train_loss) for e in epochs),
        val_loss=tuple(float(e.val_loss) for e in epochs),
        grad_norms=tuple(float(g) for g in epochs[-1].grad_norms) if epochs else (),
        loss_noise=loss_noise(snap.batch_losses, snap.batches_per_epoch),
        dataset=dataset,
    )


def summarize_run(run: Any) -> RunSummary:
    """The summary of a ``TrainingRun`` (any thread)."""
    return summarize(run.snapshot(), run.config, run.dataset)
