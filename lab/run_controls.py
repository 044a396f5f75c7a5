"""Which of the Train page's run controls a run's phase allows: one answer for drawing them and for
noticing that the buttons on screen have gone stale.

The buttons are drawn by a full script run, while the status above the charts redraws itself on a timer;
when the phase moves on (a "+1 epoch" that reached its pause, a run that ended) the page compares the
controls it drew with the ones the phase now calls for and redraws everything when they differ.
"""

from __future__ import annotations

from dataclasses import dataclass

from lab.snapshot import TERMINAL_PHASES, is_active_phase
from nn.events import RunState


@dataclass(frozen=True)
class ControlState:
    """What the run controls show: True means the button is there and can be pressed."""

    start: bool
    pause: bool  # Pause (shown, greyed out, when there is nothing to pause)
    resume: bool  # Resume in Pause's place
    step: bool  # "+1 epoch" and "+1 batch"
    stop: bool
    reset: bool
    download: bool  # the model's weights are still (paused) or finished
    live_lr: bool  # the learning rate of the running training


def control_state(phase: str | None, *, can_start: bool, has_model: bool) -> ControlState:
    """The controls for a run in ``phase`` (None: no run).

    ``can_start``: the knobs make a valid network that fits; ``has_model``: a run or an uploaded model
    exists (what Reset forgets).
    """
    active = phase is not None and is_active_phase(phase)
    paused = phase == RunState.PAUSED.value
    return ControlState(
        start=can_start and not active,
        pause=active and not paused,
        resume=paused,
        # Paused: step the run. No run, or one that ended: a new run starts paused and steps.
        step=paused or (can_start and not active),
        stop=active,
        reset=has_model,
        download=has_model and (paused or phase is None or phase in TERMINAL_PHASES),
        live_lr=active,
    )
