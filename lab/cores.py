"""Share the machine's cores between running trainings: thread teams only while they fit."""

from __future__ import annotations

from lab.reaper import live_runs
from nn.events import RunState


def share_cores(cores: int | None = None) -> None:
    """Let running trainings use their thread teams only while the teams fit on the cores.

    A team (nn/engine/threads.py) speeds up a run that has the machine to itself; teams that
    outnumber the cores slow every run down, so with more running trainings than
    cores / team size each keeps to one thread. Called whenever a run starts, pauses,
    resumes or ends.
    """
    from nn.trainer import default_team_size, usable_cores

    running = [run for run in live_runs() if run.trainer is not None and run.phase == RunState.RUNNING.value]
    fits = len(running) * default_team_size() <= (cores or usable_cores())
    for run in running:
        allow = getattr(run.trainer, "allow_team", None)  # a test's stand-in trainer may not have it
        if allow is not None:
            allow(fits)


def spare_cores() -> int:
    """Cores no running training is using (at least 1): for a one-off computation of a page to spread over."""
    from nn.trainer import usable_cores

    running = sum(1 for run in live_runs() if run.phase == RunState.RUNNING.value)
    return max(1, usable_cores() - running)
