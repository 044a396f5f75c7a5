"""Learning-rate schedules: constant, step, cosine, each with optional linear warm-up.

The learning rate for optimizer step ``s`` (0-based: ``s`` steps already taken)
is ``base_lr * warmup(s) * decay(s)``, with ``S`` steps per epoch, ``T = epochs * S``
steps in all and ``W = warmup_epochs * S`` warm-up steps (fractions allowed):

    warmup(s) = min(1, (s + 1) / W)                     1 when W = 0; never 0, so step 0 moves
    constant:  decay(s) = 1
    step:      decay(s) = gamma ** floor(epoch / step_size),   epoch = floor(s / S), counted from the start
    cosine:    decay(s) = f + (1 - f) (1 + cos(pi u)) / 2,     u = clip((s - W) / (T - W), 0, 1)
               (f = min_lr_fraction: from lr down to lr * f over the steps after warm-up)

A user override mid-run (the trainer's ``set_lr``) calls
:meth:`Schedule.rebase`: from that step on the user's value holds right away
and the rest of the schedule keeps its shape, scaled to pass through it:

    lr(s) = new_lr * decay(s) / decay(at_step)     for s >= at_step

Warm-up ends at a rebase (the user has taken over). If ``decay(at_step)`` is 0
(a cosine that already reached a zero floor) the new value simply stays
constant. Steps before ``at_step`` keep the values they had.
"""

from __future__ import annotations

import bisect
import math

from nn.config import TrainConfig


class Schedule:
    """The learning rate of every step of a run; see the module docstring for the formulas."""

    def __init__(self, config: TrainConfig, steps_per_epoch: int):
        if isinstance(steps_per_epoch, bool) or not isinstance(steps_per_epoch, int) or steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch must be a positive integer, got {steps_per_epoch!r}")
        self.kind = config.schedule
        self.base_lr = config.lr
        self.steps_per_epoch = steps_per_epoch
        self.total_steps = config.epochs * steps_per_epoch
        self.warmup_steps = config.warmup_epochs * steps_per_epoch  # may be fractional
        self.step_size = config.step_size
        self.gamma = config.step_gamma
        self.min_fraction = config.min_lr_fraction
        # Segments from a start step on: (lr scale, warm-up on?, decay on?); rebase() appends one.
        self._starts: list[int] = [0]
        self._segments: list[tuple[float, bool, bool]] = [(self.base_lr, True, True)]

    def warmup(self, step: int) -> float:
        if self.warmup_steps <= 0:
            return 1.0
        return min(1.0, (step + 1) / self.warmup_steps)

    def decay(self, step: int) -> float:
        if self.kind == "constant":
            return 1.0
        if self.kind == "step":
            epoch = step // self.steps_per_epoch
            return self.gamma ** (epoch // self.step_size)
        if self.kind == "cosine":
            span = self.total_steps - self.warmup_steps
            u = 1.0 if span <= 0 else min(1.0, max(0.0, (step - self.warmup_steps) / span))
            return self.min_fraction + (1.0 - self.min_fraction) * 0.5 * (1.0 + math.cos(math.pi * u))
        raise ValueError(f"unknown schedule {self.kind!r}; choose constant, step or cosine")

    def lr(self, step: int) -> float:
        """Learning rate for optimizer step ``step`` (0-based)."""
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise ValueError(f"step must be a non-negative integer, got {step!r}")
        i = bisect.bisect_right(self._starts, step) - 1
        scale, warm, decays = self._segments[i]
        return scale * (self.warmup(step) if warm else 1.0) * (self.decay(step) if decays else 1.0)

    __call__ = lr

    def rebase(self, new_lr: float, at_step: int) -> None:
        """From step ``at_step`` on, run at ``new_lr`` and keep the schedule's shape from there."""
        if isinstance(new_lr, bool) or not isinstance(new_lr, (int, float)) or not math.isfinite(new_lr):
            raise ValueError(f"learning rate must be a finite number, got {new_lr!r}")
        if not 0 < new_lr <= 100:
            raise ValueError(f"learning rate must be in (0, 100], got {new_lr!r}")
        if isinstance(at_step, bool) or not isinstance(at_step, int) or at_step < 0:
            raise ValueError(f"at_step must be a non-negative integer, got {at_step!r}")
        d = self.decay(at_step)
        # d == 0 only when a cosine has reached a zero floor: nothing left to follow, hold the value.
        segment = (new_lr / d, False, True) if d > 0 else (new_lr, False, False)
        i = bisect.bisect_left(self._starts, at_step)
        del self._starts[i:], self._segments[i:]  # a rebase replaces any later one
        self._starts.append(at_step)
        self._segments.append(segment)


def lr_at(config: TrainConfig, step: int, steps_per_epoch: int) -> float:
    """The learning rate of step ``step`` (0-based) under ``config``'s schedule."""
    return Schedule(config, steps_per_epoch).lr(step)
