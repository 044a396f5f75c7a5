"""Which weights a page shows, in words: "weights at the end of epoch 2 of 40 (live: training goes on)".

Evaluate and Inspect show a copy of a run's weights taken at an epoch's end (or at a pause); while the
run goes on, the sidebar's newer validation accuracy would otherwise look like a regression.
"""

from __future__ import annotations

from dataclasses import dataclass

from lab.snapshot import FAILED, STARTING, WAITING
from nn.events import RunState


@dataclass(frozen=True)
class CopyPoint:
    """Where in its run a copy of the weights was taken."""

    epochs_done: int  # completed epochs
    batch: int  # batches done in the epoch in progress (== batches_per_epoch at an epoch's end)
    batches_per_epoch: int
    epochs_planned: int


_SUFFIX = {
    RunState.RUNNING.value: " (live: training goes on)",
    WAITING: " (live)",
    STARTING: " (live)",
    RunState.PAUSED.value: " (paused)",
    RunState.FINISHED.value: "",
    RunState.STOPPED.value: " (the run was stopped)",
    FAILED: " (the run failed)",
}


def weights_label(point: CopyPoint, phase: str) -> str:
    """The weights at ``point`` of a run now in ``phase``, as a page says it."""
    if phase == RunState.DIVERGED.value:
        return "the last good weights before the run diverged"
    if phase == RunState.EARLY_STOPPED.value:
        return "the weights of the best epoch (the run stopped early)"
    planned = point.epochs_planned
    in_progress = 0 < point.batch < point.batches_per_epoch
    if point.epochs_done == 0 and not in_progress:
        where = "the initial random weights, before any training"
    elif in_progress:
        where = (f"weights after batch {point.batch} of {point.batches_per_epoch} in epoch "
                 f"{point.epochs_done + 1} of {planned}")
    else:
        where = f"weights at the end of epoch {point.epochs_done} of {planned}"
    return where + _SUFFIX.get(phase, "")
