"""The training loop, with controls a UI can use from another thread.

One epoch, in words: shuffle the training indices; for each batch, let the engine take one step
(forward, loss, backward, update: nn/engine/step.py, the same arithmetic as nn/fit.py's plain loop)
at the learning rate the schedule gives; after the last batch, measure the validation loss and
accuracy and a few health signs of the network (nn/trainer/telemetry.py). Between any two batches the
loop passes the gate of its controls (pause, step, stop, a new learning rate: nn/trainer/controls.py).

What the loop reports, it reports as events (nn/events.py) to a callback or as a generator; it never
prints. Safety nets:

* divergence guard: a loss that is NaN or infinite or has exploded (over 100 times where it started),
  or weights that are NaN or infinite, end the run as DIVERGED with a plain-language reason, and the
  weights go back to the last copy known to be good (taken every few dozen batches);
* early stopping (optional): when the validation loss has not improved for
  ``early_stopping_patience`` epochs, the run ends and the best weights return.

Determinism: every random choice comes from generators spawned from ``config.seed`` (one stream each
for the split, the initial weights, the shuffling, dropout and augmentation), so the same config and
seed give bit-identical weights and history (the timing columns aside).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from typing import TYPE_CHECKING

import numpy as np

from nn.augment import Augmenter
from nn.config import TrainConfig
from nn.engine.buffers import share_parameters
from nn.engine.flat_optim import make_flat_optimizer
from nn.engine.processes import ProcessTeam, processes_available
from nn.engine.step import Engine
from nn.engine.threads import Team, check_team_size, default_team_size, single_threaded_blas, team_pays
from nn.events import BatchEvent, EpochEvent, Event, RunState, StateEvent
from nn.losses import cross_entropy
from nn.model import MLP
from nn.schedules import Schedule
from nn.trainer.controls import Controls, Decision
from nn.trainer.data import check_data, check_model, split
from nn.trainer.guard import CHECKPOINT_EVERY, DivergenceGuard, EarlyStopping, word
from nn.trainer.results import LrChange, TrainResult
from nn.trainer.telemetry import Checkpoint, Telemetry

if TYPE_CHECKING:
    import pandas as pd

DEAD_SAMPLE = 1000  # validation images used to look for dead ReLU units

class Trainer:
    """Trains an :class:`MLP` on ``images[train_idx]`` and validates on ``images[val_idx]``.

    images: (N, 28, 28) or (N, 784) uint8, shared and never copied whole; labels: (N,) integers.
    Without ``train_idx``/``val_idx`` the data is split with ``nn.data.split_indices``
    (``config.val_size`` held out); given ``train_idx`` alone, there is no validation set.
    ``config.train_subset`` then keeps a random subset of the training indices. ``model`` continues
    training an existing network; otherwise one is built from ``config.model``. ``threads`` (default:
    one per core, at most 2) is how many threads may share a batch of a large network
    (nn/engine/threads.py); results are reproducible for a given value. ``processes=True`` shares it
    between forked processes instead (nn/engine/processes.py: for a process that runs nothing else,
    like the command line), where the platform allows; the results are the same as with threads.
    ``layer_statistics=False`` leaves out the per-layer numbers of each :class:`EpochEvent` (norms,
    quantiles, dead units: what the dashboard charts) for a caller that shows none of them.
    """

    def __init__(self, config: TrainConfig, images: np.ndarray, labels: np.ndarray, *,
                 train_idx: np.ndarray | None = None, val_idx: np.ndarray | None = None,
                 callback: Callable[[Event], None] | None = None, model: MLP | None = None,
                 threads: int | None = None, processes: bool = False, layer_statistics: bool = True) -> None:
        if not isinstance(config, TrainConfig):
            raise ValueError(f"config must be a TrainConfig, got {type(config).__name__}")
        self.config = config
        self._callback = callback
        self.threads = default_team_size() if threads is None else check_team_size(threads)
        self.processes = bool(processes)
        self._team: Team | ProcessTeam | None = None  # exists while the run does
        self._shared_by = ""  # see TrainResult.shared_by
        self._team_allowed = True  # see allow_team
        self._images, self._labels = check_data(images, labels)
        split_seed, init_seed, shuffle_seed, dropout_seed, augment_seed = np.random.SeedSequence(config.seed).spawn(5)
        self._shuffle_rng = np.random.default_rng(shuffle_seed)
        self._dropout_rng = np.random.default_rng(dropout_seed)
        self._augment_rng = np.random.default_rng(augment_seed)
        self.train_idx, self.val_idx = split(config, self._images.shape[0], train_idx, val_idx,
                                             np.random.default_rng(split_seed))

        self.model = model = check_model(model, config.model, init_seed, self._images, self._labels)
        self._shared = self.processes and processes_available()
        if self._shared:
            share_parameters(model)  # forked workers update the same weights
        self.optimizer = make_flat_optimizer(config, model.parameters())
        self.engine = Engine(model, self.optimizer)
        self.engine.set_batch_source(self._images)  # batches are drawn from these by index

        self.batch_size = min(config.batch_size, int(self.train_idx.size))
        self.batches_per_epoch = math.ceil(self.train_idx.size / self.batch_size)
        self.schedule = Schedule(config, self.batches_per_epoch)
        self._ybuf = np.empty(self.batch_size, self._labels.dtype)
        self._augmenter = Augmenter(config.augment, self.batch_size, model.dtype) if config.augment.enabled else None
        sample = self.val_idx if self.val_idx.size else self.train_idx
        self.telemetry = Telemetry(model, self.engine.grad_W, self._images[sample[:DEAD_SAMPLE]],
                                   config.snapshot_budget_bytes, layer_statistics,
                                   batches_per_epoch=self.batches_per_epoch)
        self.epoch_events = self.telemetry.epoch_events
        self.guard = DivergenceGuard(model, config.optimizer)
        self.early_stopping = EarlyStopping(model, config.early_stopping_patience)
        self.controls = Controls()
        self.lr_changes: list[LrChange] = []

        # Run record.
        self._state = RunState.IDLE
        self._started = False
        self._step = self._epoch = self._batch = self._epochs_done = 0
        self._losses = np.full(config.epochs * self.batches_per_epoch, np.nan, np.float32)
        self._reason = ""
        self._seconds = 0.0
        self.result: TrainResult | None = None

    # ------------------------------------------------------------------ controls (any thread)

    def pause(self) -> None:
        """Pause before the next batch (or before the first, if the run has not started)."""
        self.controls.pause()

    def resume(self) -> None:
        """Carry on after a pause."""
        self.controls.resume()

    def step_batch(self) -> None:
        """Run exactly one more batch, then pause (pauses a running run after its next batch)."""
        self.controls.step_batch()

    def step_epoch(self) -> None:
        """Run to the end of the current epoch (a whole epoch if at its start), then pause."""
        self.controls.step_epoch()

    def stop(self) -> None:
        """End the run before its next batch; the model keeps its current weights."""
        self.controls.stop()

    def set_lr(self, lr: float) -> None:
        """Use learning rate ``lr`` from the next batch on; the schedule continues from this value."""
        self.controls.set_lr(lr)

    def train_on(self, X: np.ndarray, y: np.ndarray) -> float:
        """While the run is paused: one step of its optimizer on a batch given here (a learner's digits).

        X: (n, 784) floats in [0, 1]; y: (n,) labels; no dropout. The run carries on from the new weights
        when resumed. Returns the batch's loss before the step.
        """
        X = self.model.check_X(X)
        y = self.model.check_y(y, X.shape[0])
        with self.controls.held():  # the loop is waiting in its gate and stays there meanwhile
            if self._state != RunState.PAUSED:
                raise ValueError(f"a step on your own digits needs a paused run; this one is {self._state.value}")
            return self.engine.train_batch(y, None, X=X)

    def optimizer_state(self) -> tuple[int, list[dict[str, np.ndarray]]]:
        """The optimizer's step count and its state per parameter array in nn/optim.py's form (copies).

        Consistent only between batches: read it while the run is paused or over.
        """
        with self.controls.held():
            return self.optimizer.t, self.optimizer.textbook_state()

    def allow_team(self, allowed: bool) -> None:
        """Let the run's team share batches (True, the default) or keep to one thread from the next batch.

        For a server running several trainings at once: teams that outnumber the cores wait on
        each other's descheduled threads.
        """
        self._team_allowed = bool(allowed)  # one reference store: safe from any thread

    def _active_team(self) -> Team | ProcessTeam | None:
        return self._team if self._team_allowed else None

    # ------------------------------------------------------------------ reading (any thread)

    @property
    def state(self) -> RunState:
        return self._state

    @property
    def reason(self) -> str:
        return self._reason

    @property
    def step(self) -> int:
        """Optimizer steps taken so far."""
        return self._step

    @property
    def epoch(self) -> int:
        """1-based epoch in progress (or last finished); 0 before the first batch."""
        return self._epoch

    @property
    def batch_losses(self) -> np.ndarray:
        """Loss of every batch so far, (steps,) float32."""
        return self._losses[: self._step].copy()

    @property
    def snapshots(self) -> list[tuple[int, np.ndarray]]:
        """[(epoch, copy of W_1)], epoch 0 being the initial weights; thinned to fit the memory budget."""
        return list(self.telemetry.snapshots)

    @property
    def timeline(self) -> list[Checkpoint]:
        """Copies of the whole network (start, inside epoch 1, epoch ends, the end); see telemetry.py."""
        return list(self.telemetry.timeline)

    def history(self) -> pd.DataFrame:
        """One row per completed epoch: losses, accuracies, lr, timing and per-layer health columns."""
        return self.telemetry.history()

    # ------------------------------------------------------------------ running

    def run(self) -> TrainResult:
        """Train to the end (blocking); events go to the callback. Call from any thread, once."""
        for _ in self.events():
            pass
        assert self.result is not None
        return self.result

    def events(self) -> Iterator[Event]:
        """The run as a generator of events (also passed to the callback, if any). Runs once."""
        if self._started:
            raise RuntimeError("this Trainer has already run; create a new one (pass model= to continue)")
        self._started = True
        loop = self._loop()
        sizes = [W.size for W in self.model.weights]
        processes = self._shared and processes_available()  # a thread started since then rules out a fork
        use_team = self.threads > 1 and team_pays(self.batch_size, sizes, processes=processes)
        # A team on top of a multi-threaded BLAS would oversubscribe the cores: without the
        # means to limit BLAS, BLAS keeps its threads and ours stay home.
        with single_threaded_blas() if use_team else nullcontext(False) as blas_single:
            if blas_single:
                self._form_team(processes)
            try:
                for event in loop:
                    if self._callback is not None:
                        self._callback(event)
                    yield event
            finally:
                loop.close()
                if self._team is not None:
                    self._team.close()
                    self._team = None
                if not self._state.is_terminal:  # an error, or the consumer dropped the generator
                    self._state = RunState.STOPPED
                    self._reason = "The run was interrupted before it finished."
                    self._finish()

    def _form_team(self, processes: bool) -> None:
        if processes:
            last = self.train_idx.size % self.batch_size
            # Everything the workers touch must exist before they are forked.
            self.engine.prepare_shared([self.batch_size] + ([last] if last else []))
            self._team = ProcessTeam(self.threads, [self.engine.step_phases, self.engine.eval_share],
                                     name="nn-train")
            self._shared_by = f"{self.threads} processes"
        else:
            self._team = Team(self.threads, name="nn-train")
            self._shared_by = f"{self.threads} threads"

    def _loop(self) -> Iterator[Event]:
        self._run_start = time.perf_counter()
        self.telemetry.start()
        for epoch in range(1, self.config.epochs + 1):
            self._epoch = epoch
            started, paused_before = time.perf_counter(), self.controls.paused_seconds
            totals = yield from self._train_epoch(epoch)
            if totals is None:  # the run ended inside the epoch
                return
            train_seconds = time.perf_counter() - started - (self.controls.paused_seconds - paused_before)
            if not (yield from self._end_epoch(epoch, totals, train_seconds, started, paused_before)):
                return
        yield from self._end(RunState.FINISHED, "")

    def _train_epoch(self, epoch: int) -> Iterator[Event]:
        """Shuffle, then one engine step per batch. Returns (loss sum, correct, seen), or None if the run ended."""
        engine, opt, bs, bpe = self.engine, self.optimizer, self.batch_size, self.batches_per_epoch
        dropout_rng = self._dropout_rng if any(p > 0 for p in self.model.config.dropouts) else None
        order = self._shuffle_rng.permutation(self.train_idx)
        loss_sum, correct, seen = 0.0, 0, 0
        for b in range(bpe):
            if not (yield from self._gate()):
                yield from self._end(RunState.STOPPED, self._stopped_reason())
                return None
            self._batch = b + 1
            idx = order[b * bs : (b + 1) * bs]
            y = np.take(self._labels, idx, out=self._ybuf[: idx.size])
            lr = self.schedule.lr(self._step)
            if lr != opt.lr:
                opt.lr = lr
            X = None if self._augmenter is None else self._augmenter(engine.batch_from_source(idx), self._augment_rng)
            loss = engine.train_batch(y, dropout_rng, idx=idx, X=X, team=self._active_team(),
                                      loss_limit=self.guard.limit)
            problem = self.guard.loss_problem(loss)
            if problem is not None:
                yield from self._diverge(f"{problem} at epoch {epoch}, batch {b + 1}", lr, batch_loss=loss)
                return None
            self._losses[self._step] = loss
            self._step += 1
            self.telemetry.after_batch(epoch, b + 1)
            loss_sum, correct, seen = loss_sum + loss * idx.size, correct + engine.last_batch_correct, seen + idx.size
            if self._step % CHECKPOINT_EVERY == 0:
                self.guard.keep(epoch, b + 1)
            yield BatchEvent(epoch=epoch, batch=b + 1, batches_per_epoch=bpe, step=self._step, loss=loss, lr=lr)
        return loss_sum, correct, seen

    def _end_epoch(self, epoch: int, totals: tuple[float, int, int], train_seconds: float, started: float,
                   paused_before: float) -> Iterator[Event]:
        """Validate, record and report the epoch; returns False when the run ends here."""
        lr = self.optimizer.lr
        if not self.model.all_finite():
            yield from self._diverge(f"The weights became NaN or infinite during epoch {epoch}", lr)
            return False
        val_loss, val_acc = self._validate()
        if self.val_idx.size and not math.isfinite(val_loss):
            yield from self._diverge(f"The validation loss became {word(val_loss)} after epoch {epoch}", lr)
            return False
        self.guard.keep(epoch, self.batches_per_epoch)
        loss_sum, correct, seen = totals
        event = EpochEvent(
            epoch=epoch, epochs=self.config.epochs, train_loss=loss_sum / seen, train_acc=correct / seen,
            val_loss=val_loss, val_acc=val_acc, lr=lr,
            seconds=time.perf_counter() - started - (self.controls.paused_seconds - paused_before),
            samples_per_sec=seen / train_seconds if train_seconds > 0 else float("nan"),
            **self.telemetry.epoch_statistics(),
        )
        self._epochs_done = epoch
        self.telemetry.record_epoch(event)
        self.controls.epoch_done()
        yield event
        reason = self.early_stopping.stop_after(epoch, val_loss)
        if reason is not None:
            yield from self._end(RunState.EARLY_STOPPED, reason)
            return False
        return True

    def _gate(self) -> Iterator[Event]:
        """Between batches: apply controls; wait while paused. Returns False to stop."""
        while True:
            decision, pending = self.controls.decide()
            if decision is Decision.STOP:
                return False
            if decision is Decision.RUN:
                if pending is not None:
                    self.schedule.rebase(pending, self._step)
                    self.lr_changes.append(LrChange(step=self._step, epoch=self._epoch, lr=pending))
                if self._state != RunState.RUNNING:
                    self._state = RunState.RUNNING
                    yield StateEvent(RunState.RUNNING)
                return True
            if self._state != RunState.PAUSED:
                self._state = RunState.PAUSED
                yield StateEvent(RunState.PAUSED)
            else:
                self.controls.wait_while_paused()

    # ------------------------------------------------------------------ endings

    def _end(self, state: RunState, reason: str, batch_loss: float | None = None,
             batch_lr: float | None = None) -> Iterator[Event]:
        self._state = state
        self._reason = reason
        self._finish()
        yield StateEvent(state, reason, batch_loss=batch_loss, batch_lr=batch_lr)

    def _finish(self) -> None:
        self._seconds = (time.perf_counter() - getattr(self, "_run_start", time.perf_counter())
                         - self.controls.paused_seconds)
        self.telemetry.finish(self._epochs_done)
        self.result = TrainResult(
            state=self._state, reason=self._reason, epochs_done=self._epochs_done,
            history=[dict(r) for r in self.telemetry.rows], seconds=self._seconds, steps=self._step,
            best_epoch=self.early_stopping.best_epoch, shared_by=self._shared_by,
        )

    def _diverge(self, what: str, lr: float, batch_loss: float | None = None) -> Iterator[Event]:
        reason = self.guard.restore(what, lr)
        self.optimizer.reset_state()
        # At a batch, that batch's loss and rate go with the event; at an epoch's end there is no such batch.
        return self._end(RunState.DIVERGED, reason, batch_loss=batch_loss,
                         batch_lr=None if batch_loss is None else lr)

    def _stopped_reason(self) -> str:
        if self._step == 0:
            return "Stopped before the first batch."
        return f"Stopped by request during epoch {self._epoch}, after batch {self._batch}."

    def _validate(self) -> tuple[float, float]:
        """Mean loss and accuracy on the validation set; NaN, NaN without one."""
        idx = self.val_idx
        if idx.size == 0:
            return float("nan"), float("nan")
        logits = self.engine.forward_from(idx, team=self._active_team())
        y = self._labels[idx]
        return cross_entropy(logits, y), int(np.count_nonzero(np.argmax(logits, axis=1) == y)) / idx.size

