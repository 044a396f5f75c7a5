"""One training run in a background thread that never calls Streamlit; pages poll ``run.snapshot()``.

A ``TrainingRun`` wraps one ``nn.trainer.Trainer`` in a plain ``threading.Thread``. The trainer's events
are folded into a small record under a lock (poll, don't push: a thread cannot draw on a page). The run
waits for a slot of the server-wide ``RunLimiter`` first (a visible "waiting" phase), and registers
itself with the reaper (lab/reaper.py), which stops it once its browser tab is gone.
"""

from __future__ import annotations

import collections
import copy
import itertools
import threading
import time
import uuid
from collections.abc import Callable, Collection
from typing import Any

import numpy as np

from lab import settings
from lab.budget import RunBudget
from lab.cores import share_cores
from lab.eta import time_left
from lab.limiter import RunLimiter, get_limiter
from lab.lr_changes import coalesce
from lab.reaper import register, unregister
from lab.run_hooks import run_ended
from lab.snapshot import (
    FAILED,
    STARTING,
    TERMINAL_PHASES,
    WAITING,
    DivergedBatch,
    RunSnapshot,
    is_active_phase,
)
from lab.threads import limit_blas_threads
from lab.weights_label import CopyPoint, weights_label
from nn.config import TrainConfig
from nn.events import BatchEvent, EpochEvent, RunState, StateEvent

_run_numbers = itertools.count(1)


class TrainingRun:
    """One training run in its own thread; every public method is safe to call from any thread."""

    def __init__(self, config: TrainConfig, images: np.ndarray, labels: np.ndarray, *,
                 limiter: RunLimiter | None = None, trainer_factory: Callable[..., Any] | None = None,
                 model: Any = None, start_paused: bool = False, budget: RunBudget | None = None,
                 dataset: str = "mnist") -> None:
        self.config = config
        self.budget = budget or RunBudget(None)  # training seconds this run may use (lab/budget.py)
        self.dataset = dataset  # what ``images`` are (lab/datasets.py): lessons judge runs on their own dataset
        self.run_id = f"r{next(_run_numbers)}-{uuid.uuid4().hex[:6]}"
        self._images = images
        self._labels = labels
        self._limiter = limiter or get_limiter()
        if trainer_factory is None:
            from nn.trainer import Trainer as trainer_factory  # noqa: N813 (the default, imported late)
        self._factory = trainer_factory
        self._initial_model = model
        self._lock = threading.RLock()
        self._cancel = threading.Event()
        self._pending: list[tuple[str, tuple]] = [("pause", ())] if start_paused else []
        self.trainer: Any = None
        self._thread: threading.Thread | None = None

        self._phase = WAITING
        self._reason = ""
        self._error = ""
        self._epoch = 0
        self._batch = 0
        self._bpe = 0
        self._step = 0
        self._losses: list[float] = []
        self._lrs: list[float] = []
        self._lr_requests: list[tuple[int, float, float]] = []  # (step, lr, monotonic s) as asked
        self._lr_applied: list[tuple[int, float, float]] = []  # as the trainer applied them, when it did
        self._epochs: list[EpochEvent] = []
        self._rate_window: collections.deque[tuple[float, int]] = collections.deque(maxlen=64)
        self._run_clock = 0.0  # seconds in RUNNING, accumulated
        self._running_since: float | None = None
        self._current_lr = config.lr
        self._diverged: DivergedBatch | None = None
        self._n_train = 0  # training images per epoch, once the trainer exists
        self._over_budget = False
        # The latest consistent copy of the model, taken in the training thread between steps.
        self._model_copy: Any = None
        self._model_copy_step = -1
        self._own_steps = 0  # steps a learner took on their own digits while paused (see train_on)
        self._model_copy_point = CopyPoint(0, 0, 0, config.epochs)
        self.watch: Any = None  # lab.live_watch.Watch: live filters and digits, slow motion
        # Orphan detection.
        self.last_heartbeat = time.monotonic()
        self.tab_gone_at: float | None = None
        self.owner: Any = None  # who started it (e.g. a class member), for the run-end hooks

    # ----- lifecycle ---------------------------------------------------------------------------
    def start(self) -> TrainingRun:
        limit_blas_threads()  # see lab/threads.py: spinning BLAS threads starve the server
        self._thread = threading.Thread(target=self._main, name=f"train-{self.run_id}", daemon=True)
        register(self)
        self._thread.start()
        return self

    def _main(self) -> None:
        acquired = False
        try:
            acquired = self._limiter.acquire(self.run_id, self._cancel.is_set)
            if not acquired:
                self._set_phase(RunState.STOPPED.value, "stopped while waiting for a free training slot")
                return
            self._set_phase(STARTING)
            trainer = self._factory(self.config, self._images, self._labels, callback=self._on_event,
                                    model=self._initial_model)
            with self._lock:
                self.trainer = trainer
                self._n_train = int(np.size(getattr(trainer, "train_idx", ())))
                pending, self._pending = self._pending, []
                if self._cancel.is_set():
                    pending.append(("stop", ()))
            for name, args in pending:
                getattr(trainer, name)(*args)
            self._snapshot_model(force=True)
            result = trainer.run()
            with self._lock:
                self._phase = _state_value(result.state)
                self._reason = self._budget_reason(self._phase, result.reason or self._reason)
                self._close_clock()
            self._snapshot_model(force=True)
        except MemoryError:
            self._fail("the network did not fit in memory; make it smaller or lower the batch size")
        except Exception as exc:  # shown on the page instead of a traceback  # noqa: BLE001
            self._fail(f"{type(exc).__name__}: {exc}")
        finally:
            if acquired:
                self._limiter.release(self.run_id)
            run_ended(self)
            unregister(self)
            share_cores()

    def _fail(self, message: str) -> None:
        with self._lock:
            self._phase = FAILED
            self._error = message
            self._close_clock()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end; True when it has."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    @property
    def phase(self) -> str:
        with self._lock:
            return self._phase

    @property
    def is_active(self) -> bool:
        """Waiting, starting, running or paused."""
        return is_active_phase(self.phase)

    def wait_for_phase(self, phases: Collection[str], timeout: float) -> bool:
        """Wait up to ``timeout`` s for the run to reach one of ``phases`` (a control takes effect between
        batches); True if it did. Lets a page redraw once, after the change, instead of before it."""
        deadline = time.monotonic() + timeout
        while self.phase not in phases:
            if time.monotonic() >= deadline or not self.alive:
                return self.phase in phases
            time.sleep(0.01)
        return True

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ----- controls ----------------------------------------------------------------------------
    def _control(self, name: str, *args: Any) -> None:
        with self._lock:
            if self.trainer is None:
                self._pending.append((name, args))
                return
            trainer = self.trainer
        getattr(trainer, name)(*args)

    def pause(self) -> None:
        self._control("pause")

    def train_on(self, X: Any, y: Any) -> float:
        """While paused: one step of the run's optimizer on the digits (X, y) given (Step through's option)."""
        with self._lock:
            trainer = self.trainer
        if trainer is None:
            raise ValueError("the run has not started yet")
        loss = trainer.train_on(X, y)
        with self._lock:
            self._own_steps += 1
        self._snapshot_model(force=True)
        return loss

    def resume(self) -> None:
        self._control("resume")

    def step_epoch(self) -> None:
        self._control("step_epoch")

    def step_batch(self) -> None:
        self._control("step_batch")

    def stop(self) -> None:
        """Ask the run to stop; it ends within a batch (or at once while waiting)."""
        self._cancel.set()
        with self._lock:
            trainer = self.trainer
        if trainer is not None:
            trainer.stop()

    def set_lr(self, lr: float) -> None:
        """Change the learning rate from the next step on; the change is marked on the charts."""
        if not (isinstance(lr, (int, float)) and np.isfinite(lr) and 0 < lr <= 100):
            raise ValueError(f"learning rate must be in (0, 100], got {lr!r}")
        with self._lock:
            self._lr_requests.append((self._step, float(lr), time.monotonic()))
            self._current_lr = float(lr)
        self._control("set_lr", float(lr))

    # ----- orphan detection --------------------------------------------------------------------
    def heartbeat(self) -> None:
        """Called by the page's live fragment: the tab is still there."""
        self.last_heartbeat = time.monotonic()
        self.tab_gone_at = None

    def tab_gone(self) -> None:
        """Called when the session's connection closed; the reaper stops the run unless it comes back."""
        self.tab_gone_at = time.monotonic()

    def is_orphan(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        if self.tab_gone_at is not None and now - self.tab_gone_at > settings.TAB_GONE_GRACE_S:
            return True
        return now - self.last_heartbeat > settings.HEARTBEAT_TIMEOUT_S

    def release(self) -> None:
        """Drop the big objects (trainer, engine, model copies) once nobody will train or look at them.

        What is left is the run's record (losses, epochs): a page that still holds the run shows it,
        without a model (``model_copy()`` returns None).
        """
        with self._lock:
            self.trainer = None
            self._model_copy = None
            self._model_copy_step = -1
            self._initial_model = None
            self._images = self._labels = None
            self._pending = []

    # ----- events (training thread) ------------------------------------------------------------
    def _on_event(self, event: Any) -> None:
        if isinstance(event, BatchEvent):
            now = time.perf_counter()
            with self._lock:
                self._epoch, self._batch, self._bpe, self._step = (
                    event.epoch, event.batch, event.batches_per_epoch, event.step)
                self._losses.append(event.loss)
                self._lrs.append(event.lr)
                self._rate_window.append((now, event.step))
                self._note_applied_lr_changes()
                spent = self._run_clock + (now - self._running_since if self._running_since else 0.0)
            self._check_budget(spent)
        elif isinstance(event, EpochEvent):
            with self._lock:
                self._epochs.append(event)
            self._snapshot_model()
        elif isinstance(event, StateEvent):
            with self._lock:
                self._phase = _state_value(event.state)
                if event.reason:
                    self._reason = self._budget_reason(self._phase, event.reason)
                if getattr(event, "batch_loss", None) is not None:
                    self._diverged = DivergedBatch(self._step + 1, float(event.batch_loss), float(event.batch_lr))
                    self._bpe = self._bpe or int(getattr(self.trainer, "batches_per_epoch", 0) or 0)
                if event.state == RunState.RUNNING:
                    self._running_since = time.perf_counter()
                    self._rate_window.clear()  # a pause must not dilute the speed
                else:
                    self._close_clock()
            if event.state != RunState.RUNNING:
                self._snapshot_model()
            share_cores()
        watch = self.watch
        if watch is not None:  # between two steps: the weights hold still
            watch.on_event(getattr(self.trainer, "model", None), event, step=self._step, epoch=self._epoch,
                           cancel=self._cancel)

    def _check_budget(self, spent: float) -> None:
        """Stop the run once its training time (pauses excluded) reaches the server's budget."""
        limit = self.budget.max_seconds
        if limit is not None and spent >= limit and not self._over_budget:
            self._over_budget = True
            trainer = self.trainer
            if trainer is not None:
                trainer.stop()

    def _budget_reason(self, phase: str, reason: str) -> str:
        """The budget's reason for a run it stopped (one that finished meanwhile keeps its own)."""
        return self.budget.stop_reason() if self._over_budget and phase == RunState.STOPPED.value else reason

    def _set_phase(self, phase: str, reason: str = "") -> None:
        with self._lock:
            self._phase = phase
            if reason:
                self._reason = reason

    def _close_clock(self) -> None:
        if self._running_since is not None:
            self._run_clock += time.perf_counter() - self._running_since
            self._running_since = None

    # ----- reading (any thread) ----------------------------------------------------------------
    def _snapshot_model(self, force: bool = False) -> None:
        """Copy the weights; called only between steps (training thread) or when the trainer is idle."""
        with self._lock:
            trainer = self.trainer
            step = self._step
            if trainer is None or (step == self._model_copy_step and not force):
                return
            point = CopyPoint(len(self._epochs), self._batch, self._bpe, self.config.epochs)
        model = copy_model(trainer.model)
        with self._lock:
            self._model_copy = model
            self._model_copy_step = step
            self._model_copy_point = point

    def model_copy(self) -> tuple[Any, str]:
        """(consistent copy of the weights, version string that changes whenever they do).

        While running, the copy is the one taken at the last epoch end; while paused or finished the
        trainer is idle, so a fresher copy (e.g. after "+1 batch") is taken here.
        """
        return self.described_model_copy()[:2]

    def described_model_copy(self) -> tuple[Any, str, str]:
        """:meth:`model_copy` and which weights it holds, in words ("weights at the end of epoch 2 of 40 (live…)")."""
        with self._lock:
            idle = self._phase == RunState.PAUSED.value or self._phase in TERMINAL_PHASES
            stale = self._model_copy_step != self._step
        if idle and stale:
            self._snapshot_model()
        with self._lock:
            label = weights_label(self._model_copy_point, self._phase)
            return self._model_copy, f"{self.run_id}:{self._model_copy_step}+{self._own_steps}", label

    def _note_applied_lr_changes(self) -> None:
        """Time-stamp the trainer's newly applied changes (under the lock; after each batch and when read)."""
        changes = getattr(self.trainer, "lr_changes", None)
        if changes is None or len(changes) <= len(self._lr_applied):
            return
        now = time.monotonic()
        self._lr_applied.extend((int(c.step), float(c.lr), now) for c in list(changes)[len(self._lr_applied):])

    def _lr_marks(self) -> tuple[tuple[int, float], ...]:
        """The user's changes at the step they took effect (the trainer knows exactly), a burst as one."""
        self._note_applied_lr_changes()
        has_record = self._lr_applied or getattr(self.trainer, "lr_changes", None) is not None
        return coalesce(self._lr_applied if has_record else self._lr_requests)

    def _train_seconds(self) -> list[float]:
        """Each finished epoch's time without its validation (its training images over its speed)."""
        n = self._n_train
        return [n / e.samples_per_sec if n and e.samples_per_sec > 0 else e.seconds for e in self._epochs]

    def snapshot(self) -> RunSnapshot:
        with self._lock:
            now = time.perf_counter()
            elapsed = self._run_clock + (now - self._running_since if self._running_since else 0.0)
            rate = float("nan")
            if len(self._rate_window) >= 2:
                (t0, s0), (t1, s1) = self._rate_window[0], self._rate_window[-1]
                if t1 > t0:
                    rate = (s1 - s0) / (t1 - t0) * self.config.batch_size
            eta = time_left([e.seconds for e in self._epochs], self._train_seconds(),
                            epochs_planned=self.config.epochs, batch=self._batch, batches_per_epoch=self._bpe,
                            seconds_per_batch=elapsed / self._step if self._step else float("nan"))
            return RunSnapshot(
                run_id=self.run_id,
                phase=self._phase,
                reason=self._reason,
                error=self._error,
                queue_position=self._limiter.position(self.run_id) if self._phase == WAITING else None,
                epochs_planned=self.config.epochs,
                epoch=self._epoch,
                epochs_done=len(self._epochs),
                batch=self._batch,
                batches_per_epoch=self._bpe,
                step=self._step,
                batch_losses=np.asarray(self._losses, dtype=np.float32),
                batch_lrs=np.asarray(self._lrs, dtype=np.float32),
                lr_changes=self._lr_marks(),
                epochs=tuple(self._epochs),
                samples_per_sec=rate if self._phase == RunState.RUNNING.value else float("nan"),
                eta_seconds=eta if self._phase == RunState.RUNNING.value else float("nan"),
                elapsed_seconds=elapsed,
                current_lr=self._current_lr,
                diverged=self._diverged,
                over_budget=self._over_budget and self._phase == RunState.STOPPED.value,
            )


def copy_model(model: Any) -> Any:
    """An independent MLP with the same weights (without the source's scratch buffers)."""
    from nn.model import MLP

    if not isinstance(model, MLP):  # e.g. a test's stand-in
        return copy.deepcopy(model)
    twin = MLP(model.config, np.random.default_rng(0))
    twin.set_params(model.get_params())
    return twin


def _state_value(state: Any) -> str:
    return state.value if isinstance(state, RunState) else str(state)
