"""The teacher's key: compared in constant time, and wrong attempts rate-limited per browser and per server."""

from __future__ import annotations

import collections
import hmac
import threading
import time
from dataclasses import dataclass

MAX_FAILS_PER_CLIENT = 5  # wrong keys per browser session within WINDOW_S
MAX_FAILS_SERVER = 30  # wrong keys from everyone within WINDOW_S (new sessions cannot get round it)
WINDOW_S = 60.0


@dataclass(frozen=True)
class KeyCheck:
    ok: bool
    message: str


class KeyGuard:
    """Checks attempts at the teacher key; thread-safe, one per server process."""

    def __init__(self, secret: str | None) -> None:
        self._secret = (secret or "").encode("utf-8")
        self._lock = threading.Lock()
        self._fails: dict[str, collections.deque[float]] = {}
        self._all_fails: collections.deque[float] = collections.deque()

    @property
    def configured(self) -> bool:
        return bool(self._secret)

    def check(self, attempt: str, client: str, now: float | None = None) -> KeyCheck:
        """Whether ``attempt`` is the key; refused without comparing while ``client`` (or the server) is limited."""
        now = time.monotonic() if now is None else now
        with self._lock:
            mine = self._fails.pop(client, None) or collections.deque()
            for queue in (mine, self._all_fails):
                while queue and now - queue[0] > WINDOW_S:
                    queue.popleft()
            if mine:  # only clients with recent failures are remembered (bounded memory)
                self._fails[client] = mine
            if len(mine) >= MAX_FAILS_PER_CLIENT or len(self._all_fails) >= MAX_FAILS_SERVER:
                oldest = min(mine[0] if len(mine) >= MAX_FAILS_PER_CLIENT else now, self._all_fails[0]
                             if len(self._all_fails) >= MAX_FAILS_SERVER else now)
                wait = max(1, int(WINDOW_S - (now - oldest)) + 1)
                return KeyCheck(False, f"Too many wrong keys: try again in {wait} s.")
            if not self._secret:
                return KeyCheck(False, "This server has no teacher key (set MNIST_CLASS_KEY).")
            if hmac.compare_digest(attempt.encode("utf-8"), self._secret):
                return KeyCheck(True, "Teacher controls unlocked for this browser tab.")
            mine.append(now)
            self._fails[client] = mine
            self._all_fails.append(now)
            return KeyCheck(False, "That is not the teacher key.")
