"""The run's controls, safe to call from any thread (a UI's), and the gate the loop passes between batches.

    pause()       stop before the next batch, until resume()
    resume()      carry on
    step_batch()  (while paused) run one batch, then pause again
    step_epoch()  (while paused) run to the end of the current epoch, then pause again
    stop()        end the run before the next batch
    set_lr(lr)    use lr from the next batch on; the schedule carries on from it
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum


class Decision(Enum):
    """What the gate lets the loop do next."""

    RUN = "run"
    PAUSE = "pause"
    STOP = "stop"


class Controls:
    """Requests from other threads, read by the training loop between batches."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._pause_requested = False
        self._stop_requested = False
        self._grant: str | None = None  # "batch" or "epoch": work allowed while paused
        self._pending_lr: float | None = None
        self.paused_seconds = 0.0  # time spent waiting in wait_while_paused

    def pause(self) -> None:
        """Pause before the next batch (or before the first, if the run has not started)."""
        with self._cond:
            self._pause_requested = True
            self._grant = None

    def resume(self) -> None:
        """Carry on after a pause."""
        with self._cond:
            self._pause_requested = False
            self._grant = None
            self._cond.notify_all()

    def step_batch(self) -> None:
        """Run exactly one more batch, then pause (pauses a running run after its next batch)."""
        with self._cond:
            self._pause_requested = True
            self._grant = "batch"
            self._cond.notify_all()

    def step_epoch(self) -> None:
        """Run to the end of the current epoch (a whole epoch if at its start), then pause."""
        with self._cond:
            self._pause_requested = True
            self._grant = "epoch"
            self._cond.notify_all()

    def stop(self) -> None:
        """End the run before its next batch."""
        with self._cond:
            self._stop_requested = True
            self._cond.notify_all()

    def set_lr(self, lr: float) -> None:
        """Use learning rate ``lr`` from the next batch on."""
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or not 0 < lr <= 100:
            raise ValueError(f"learning rate must be a number in (0, 100], got {lr!r}")
        with self._cond:
            self._pending_lr = float(lr)

    def decide(self) -> tuple[Decision, float | None]:
        """Before a batch: run it (with a learning rate set since the last batch, or None), pause, or stop."""
        with self._cond:
            if self._stop_requested:
                return Decision.STOP, None
            if self._pause_requested and self._grant is None:
                return Decision.PAUSE, None
            if self._grant == "batch":
                self._grant = None  # this batch uses the grant; the next decision pauses
            pending, self._pending_lr = self._pending_lr, None
            return Decision.RUN, pending

    def wait_while_paused(self) -> None:
        """Block until some control changes (resume, a step, stop), counting the time as paused."""
        with self._cond:
            if self._stop_requested or not self._pause_requested or self._grant is not None:
                return
            waited = time.perf_counter()
            self._cond.wait()
            self.paused_seconds += time.perf_counter() - waited

    @contextmanager
    def held(self) -> Iterator[None]:
        """While held, the loop cannot pass its gate: work done here happens between two batches."""
        with self._cond:
            yield

    def epoch_done(self) -> None:
        """At an epoch's end: a step_epoch grant is used up, so the next decision pauses."""
        with self._cond:
            if self._grant == "epoch":
                self._grant = None
