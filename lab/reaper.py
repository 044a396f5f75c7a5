"""The server-wide registry of live training runs, and the reaper thread that stops runs whose tab is gone.

A run's tab is gone when ``tab_gone()`` was called (a session-scoped cache's ``on_release``) more than
a grace period ago, or when its heartbeat stopped; the reaper then stops the run and drops its memory.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lab.training_run import TrainingRun

_RUNS: dict[str, TrainingRun] = {}
_RUNS_LOCK = threading.Lock()
_REAPER: threading.Thread | None = None


def register(run: TrainingRun) -> None:
    """Add a starting run to the registry, and start the reaper if none is running."""
    global _REAPER
    with _RUNS_LOCK:
        _RUNS[run.run_id] = run
        if _REAPER is None or not _REAPER.is_alive():
            _REAPER = threading.Thread(target=_reap_forever, name="train-reaper", daemon=True)
            _REAPER.start()


def unregister(run: TrainingRun) -> None:
    with _RUNS_LOCK:
        _RUNS.pop(run.run_id, None)


def live_runs() -> list[TrainingRun]:
    """Runs whose thread has not ended yet (any session)."""
    with _RUNS_LOCK:
        return list(_RUNS.values())


def reap_orphans(now: float | None = None) -> list[str]:
    """Stop every live run whose tab is gone and release its memory; return their ids."""
    reaped = []
    for run in live_runs():
        if run.is_orphan(now):
            run.stop()
            run.join(timeout=5.0)
            run.release()
            reaped.append(run.run_id)
    return reaped


def _reap_forever(period_s: float = 1.0) -> None:
    """Check once a second; exit when no run is left (the next run starts a new reaper)."""
    while True:
        time.sleep(period_s)
        reap_orphans()
        with _RUNS_LOCK:
            if not _RUNS:
                global _REAPER
                _REAPER = None
                return


def stop_all(timeout: float = 5.0) -> None:
    """Stop every live run and wait for the threads (tests' teardown, server shutdown)."""
    runs = live_runs()
    for run in runs:
        run.stop()
    for run in runs:
        run.join(timeout)
