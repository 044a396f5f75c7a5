"""A learner's walk through training steps: the float64 copy they step, its optimizer, the steps taken.

Streamlit-free: the page keeps one :class:`StepSession` in its session state and rebuilds it when the
model it came from changes (a new epoch, another upload) or when the learner resets it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lab.labels import noun
from lab.step_through import Batch, float64_copy
from lab.step_update import StepResult, take_step
from nn.config import TrainConfig
from nn.model import MLP
from nn.optim import Optimizer, make_optimizer

MAX_DIGITS = 8  # a batch the page can show number by number


@dataclass
class StepSession:
    """The copy a learner steps: ``model`` (float64), ``optimizer`` (the run's rule and settings), ``steps``."""

    origin: str  # which model the copy came from (a model version), to notice when it changes
    config: TrainConfig
    model: MLP
    optimizer: Optimizer
    steps: list[StepResult] = field(default_factory=list)

    @classmethod
    def start(cls, origin: str, model: MLP, config: TrainConfig,
              state: tuple[int, list[dict[str, np.ndarray]]] | None = None) -> StepSession:
        """A float64 copy of ``model`` and the run's optimizer; ``state`` = (t, per-array state) continues
        the run's own optimizer (e.g. Adam's moments after its t steps) instead of starting it afresh."""
        copy = float64_copy(model)
        optimizer = make_optimizer(config, copy.parameters())
        if state is not None:
            t, per_array = state
            if len(per_array) != len(optimizer.params):
                raise ValueError(f"the optimizer state has {len(per_array)} arrays, the network {len(optimizer.params)}")
            optimizer.t = int(t)
            optimizer.state = [{k: np.array(v, dtype=np.float64) for k, v in s.items()} for s in per_array]
        return cls(origin, config, copy, optimizer)

    def step(self, batch: Batch) -> StepResult:
        """Exactly one step of the optimizer on ``batch``; the learner's own model is not touched."""
        result = take_step(self.model, self.optimizer, batch)
        self.steps.append(result)
        return result


def parse_digits(text: str, n_test: int) -> list[int]:
    """Test digit numbers from "12, 345 7": 1 to MAX_DIGITS of them, each in [0, n_test). ValueError says why."""
    parts = [p for p in text.replace(",", " ").split() if p]
    if not parts:
        raise ValueError(f"type the numbers of 1 to 8 test {noun(plural=True)}, e.g. 0, 7, 42")
    numbers = []
    for part in parts:
        if not part.isdigit() or len(part) > 6:
            raise ValueError(f"{part[:12]!r} is not a test {noun()} number (0 to {n_test - 1})")
        if int(part) >= n_test:
            raise ValueError(f"there are {n_test:,} test {noun(plural=True)}, numbered 0 to {n_test - 1}; {part} is past the end")
        numbers.append(int(part))
    numbers = list(dict.fromkeys(numbers))
    if len(numbers) > MAX_DIGITS:
        raise ValueError(f"pick at most {MAX_DIGITS} {noun(plural=True)} (a batch the page can show number by number), "
                         f"got {len(numbers)}")
    return numbers


def train_config_for(meta: dict[str, Any], fallback: TrainConfig) -> TrainConfig:
    """The run's training config from a model's meta (its optimizer and learning rate), else ``fallback``."""
    try:
        return TrainConfig.from_dict(meta["train_config"])
    except (KeyError, TypeError, ValueError):
        return fallback


def strongest_input(column: np.ndarray) -> int:
    """The input whose weight gets the largest gradient: the most instructive weight to look at first."""
    return int(np.argmax(np.abs(column)))
