"""Training runs in background threads, with a server-wide limit on how many train at once.

A ``TrainingRun`` wraps one ``nn.trainer.Trainer`` in a plain ``threading.Thread`` that never calls
streamlit. The trainer's events are folded into a small record under a lock; pages poll
``run.snapshot()`` from a fragment (poll, don't push: a thread cannot draw on a page).

Server-wide: a ``RunLimiter`` lets at most ``MNIST_MAX_TRAININGS`` runs (default 2, one per core) train
at the same time; the rest wait, first come first served, in a visible "waiting" phase. A reaper
thread stops runs whose browser tab is gone (told by ``tab_gone()`` from a session-scoped cache's
``on_release``, or noticed by a missing heartbeat) and drops their memory.
"""

from __future__ import annotations

import collections
import copy
import itertools
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from dashboard.threads import limit_blas_threads
from nn.config import TrainConfig
from nn.events import BatchEvent, EpochEvent, RunState, StateEvent

WAITING = "waiting"  # queued behind the server-wide limit
STARTING = "starting"  # slot acquired, trainer being built
FAILED = "failed"  # the trainer raised (message in ``error``)
TERMINAL_PHASES = {s.value for s in RunState if s.is_terminal} | {FAILED}

DEFAULT_MAX_TRAININGS = 2
TAB_GONE_GRACE_S = float(os.environ.get("MNIST_TAB_GONE_GRACE", "20"))  # a reconnect comes back sooner
HEARTBEAT_TIMEOUT_S = float(os.environ.get("MNIST_HEARTBEAT_TIMEOUT", "300"))  # hidden tabs tick slowly


def max_trainings_setting() -> tuple[int, str | None]:
    """``MNIST_MAX_TRAININGS`` as a positive int, or the default and a message saying why it was ignored."""
    raw = os.environ.get("MNIST_MAX_TRAININGS")
    if raw is None or raw.strip() == "":
        return DEFAULT_MAX_TRAININGS, None
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= 64:
        return DEFAULT_MAX_TRAININGS, f"MNIST_MAX_TRAININGS={raw!r} is not an integer in 1..64; using {DEFAULT_MAX_TRAININGS}"
    return value, None


def memory_budget_bytes() -> int:
    """How much memory one run may plan to use: ``MNIST_RUN_MEMORY_MB`` if set, else a share of what is free.

    Each of the ``MNIST_MAX_TRAININGS`` simultaneous runs gets an equal share of half the currently
    available memory (the other half stays for the shared dataset, the server and the pages).
    """
    raw = os.environ.get("MNIST_RUN_MEMORY_MB")
    if raw:
        try:
            return max(1, int(float(raw) * 2**20))
        except ValueError:
            pass
    available = _available_memory_bytes()
    return int(available * 0.5 / max_trainings_setting()[0])


def _available_memory_bytes() -> int:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 2 * 2**30  # unknown platform: assume a modest machine


class RunLimiter:
    """At most ``capacity`` runs hold a slot; the others wait in arrival order."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity!r}")
        self.capacity = capacity
        self._cond = threading.Condition()
        self._active: set[str] = set()
        self._queue: collections.deque[str] = collections.deque()

    def acquire(self, run_id: str, cancelled: Callable[[], bool], poll_s: float = 0.1) -> bool:
        """Block until ``run_id`` holds a slot (True) or ``cancelled()`` becomes true (False)."""
        with self._cond:
            self._queue.append(run_id)
            try:
                while not (self._queue[0] == run_id and len(self._active) < self.capacity):
                    if cancelled():
                        return False
                    self._cond.wait(poll_s)
                self._active.add(run_id)
                return True
            finally:
                self._queue.remove(run_id)
                self._cond.notify_all()

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


@dataclass(frozen=True)
class RunSnapshot:
    """A consistent, immutable copy of a run's progress, cheap enough to take several times a second."""

    run_id: str
    phase: str  # WAITING, STARTING, FAILED, or a RunState value
    reason: str
    error: str
    queue_position: int | None
    epochs_planned: int
    epoch: int  # epoch in progress (1-based), 0 before the first batch
    epochs_done: int
    batch: int
    batches_per_epoch: int
    step: int
    batch_losses: np.ndarray  # (steps,) float32
    batch_lrs: np.ndarray  # (steps,) float32
    lr_changes: tuple[tuple[int, float], ...]  # (step after which it applied, new lr), by the user
    epochs: tuple[EpochEvent, ...]
    samples_per_sec: float  # recent, NaN when unknown
    eta_seconds: float  # NaN when unknown
    elapsed_seconds: float  # time spent training (pauses excluded)
    current_lr: float

    @property
    def progress(self) -> float:
        """Fraction of planned batches done, 0..1."""
        total = self.epochs_planned * max(self.batches_per_epoch, 1)
        return 0.0 if total == 0 or self.batches_per_epoch == 0 else min(1.0, self.step / total)

    @property
    def is_active(self) -> bool:
        """Waiting, starting, running or paused: holds (or waits for) a training slot."""
        return self.phase not in TERMINAL_PHASES and self.phase != RunState.IDLE.value

    @property
    def val_acc(self) -> float:
        return self.epochs[-1].val_acc if self.epochs else float("nan")


_run_numbers = itertools.count(1)


class TrainingRun:
    """One training run in its own thread; every public method is safe to call from any thread."""

    def __init__(self, config: TrainConfig, images: np.ndarray, labels: np.ndarray, *,
                 limiter: RunLimiter | None = None, trainer_factory: Callable[..., Any] | None = None,
                 model: Any = None, start_paused: bool = False) -> None:
        self.config = config
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
        self._lr_changes: list[tuple[int, float]] = []
        self._epochs: list[EpochEvent] = []
        self._rate_window: collections.deque[tuple[float, int]] = collections.deque(maxlen=64)
        self._run_clock = 0.0  # seconds in RUNNING, accumulated
        self._running_since: float | None = None
        self._current_lr = config.lr
        # The latest consistent copy of the model, taken in the training thread between steps.
        self._model_copy: Any = None
        self._model_copy_step = -1
        # Orphan detection.
        self.last_heartbeat = time.monotonic()
        self.tab_gone_at: float | None = None

    # ----- lifecycle ---------------------------------------------------------------------------
    def start(self) -> TrainingRun:
        limit_blas_threads()  # see dashboard/threads.py: spinning BLAS threads starve the server
        self._thread = threading.Thread(target=self._main, name=f"train-{self.run_id}", daemon=True)
        _register(self)
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
                pending, self._pending = self._pending, []
                if self._cancel.is_set():
                    pending.append(("stop", ()))
            for name, args in pending:
                getattr(trainer, name)(*args)
            self._snapshot_model(force=True)
            result = trainer.run()
            with self._lock:
                self._phase = _state_value(result.state)
                self._reason = result.reason or self._reason
                self._close_clock()
            self._snapshot_model(force=True)
        except MemoryError:
            self._fail("the network did not fit in memory; make it smaller or lower the batch size")
        except Exception as exc:  # shown on the page instead of a traceback  # noqa: BLE001
            self._fail(f"{type(exc).__name__}: {exc}")
        finally:
            if acquired:
                self._limiter.release(self.run_id)
            _unregister(self)
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
        phase = self.phase
        return phase not in TERMINAL_PHASES and phase != RunState.IDLE.value

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
            self._lr_changes.append((self._step, float(lr)))
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
        if self.tab_gone_at is not None and now - self.tab_gone_at > TAB_GONE_GRACE_S:
            return True
        return now - self.last_heartbeat > HEARTBEAT_TIMEOUT_S

    def release(self) -> None:
        """Drop the big objects (trainer, model copies) once the run has ended and nobody will look."""
        with self._lock:
            self.trainer = None
            self._model_copy = None
            self._initial_model = None
            self._images = self._labels = None

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
        elif isinstance(event, EpochEvent):
            with self._lock:
                self._epochs.append(event)
            self._snapshot_model()
        elif isinstance(event, StateEvent):
            with self._lock:
                self._phase = _state_value(event.state)
                if event.reason:
                    self._reason = event.reason
                if event.state == RunState.RUNNING:
                    self._running_since = time.perf_counter()
                    self._rate_window.clear()  # a pause must not dilute the speed
                else:
                    self._close_clock()
            if event.state != RunState.RUNNING:
                self._snapshot_model()
            share_cores()

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
        model = copy_model(trainer.model)
        with self._lock:
            self._model_copy = model
            self._model_copy_step = step

    def model_copy(self) -> tuple[Any, str]:
        """(consistent copy of the weights, version string that changes whenever they do).

        While running, the copy is the one taken at the last epoch end; while paused or finished the
        trainer is idle, so a fresher copy (e.g. after "+1 batch") is taken here.
        """
        with self._lock:
            idle = self._phase == RunState.PAUSED.value or self._phase in TERMINAL_PHASES
            stale = self._model_copy_step != self._step
        if idle and stale:
            self._snapshot_model()
        with self._lock:
            return self._model_copy, f"{self.run_id}:{self._model_copy_step}"

    def _applied_lr_changes(self) -> tuple[tuple[int, float], ...]:
        """The user's learning-rate changes at the step they took effect (the trainer knows exactly)."""
        trainer = self.trainer
        changes = getattr(trainer, "lr_changes", None) if trainer is not None else None
        if changes is None:
            return tuple(self._lr_changes)
        return tuple((int(c.step), float(c.lr)) for c in list(changes))

    def snapshot(self) -> RunSnapshot:
        with self._lock:
            now = time.perf_counter()
            elapsed = self._run_clock + (now - self._running_since if self._running_since else 0.0)
            rate = float("nan")
            if len(self._rate_window) >= 2:
                (t0, s0), (t1, s1) = self._rate_window[0], self._rate_window[-1]
                if t1 > t0:
                    rate = (s1 - s0) / (t1 - t0) * self.config.batch_size
            total_steps = self.config.epochs * self._bpe if self._bpe else 0
            eta = float("nan")
            if total_steps and np.isfinite(rate) and rate > 0:
                eta = (total_steps - self._step) * self.config.batch_size / rate
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
                lr_changes=self._applied_lr_changes(),
                epochs=tuple(self._epochs),
                samples_per_sec=rate if self._phase == RunState.RUNNING.value else float("nan"),
                eta_seconds=eta if self._phase == RunState.RUNNING.value else float("nan"),
                elapsed_seconds=elapsed,
                current_lr=self._current_lr,
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


# ----- the server-wide registry of live runs, and the reaper ---------------------------------------
_RUNS: dict[str, TrainingRun] = {}
_RUNS_LOCK = threading.Lock()
_REAPER: threading.Thread | None = None


def _register(run: TrainingRun) -> None:
    global _REAPER
    with _RUNS_LOCK:
        _RUNS[run.run_id] = run
        if _REAPER is None or not _REAPER.is_alive():
            _REAPER = threading.Thread(target=_reap_forever, name="train-reaper", daemon=True)
            _REAPER.start()


def _unregister(run: TrainingRun) -> None:
    with _RUNS_LOCK:
        _RUNS.pop(run.run_id, None)


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

