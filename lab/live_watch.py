"""Watching a run learn, not only its loss: a few first-layer filters and a strip of test digits, live; slow motion.

A ``Watch`` rides on a ``TrainingRun``: the run's training thread calls ``on_event`` after every event,
between two steps, when the weights are consistent. At most every ``interval`` seconds (and at every
epoch's end and when the run stops or pauses) it copies the watched units' first-layer weights and
the network's answers for the fixed digits: about a tenth of a millisecond, so the epoch does
not slow down (measured: bench/app_speed.py, docs/PERFORMANCE.md). Pages read ``latest()``.

Slow motion caps the batches per second, so the quick preset can be watched in a class: the
training thread waits between batches (on the run's cancel event, so Stop still ends it at once).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from nn.events import BatchEvent, EpochEvent, StateEvent

UNITS = 24  # first-layer filters shown (all of them when the layer is smaller)
DIGITS = 12  # test digits in the strip
INTERVAL_S = 1.0  # between two samples while the run trains: the Train page shows each one
SLOW_RATES = (20.0, 10.0, 5.0, 2.0, 1.0)  # batches per second offered by the slow-motion control


def strip_indices(labels: np.ndarray, n: int = DIGITS) -> np.ndarray:
    """Fixed test digits for the strip: the first of each class, then the next ones in test order."""
    labels = np.asarray(labels)
    first = [int(np.flatnonzero(labels == k)[0]) for k in np.unique(labels)][:n]
    taken = set(first)
    rest = [i for i in range(min(labels.size, 2 * n)) if i not in taken][: n - len(first)]
    return np.array(sorted(first + rest), dtype=np.int64)


@dataclass(frozen=True)
class WatchSample:
    """The watched part of the network after ``step`` optimizer steps."""

    step: int
    epoch: int  # epoch in progress (1-based), 0 before the first batch
    filters: np.ndarray  # (784, k) float32: W_1's columns of the watched units
    proba: np.ndarray  # (n_digits, 10) float32: the network's probabilities for the strip's digits


class Watch:
    """Samples a run's filters and answers while it trains; optionally caps its batches per second."""

    def __init__(self, X: np.ndarray, labels: np.ndarray, *, units: int = UNITS, interval: float = INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.X = np.asarray(X, dtype=np.float32)  # (n, 784) the strip's digits as the network sees them
        self.labels = np.asarray(labels)
        self.units = units
        self.interval = interval
        self.clock = clock
        self.rate: float | None = None  # slow motion: batches per second, None = full speed
        self.sampling = True  # False: slow motion only, nothing copied
        self._lock = threading.Lock()
        self._latest: WatchSample | None = None
        self._sampled_at = -float("inf")
        self._last_batch_at: float | None = None

    def latest(self) -> WatchSample | None:
        with self._lock:
            return self._latest

    def set_rate(self, rate: float | None) -> None:
        """Slow motion at ``rate`` batches per second (None or 0: off)."""
        if rate is not None and rate != 0 and not (isinstance(rate, (int, float)) and 0 < rate <= 1000):
            raise ValueError(f"slow motion needs a rate in (0, 1000] batches per second, got {rate!r}")
        self.rate = float(rate) if rate else None

    def on_event(self, model: Any, event: Any, *, step: int, epoch: int, cancel: threading.Event | None = None) -> None:
        """Called by the training thread after each event of the run (``model`` is the network it trains)."""
        now = self.clock()
        due = now - self._sampled_at >= self.interval
        if self.sampling and model is not None and (due or isinstance(event, (EpochEvent, StateEvent))):
            self.sample(model, step, epoch)
            self._sampled_at = now
        if isinstance(event, BatchEvent) and self.rate:
            self._slow_down(now, cancel)

    def sample(self, model: Any, step: int, epoch: int = 0) -> WatchSample:
        """Copy the watched filters and compute the strip's answers now (the weights must not be changing)."""
        W1 = model.weights[0]
        filters = np.array(W1[:, : min(self.units, W1.shape[1])], dtype=np.float32)
        proba = model.predict_proba(self.X).astype(np.float32)
        sample = WatchSample(step=step, epoch=epoch, filters=filters, proba=proba)
        with self._lock:
            self._latest = sample
        return sample

    def _slow_down(self, now: float, cancel: threading.Event | None) -> None:
        """Wait out the rest of this batch's share of a second (at most one second; Stop cuts it short)."""
        last, self._last_batch_at = self._last_batch_at, now
        if last is None or self.rate is None:
            return
        delay = min(1.0, 1.0 / self.rate - (now - last))
        if delay > 0:
            (cancel.wait if cancel is not None else time.sleep)(delay)
            self._last_batch_at = self.clock()
