"""What else happens when a training run ends (e.g. the class records it): hooks called by the run's thread.

A hook failing never disturbs the run: its error is logged and the other hooks still run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

_HOOKS: list[Callable[[Any], None]] = []
_LOCK = threading.Lock()
_log = logging.getLogger(__name__)


def add_end_hook(hook: Callable[[Any], None]) -> None:
    """Call ``hook(run)`` whenever a ``TrainingRun`` ends (once per hook, however often it is added)."""
    with _LOCK:
        if hook not in _HOOKS:
            _HOOKS.append(hook)


def remove_end_hook(hook: Callable[[Any], None]) -> None:
    with _LOCK:
        if hook in _HOOKS:
            _HOOKS.remove(hook)


def run_ended(run: Any) -> None:
    """Called by the run's thread after its result is known."""
    with _LOCK:
        hooks = list(_HOOKS)
    for hook in hooks:
        try:
            hook(run)
        except Exception:  # noqa: BLE001 (a hook must never break a run)
            _log.exception("a run-end hook failed for run %s", getattr(run, "run_id", "?"))
