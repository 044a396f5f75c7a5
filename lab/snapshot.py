"""A training run's phases and its progress record, as pages read it (a consistent, immutable copy)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lab.format import fmt_duration
from nn.events import EpochEvent, RunState

WAITING = "waiting"  # queued behind the server-wide limit
STARTING = "starting"  # slot acquired, trainer being built
FAILED = "failed"  # the trainer raised (message in ``error``)
TERMINAL_PHASES = {s.value for s in RunState if s.is_terminal} | {FAILED}


def is_active_phase(phase: str) -> bool:
    """Waiting, starting, running or paused: holds (or waits for) a training slot."""
    return phase not in TERMINAL_PHASES and phase != RunState.IDLE.value


@dataclass(frozen=True)
class DivergedBatch:
    """The batch whose loss exploded (or became NaN): not among a run's batch losses, but worth a look."""

    step: int  # 1-based global step it would have been
    loss: float  # the exploded value, or NaN / inf
    lr: float  # the learning rate it used


@dataclass(frozen=True)
class RunSnapshot:
    """A consistent, immutable copy of a run's progress, cheap enough to take several times a second."""

    run_id: str
    phase: str  # WAITING, STARTING, FAILED, or a RunState value
    reason: str
    error: str
    queue_position: int | None
    epochs_planned: int
    epoch: int  # epoch in progress (1-based), 0 before the first batch
    epochs_done: int
    batch: int
    batches_per_epoch: int
    step: int
    batch_losses: np.ndarray  # (steps,) float32
    batch_lrs: np.ndarray  # (steps,) float32
    lr_changes: tuple[tuple[int, float], ...]  # (step after which it applied, new lr), by the user
    epochs: tuple[EpochEvent, ...]
    samples_per_sec: float  # recent, NaN when unknown
    eta_seconds: float  # NaN when unknown
    elapsed_seconds: float  # time spent training (pauses excluded)
    current_lr: float
    diverged: DivergedBatch | None = None  # set when the run diverged at a batch
    over_budget: bool = False  # stopped because its training time reached the server's budget

    @property
    def progress(self) -> float:
        """Fraction of planned batches done, 0..1."""
        total = self.epochs_planned * max(self.batches_per_epoch, 1)
        return 0.0 if total == 0 or self.batches_per_epoch == 0 else min(1.0, self.step / total)

    @property
    def is_active(self) -> bool:
        """Waiting, starting, running or paused: holds (or waits for) a training slot."""
        return is_active_phase(self.phase)

    @property
    def val_acc(self) -> float:
        return self.epochs[-1].val_acc if self.epochs else float("nan")


# How a run ended, over its bar: "done" under a diverged run's status read as if it had completed.
_ENDED = {RunState.FINISHED.value: "done", RunState.STOPPED.value: "stopped", RunState.DIVERGED.value: "diverged",
          RunState.EARLY_STOPPED.value: "stopped early", FAILED: "failed"}


def progress_line(snap: RunSnapshot) -> str:
    """The line over a run's progress bar: "epoch 3 of 6, batch 100 of 313 · about 0:42 left"."""
    where = f"epoch {snap.epoch or 0} of {snap.epochs_planned}, batch {snap.batch} of {snap.batches_per_epoch or '?'}"
    if snap.phase in TERMINAL_PHASES:
        return f"{where} · {_ENDED.get(snap.phase, 'done')}"
    if snap.phase == RunState.PAUSED.value:
        return f"{where} · paused"
    if math.isfinite(snap.eta_seconds):
        return f"{where} · about {fmt_duration(snap.eta_seconds)} left"
    return where
