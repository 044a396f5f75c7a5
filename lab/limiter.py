"""The server-wide limit on simultaneous trainings: at most N hold a slot, the rest wait first come first served."""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable

from lab.settings import max_trainings_setting


class RunLimiter:
    """At most ``capacity`` runs hold a slot; the others wait in arrival order."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity!r}")
        self.capacity = capacity
        self._cond = threading.Condition()
        self._active: set[str] = set()
        self._queue: collections.deque[str] = collections.deque()
        self.hold: Callable[[], bool] | None = None  # while it returns True no waiting run starts (a paused class)

    def acquire(self, run_id: str, cancelled: Callable[[], bool], poll_s: float = 0.1) -> bool:
        """Block until ``run_id`` holds a slot (True) or ``cancelled()`` becomes true (False)."""
        with self._cond:
            self._queue.append(run_id)
            try:
                while not (self._queue[0] == run_id and len(self._active) < self.capacity and not self._held()):
                    if cancelled():
                        return False
                    self._cond.wait(poll_s)
                self._active.add(run_id)
                return True
            finally:
                self._queue.remove(run_id)
                self._cond.notify_all()

    def _held(self) -> bool:
        hold = self.hold
        try:
            return bool(hold()) if hold is not None else False
        except Exception:  # noqa: BLE001 (a failing hold, e.g. an unreadable class store, holds nothing)
            return False

    def release(self, run_id: str) -> None:
        with self._cond:
            self._active.discard(run_id)
            self._cond.notify_all()

    def position(self, run_id: str) -> int | None:
        """1-based place in the waiting line, or None when not waiting."""
        with self._cond:
            try:
                return self._queue.index(run_id) + 1
            except ValueError:
                return None

    def counts(self) -> tuple[int, int]:
        """(training now, waiting)."""
        with self._cond:
            return len(self._active), len(self._queue)


_LIMITER: RunLimiter | None = None
_LIMITER_LOCK = threading.Lock()


def get_limiter() -> RunLimiter:
    """The one server-wide limiter (capacity from ``MNIST_MAX_TRAININGS``, read once per process)."""
    global _LIMITER
    with _LIMITER_LOCK:
        if _LIMITER is None:
            _LIMITER = RunLimiter(max_trainings_setting()[0])
        return _LIMITER
