"""The server-wide registry of live training runs and of departed tabs, and the reaper thread that frees them.

A run's tab is gone when ``tab_gone()`` was called (a session-scoped cache's ``on_release``) more than
a grace period ago, or when its heartbeat stopped; the reaper then stops the run and drops its memory.
A departed tab (a ``Leaver``: whatever a browser session owns, finished runs and uploads included) is
released once it has been gone for the grace period without coming back. After releasing anything the
reaper hands the memory back to the operating system (lab/reclaim.py).
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Protocol

from lab import settings
from lab.reclaim import reclaim_memory

if TYPE_CHECKING:
    from lab.training_run import TrainingRun


class Leaver(Protocol):
    """What a browser session leaves behind: when it left (None once it is back), and how to free it."""

    @property
    def left_at(self) -> float | None: ...  # time.monotonic() of the departure

    def release(self) -> None: ...


_RUNS: dict[str, TrainingRun] = {}
_LEAVERS: dict[int, Leaver] = {}
_RUNS_LOCK = threading.Lock()
_REAPER: threading.Thread | None = None


def register(run: TrainingRun) -> None:
    """Add a starting run to the registry, and start the reaper if none is running."""
    with _RUNS_LOCK:
        _RUNS[run.run_id] = run
        _ensure_reaper()


def unregister(run: TrainingRun) -> None:
    with _RUNS_LOCK:
        _RUNS.pop(run.run_id, None)


def watch(leaver: Leaver) -> None:
    """Release ``leaver`` once it has been gone for the grace period (unless it comes back first)."""
    with _RUNS_LOCK:
        _LEAVERS[id(leaver)] = leaver
        _ensure_reaper()


def _ensure_reaper() -> None:
    global _REAPER
    if _REAPER is None or not _REAPER.is_alive():
        _REAPER = threading.Thread(target=_reap_forever, name="train-reaper", daemon=True)
        _REAPER.start()


def live_runs() -> list[TrainingRun]:
    """Runs whose thread has not ended yet (any session)."""
    with _RUNS_LOCK:
        return list(_RUNS.values())


def watched() -> list[Leaver]:
    """Departed tabs not released yet."""
    with _RUNS_LOCK:
        return list(_LEAVERS.values())


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


def reap_leavers(now: float | None = None) -> int:
    """Release every departed tab gone longer than the grace period; forget those that came back."""
    now = time.monotonic() if now is None else now
    released = 0
    for leaver in watched():
        left = leaver.left_at
        if left is not None and now - left <= settings.TAB_GONE_GRACE_S:
            continue  # still within the grace period: a reconnect may bring it back
        if left is not None:
            leaver.release()
            released += 1
        with _RUNS_LOCK:
            _LEAVERS.pop(id(leaver), None)
    return released


def reap(now: float | None = None) -> int:
    """One pass of the reaper: orphaned runs, then departed tabs; the memory goes back to the OS."""
    freed = len(reap_orphans(now)) + reap_leavers(now)
    if freed:
        reclaim_memory()
    return freed


def _reap_forever(period_s: float = 1.0) -> None:
    """Check once a second; exit when nothing is left to watch (the next run or departure starts a new one)."""
    global _REAPER
    while True:
        time.sleep(period_s)
        reap()
        with _RUNS_LOCK:
            if not _RUNS and not _LEAVERS:
                _REAPER = None
                return


def stop_all(timeout: float = 5.0) -> None:
    """Stop every live run and wait for the threads (tests' teardown, server shutdown)."""
    runs = live_runs()
    for run in runs:
        run.stop()
    for run in runs:
        run.join(timeout)
