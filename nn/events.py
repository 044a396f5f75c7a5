"""What a training run reports while it runs.

The trainer never prints: it hands these small, immutable records to a
callback (or yields them), and whoever listens (the CLI's progress bar, the
dashboard's live charts, a test) decides what to show.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class RunState(str, Enum):
    """Lifecycle of a run. Terminal states: FINISHED, STOPPED, DIVERGED, EARLY_STOPPED."""

    IDLE = "idle"
    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"  # ran every epoch
    STOPPED = "stopped"  # the user asked it to stop
    DIVERGED = "diverged"  # non-finite loss or weights; last good weights restored
    EARLY_STOPPED = "early_stopped"  # validation loss stopped improving; best weights restored

    @property
    def is_terminal(self) -> bool:
        return self in (RunState.FINISHED, RunState.STOPPED, RunState.DIVERGED, RunState.EARLY_STOPPED)


@dataclass(frozen=True)
class BatchEvent:
    """After every optimizer step."""

    epoch: int  # 1-based epoch this batch belongs to
    batch: int  # 1-based index within the epoch
    batches_per_epoch: int
    step: int  # 1-based global step count
    loss: float  # mean cross-entropy of this batch (plus nothing: L2 is not included)
    lr: float  # learning rate used for this step


@dataclass(frozen=True)
class EpochEvent:
    """After every completed epoch."""

    epoch: int  # 1-based
    epochs: int  # planned total
    train_loss: float  # mean over the epoch's batches (dropout active)
    train_acc: float  # fraction correct over the epoch's batches
    val_loss: float  # NaN when there is no validation set
    val_acc: float
    lr: float  # learning rate at the end of the epoch
    seconds: float  # wall time of this epoch, training and validation
    samples_per_sec: float
    # The per-layer numbers below are empty when the trainer was asked not to compute them
    # (Trainer(layer_statistics=False), as the command line does).
    weight_norms: tuple[float, ...] = ()  # Frobenius norm of each W, layer 1 first
    grad_norms: tuple[float, ...] = ()  # norm of each layer's last dL/dW
    dead_fraction: tuple[float, ...] = ()  # per hidden layer: units never active on the validation sample
    # Per layer, the values of W and of its last gradient at DISTRIBUTION_QUANTILES: how each layer's
    # distribution moves over the epochs, in a few numbers instead of a histogram per epoch.
    weight_quantiles: tuple[tuple[float, ...], ...] = ()
    grad_quantiles: tuple[tuple[float, ...], ...] = ()


DISTRIBUTION_QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


def quantile_name(q: float) -> str:
    """Column-name form of a quantile: 0.05 -> 'q05' (history columns are e.g. 'weight_q05_1')."""
    return f"q{round(q * 100):02d}"


@dataclass(frozen=True)
class StateEvent:
    """Whenever the run changes state (started, paused, resumed, ended)."""

    state: RunState
    reason: str = ""  # plain language, e.g. why it diverged and what to try
    # DIVERGED at a batch: that batch's loss (NaN, infinite or exploded) and learning rate. The batch is
    # not in the run's record (its update was not kept), but a chart should show the explosion itself.
    batch_loss: float | None = None
    batch_lr: float | None = None


Event = BatchEvent | EpochEvent | StateEvent
