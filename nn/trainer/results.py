"""What a run reports: how it ended, and the learning rates a user set along the way."""

from __future__ import annotations

from dataclasses import dataclass, field

from nn.events import RunState


@dataclass(frozen=True)
class LrChange:
    """A learning rate set by the user during the run (for marking charts)."""

    step: int  # optimizer steps already taken when it applied (0-based index of its first step)
    epoch: int  # 1-based epoch of that step
    lr: float


@dataclass
class TrainResult:
    """How a run ended."""

    state: RunState
    reason: str  # plain language; empty when the run simply finished
    epochs_done: int  # completed epochs (with validation)
    history: list[dict[str, float]] = field(default_factory=list)  # one row per epoch, as in history()
    seconds: float = 0.0  # time spent training (pauses excluded)
    steps: int = 0  # optimizer steps taken
    best_epoch: int | None = None  # epoch of the lowest validation loss (None without validation)
    shared_by: str = ""  # "2 processes" or "2 threads" when a team shared the batches, else ""
