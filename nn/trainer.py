"""The training loop, with controls a UI can use from another thread.

One epoch, in words: shuffle the training indices; for each batch, gather its
images (uint8, shared and read-only) into a preallocated float buffer scaled to
[0, 1], distort them if augmentation is on, compute the loss and gradients,
and let the optimizer take a step at the learning rate the schedule gives.
After the last batch, measure the validation loss and accuracy and a few
health signs of the network (weight and gradient norms, dead ReLU units).

What the loop reports, it reports as events (nn/events.py) to a callback or as
a generator; it never prints. Between any two batches it checks its controls:

    pause()       stop before the next batch, until resume()
    resume()      carry on
    step_batch()  (while paused) run one batch, then pause again
    step_epoch()  (while paused) run to the end of the current epoch, then pause again
    stop()        end the run before the next batch
    set_lr(lr)    use lr from the next batch on; the schedule carries on from it

Safety nets:

* divergence guard: a loss that is NaN or infinite or has exploded (over 100
  times where it started), or weights that are NaN or infinite, end the run as
  DIVERGED with a plain-language reason, and the weights go back to the last
  copy known to be good (taken every few dozen batches);
* early stopping (optional): when the validation loss has not improved for
  ``early_stopping_patience`` epochs, the run ends and the best weights return.

Determinism: every random choice comes from generators spawned from
``config.seed`` (one stream each for the split, the initial weights, the
shuffling, dropout and augmentation), so the same config and seed give
bit-identical weights and history (the timing columns aside).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from nn.augment import Augmenter
from nn.config import TrainConfig
from nn.data import split_indices, to_float
from nn.events import (DISTRIBUTION_QUANTILES, BatchEvent, EpochEvent, Event, RunState, StateEvent,
                       quantile_name)
from nn.losses import cross_entropy
from nn.model import MLP
from nn.optim import make_optimizer
from nn.parallel import (Team, check_team_size, default_team_size, single_threaded_blas,
                         team_pays)
from nn.processes import ProcessTeam, processes_available
from nn.schedules import Schedule

if TYPE_CHECKING:
    import pandas as pd

CHECKPOINT_EVERY = 50  # batches between copies of the last good weights
# A loss this many times above max(ln C, first batch's loss) counts as diverged: a softmax that
# gave even 1 in 10^100 to the right class would be far below it. Without this a run at a huge
# learning rate rarely reaches NaN (the loss is computed stably); it just blows up and its ReLUs die.
EXPLOSION_FACTOR = 100.0
DEAD_SAMPLE = 1000  # validation images used to look for dead ReLU units

# What to suggest after a divergence, per optimizer: a learning rate that usually works.
_SAFE_LR = {"sgd": 0.1, "momentum": 0.01, "nesterov": 0.01, "adam": 1e-3, "adamw": 1e-3}
_NAMES = {"sgd": "SGD", "momentum": "momentum", "nesterov": "Nesterov", "adam": "Adam", "adamw": "AdamW"}


@dataclass(frozen=True)
class LrChange:
    """A learning rate set by the user during the run (for marking charts)."""

    step: int  # optimizer steps already taken when it applied (0-based index of its first step)
    epoch: int  # 1-based epoch of that step
    lr: float


@dataclass
class TrainResult:
    """How a run ended."""

    state: RunState
    reason: str  # plain language; empty when the run simply finished
    epochs_done: int  # completed epochs (with validation)
    history: list[dict[str, float]] = field(default_factory=list)  # one row per epoch, as in history()
    seconds: float = 0.0  # time spent training (pauses excluded)
    steps: int = 0  # optimizer steps taken
    best_epoch: int | None = None  # epoch of the lowest validation loss (None without validation)
    shared_by: str = ""  # "2 processes" or "2 threads" when a team shared the batches, else ""


class Trainer:
    """Trains an :class:`MLP` on ``images[train_idx]`` and validates on ``images[val_idx]``.

    images: (N, 28, 28) or (N, 784) uint8, shared and never copied whole;
    labels: (N,) integers. Without ``train_idx``/``val_idx`` the data is split
    with ``nn.data.split_indices`` (``config.val_size`` held out); given
    ``train_idx`` alone, there is no validation set. ``config.train_subset``
    then keeps a random subset of the training indices. ``model`` continues
    training an existing network; otherwise one is built from ``config.model``.
    ``threads`` (default: one per core, at most 2) is how many threads may share a
    batch of a large network (see nn/parallel.py); results are reproducible for
    a given value, and differ in the last bits between values. ``processes=True``
    shares it between forked processes instead (nn/processes.py: faster, for a
    process that runs nothing else, like the command line), where the platform
    allows; the results are the same as with threads. ``layer_statistics=False``
    leaves out the per-layer numbers of each :class:`EpochEvent` (norms, quantiles,
    dead units: what the dashboard charts), and their history columns, for a
    caller that shows none of them (the command line): 20-35 ms less per epoch.
    """

    def __init__(
        self,
        config: TrainConfig,
        images: np.ndarray,
        labels: np.ndarray,
        *,
        train_idx: np.ndarray | None = None,
        val_idx: np.ndarray | None = None,
        callback: Callable[[Event], None] | None = None,
        model: MLP | None = None,
        threads: int | None = None,
        processes: bool = False,
        layer_statistics: bool = True,
    ) -> None:
        if not isinstance(config, TrainConfig):
            raise ValueError(f"config must be a TrainConfig, got {type(config).__name__}")
        self.config = config
        self._callback = callback
        self.threads = default_team_size() if threads is None else check_team_size(threads)
        self.processes = bool(processes)
        self.layer_statistics = bool(layer_statistics)
        self._team: Team | ProcessTeam | None = None  # exists while the run does
        self._shared_by = ""  # see TrainResult.shared_by
        self._team_allowed = True  # see allow_team
        self._images, self._labels = _check_data(images, labels)
        n = self._images.shape[0]
        split_seed, init_seed, shuffle_seed, dropout_seed, augment_seed = np.random.SeedSequence(config.seed).spawn(5)
        split_rng = np.random.default_rng(split_seed)
        self._shuffle_rng = np.random.default_rng(shuffle_seed)
        self._dropout_rng = np.random.default_rng(dropout_seed)
        self._augment_rng = np.random.default_rng(augment_seed)

        train_idx, val_idx = _split(config, n, train_idx, val_idx, split_rng)
        self.train_idx = train_idx
        self.val_idx = val_idx

        if model is None:
            model = MLP(config.model, np.random.default_rng(init_seed))
        elif not isinstance(model, MLP):
            raise ValueError(f"model must be an nn.model.MLP, got {type(model).__name__}")
        if not model.all_finite():
            raise ValueError("the model's weights contain NaN or infinite values; build a fresh model")
        if model.config.input_size != self._images.shape[1]:
            raise ValueError(f"the model expects {model.config.input_size} inputs, the images have "
                             f"{self._images.shape[1]} pixels")
        if self._labels.size and int(self._labels.max()) >= model.config.n_classes:
            raise ValueError(f"labels go up to {int(self._labels.max())} but the model has "
                             f"{model.config.n_classes} classes")
        self.model = model
        model.set_batch_source(self._images)  # batches are drawn from these by index
        self._params = model.parameters()
        self._grads = model.gradients()  # the same list every step: the optimizer's fast path
        self.optimizer = make_optimizer(config, self._params)

        self.batch_size = min(config.batch_size, int(train_idx.size))
        self.batches_per_epoch = math.ceil(train_idx.size / self.batch_size)
        self.schedule = Schedule(config, self.batches_per_epoch)
        dtype = model.dtype
        self._ybuf = np.empty(self.batch_size, self._labels.dtype)
        self._augmenter = (Augmenter(config.augment, self.batch_size, dtype) if config.augment.enabled else None)
        self._step_phases = (self._forward_phase, self._weight_phase)  # a team's one job per batch
        sample = val_idx if val_idx.size else train_idx
        self._dead_sample = sample[:DEAD_SAMPLE]
        self._good = model.get_params()  # last weights known to be good, overwritten in place
        self._good_at = (0, 0)  # (epoch, batch) they come from
        self._best: list[np.ndarray] | None = None  # weights with the lowest validation loss

        # Run record.
        self._state = RunState.IDLE
        self._started = False
        self._step = 0
        self._epoch = 0
        self._batch = 0
        self._epochs_done = 0
        self._losses = np.full(config.epochs * self.batches_per_epoch, np.nan, np.float32)
        self._rows: list[dict[str, float]] = []
        self.epoch_events: list[EpochEvent] = []
        self.lr_changes: list[LrChange] = []
        self._snapshots: list[tuple[int, np.ndarray]] = []
        self._snapshot_stride = 1
        self._reason = ""
        self._best_epoch: int | None = None
        self._seconds = 0.0
        self.result: TrainResult | None = None

        # Controls, shared with other threads.
        self._cond = threading.Condition()
        self._pause_requested = False
        self._stop_requested = False
        self._grant: str | None = None  # "batch" or "epoch": work allowed while paused
        self._pending_lr: float | None = None
        self._paused_seconds = 0.0

    # ------------------------------------------------------------------ controls (any thread)

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
        """End the run before its next batch; the model keeps its current weights."""
        with self._cond:
            self._stop_requested = True
            self._cond.notify_all()

    def set_lr(self, lr: float) -> None:
        """Use learning rate ``lr`` from the next batch on; the schedule continues from this value."""
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or not 0 < lr <= 100:
            raise ValueError(f"learning rate must be a number in (0, 100], got {lr!r}")
        with self._cond:
            self._pending_lr = float(lr)

    def allow_team(self, allowed: bool) -> None:
        """Let the run's thread team share batches (True, the default) or keep to one thread from the next batch.

        For a server running several trainings at once: teams that outnumber the cores wait
        on each other's descheduled threads (measured: two runs of 784-256-128-10 side by side
        on 2 cores took 0.84 s per 20,000 images with a team each, 0.61 s without).
        """
        self._team_allowed = bool(allowed)  # one reference store: safe from any thread

    def _active_team(self) -> Team | None:
        """The team for the next piece of work: None without one, or while :meth:`allow_team` says no."""
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
        return list(self._snapshots)

    def history(self) -> pd.DataFrame:
        """One row per completed epoch: losses, accuracies, lr, timing and per-layer health columns."""
        import pandas as pd  # lazy: only needed when someone asks for a table

        return pd.DataFrame(list(self._rows), columns=self._columns())

    # ------------------------------------------------------------------ running

    def run(self) -> TrainResult:
        """Train to the end (blocking); events go to the callback. Call from any thread, once."""
        for _ in self.events():
            pass
        assert self.result is not None
        return self.result

    def events(self) -> Iterator[Event]:
        """The run as a generator of events (also passed to the callback, if any). Runs once."""
        with self._cond:
            if self._started:
                raise RuntimeError("this Trainer has already run; create a new one (pass model= to continue)")
            self._started = True
        callback = self._callback
        loop = self._loop()
        sizes = [W.size for W in self.model.weights]
        processes = self.processes and processes_available()
        use_team = self.threads > 1 and team_pays(self.batch_size, sizes, processes=processes)
        with single_threaded_blas() if use_team else nullcontext(False) as blas_single:
            # A team on top of a multi-threaded BLAS would oversubscribe the cores: without the
            # means to limit BLAS, BLAS keeps its threads and ours stay home.
            if blas_single and processes:
                # Everything the workers touch must exist before they are forked.
                last = self.train_idx.size % self.batch_size
                self.model.prepare_shared([self.batch_size] + ([last] if last else []))
                jobs = [self._step_phases, self.model.eval_share]
                self._team = ProcessTeam(self.threads, jobs, name="nn-train")
                self._shared_by = f"{self.threads} processes"
            elif blas_single:
                self._team = Team(self.threads, name="nn-train")
                self._shared_by = f"{self.threads} threads"
            try:
                for event in loop:
                    if callback is not None:
                        callback(event)
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

    def _loop(self) -> Iterator[Event]:
        cfg = self.config
        model, opt, schedule = self.model, self.optimizer, self.schedule
        grads, params = self._grads, self._params
        labels = self._labels
        bs, bpe = self.batch_size, self.batches_per_epoch
        dropout_rng = self._dropout_rng if any(p > 0 for p in model.config.dropouts) else None
        self._run_start = time.perf_counter()
        self._add_snapshot(0)
        patience_left = cfg.early_stopping_patience
        best_val = math.inf
        loss_limit: float | None = None  # set from the first batch's loss

        for epoch in range(1, cfg.epochs + 1):
            self._epoch = epoch
            epoch_start = time.perf_counter()
            paused_before = self._paused_seconds
            order = self._shuffle_rng.permutation(self.train_idx)
            loss_sum = 0.0
            correct = 0
            seen = 0
            for b in range(bpe):
                go = yield from self._gate()
                if not go:
                    yield from self._end(RunState.STOPPED, self._stopped_reason())
                    return
                self._batch = b + 1
                idx = order[b * bs : (b + 1) * bs]
                m = idx.size
                y = np.take(labels, idx, out=self._ybuf[:m])
                lr = schedule.lr(self._step)
                if lr != opt.lr:
                    opt.lr = lr
                team = self._active_team()
                if team is not None and m < team.size:
                    team = None
                gather = self._augmenter is None  # the batch is the source's rows as they are
                if team is None:
                    # The forward pass and the loss; backward waits for the loss check.
                    if gather:
                        loss = model.train_forward_loss_from(idx, y, dropout_rng)
                    else:
                        loss = model.train_forward_loss(self._augment(idx), y, dropout_rng)
                else:
                    # One job per batch, in two phases with a barrier between them: each member takes
                    # its rows of the batch forward and back to their dZ_l (and converts them first when
                    # ``gather``), then forms the gradient of its slice of the parameters and updates
                    # that slice while it is still in its cache (the same numbers as opt.step). The
                    # loss is checked afterwards: a divergence restores the last good weights anyway.
                    if gather:
                        model.stage_batch(y, dropout_rng, idx=idx)
                    else:
                        model.stage_batch(y, dropout_rng, X=self._augment(idx))
                    opt.begin_step()
                    results = team.run(self._step_phases, team.size, m, dropout_rng is not None, gather, opt.t, opt.lr)
                    loss = model.team_loss(results)
                if loss_limit is None:
                    loss_limit = EXPLOSION_FACTOR * max(math.log(model.config.n_classes), loss)
                if not loss <= loss_limit:  # also true for NaN
                    what = (f"The loss became {_word(loss)}" if not math.isfinite(loss)
                            else f"The loss exploded to {loss:.3g}")
                    yield from self._diverge(f"{what} at epoch {epoch}, batch {b + 1}", lr)
                    return
                if team is None:
                    # One update of the whole flat parameter buffer: ten NumPy calls per step
                    # instead of ten per array, which is what bounds a small network.
                    model.train_backward()
                    opt.step(grads)
                self._losses[self._step] = loss
                self._step += 1
                loss_sum += loss * m
                correct += model.last_batch_correct
                seen += m
                if self._step % CHECKPOINT_EVERY == 0 and model.all_finite():
                    self._keep_good(epoch, b + 1)
                yield BatchEvent(epoch=epoch, batch=b + 1, batches_per_epoch=bpe, step=self._step, loss=loss, lr=lr)

            train_seconds = time.perf_counter() - epoch_start - (self._paused_seconds - paused_before)
            if not model.all_finite():
                yield from self._diverge(f"The weights became NaN or infinite during epoch {epoch}", opt.lr)
                return
            val_loss, val_acc = self._validate()
            if self.val_idx.size and not math.isfinite(val_loss):
                yield from self._diverge(f"The validation loss became {_word(val_loss)} after epoch {epoch}", opt.lr)
                return
            self._keep_good(epoch, bpe)
            seconds = time.perf_counter() - epoch_start - (self._paused_seconds - paused_before)
            event = EpochEvent(
                epoch=epoch,
                epochs=cfg.epochs,
                train_loss=loss_sum / seen,
                train_acc=correct / seen,
                val_loss=val_loss,
                val_acc=val_acc,
                lr=opt.lr,
                seconds=seconds,
                samples_per_sec=seen / train_seconds if train_seconds > 0 else float("nan"),
                **(self._layer_statistics() if self.layer_statistics else {}),
            )
            self._epochs_done = epoch
            self.epoch_events.append(event)
            self._rows.append(_row(event))
            self._add_snapshot(epoch)
            with self._cond:
                if self._grant == "epoch":
                    self._grant = None  # step_epoch is done: the next gate pauses
            yield event

            if patience_left is not None:
                if val_loss < best_val:
                    best_val = val_loss
                    self._best_epoch = epoch
                    self._best = [p.copy() for p in params] if self._best is None else self._best
                    for kept, live in zip(self._best, params):
                        np.copyto(kept, live)
                    patience_left = cfg.early_stopping_patience
                else:
                    patience_left -= 1
                    if patience_left == 0:
                        model.set_params(self._best)
                        yield from self._end(
                            RunState.EARLY_STOPPED,
                            f"The validation loss has not improved for {cfg.early_stopping_patience} epochs "
                            f"(best {best_val:.4f} after epoch {self._best_epoch}), so training stopped and "
                            f"the weights from epoch {self._best_epoch} were restored.",
                        )
                        return
            elif self.val_idx.size and val_loss < best_val:
                best_val, self._best_epoch = val_loss, epoch
        yield from self._end(RunState.FINISHED, "")

    def _augment(self, idx: np.ndarray) -> np.ndarray:
        return self._augmenter(self.model.batch_from_source(idx), self._augment_rng)

    def _forward_phase(self, k: int, parts: int, n: int, dropout: bool, gather: bool, t: int,
                       lr: float) -> tuple[float, int]:
        """Member k's rows of the staged batch: forward, loss, and back to every dZ_l (phase 1 of a step)."""
        return self.model.forward_share(k, parts, n, dropout, gather)

    def _weight_phase(self, k: int, parts: int, n: int, dropout: bool, gather: bool, t: int, lr: float) -> None:
        """Member k's slice of the weight gradients and its update (phase 2 of a step)."""
        opt = self.optimizer
        opt.t, opt.lr = t, lr  # a worker process has its own copy of these two numbers
        self.model.weight_share(k, parts, n, self._update_slice)

    def _update_slice(self, start: int, stop: int) -> None:
        self.optimizer.update_slice(self._grads, start, stop)

    def _gate(self) -> Iterator[Event]:
        """Between batches: apply controls; wait while paused. Returns False to stop."""
        while True:
            with self._cond:
                if self._stop_requested:
                    return False
                run = not self._pause_requested or self._grant is not None
                if run:
                    if self._grant == "batch":
                        self._grant = None  # this batch uses the grant; the next gate pauses
                    pending, self._pending_lr = self._pending_lr, None
                elif self._state == RunState.PAUSED:
                    waited = time.perf_counter()
                    self._cond.wait()
                    self._paused_seconds += time.perf_counter() - waited
                    continue
            if run:
                if pending is not None:
                    self.schedule.rebase(pending, self._step)
                    self.lr_changes.append(LrChange(step=self._step, epoch=self._epoch, lr=pending))
                if self._state != RunState.RUNNING:
                    self._state = RunState.RUNNING
                    yield StateEvent(RunState.RUNNING)
                return True
            self._state = RunState.PAUSED
            yield StateEvent(RunState.PAUSED)

    # ------------------------------------------------------------------ endings

    def _end(self, state: RunState, reason: str) -> Iterator[Event]:
        self._state = state
        self._reason = reason
        self._finish()
        yield StateEvent(state, reason)

    def _finish(self) -> None:
        self._seconds = time.perf_counter() - getattr(self, "_run_start", time.perf_counter()) - self._paused_seconds
        last = self._epochs_done
        if last and (not self._snapshots or self._snapshots[-1][0] != last):
            self._add_snapshot(last, final=True)
        self.result = TrainResult(
            state=self._state,
            reason=self._reason,
            epochs_done=self._epochs_done,
            history=[dict(r) for r in self._rows],
            seconds=self._seconds,
            steps=self._step,
            best_epoch=self._best_epoch,
            shared_by=self._shared_by,
        )

    def _diverge(self, what: str, lr: float) -> Iterator[Event]:
        self.model.set_params(self._good)
        self.optimizer.reset_state()
        safe = _SAFE_LR[self.config.optimizer]
        if lr > safe:
            advice = f"the steps were too large. Lower the learning rate (try {safe:g} for {_NAMES[self.config.optimizer]})."
        else:
            advice = ("the learning rate is already modest, so look at the initialisation "
                      "(try 'he' for ReLU, 'xavier' for tanh/sigmoid) or a smaller init scale.")
        epoch, batch = self._good_at
        where = "the initial weights" if epoch == 0 else f"the weights from epoch {epoch}, batch {batch}"
        reason = f"{what} (learning rate {lr:g}): {advice} The model keeps {where}, the last good ones."
        return self._end(RunState.DIVERGED, reason)

    def _stopped_reason(self) -> str:
        if self._step == 0:
            return "Stopped before the first batch."
        return f"Stopped by request during epoch {self._epoch}, after batch {self._batch}."

    def _keep_good(self, epoch: int, batch: int) -> None:
        for kept, live in zip(self._good, self._params):
            np.copyto(kept, live)
        self._good_at = (epoch, batch)

    # ------------------------------------------------------------------ measurements

    def _validate(self) -> tuple[float, float]:
        """Mean loss and accuracy on the validation set; NaN, NaN without one."""
        idx = self.val_idx
        if idx.size == 0:
            return float("nan"), float("nan")
        logits = self.model.forward_from(idx, team=self._active_team())
        y = self._labels[idx]
        return cross_entropy(logits, y), int(np.count_nonzero(np.argmax(logits, axis=1) == y)) / idx.size

    def _layer_statistics(self) -> dict[str, tuple]:
        """The per-layer numbers of an EpochEvent: norms, quantiles, dead units."""
        model = self.model
        return {
            "weight_norms": tuple(_norm(W) for W in model.weights),
            "grad_norms": tuple(_norm(g) for g in model.grad_W),
            "dead_fraction": self._dead_fraction(),
            "weight_quantiles": tuple(_quantiles(W) for W in model.weights),
            "grad_quantiles": tuple(_quantiles(g) for g in model.grad_W),
        }

    def _dead_fraction(self) -> tuple[float, ...]:
        """Per hidden layer: share of ReLU units that are zero for every image of a fixed sample.

        Only ReLU-like units can die (their gradient is 0 on the whole sample, so
        they never learn again); sigmoid and tanh layers report NaN.
        """
        X = to_float(self._images[self._dead_sample])
        traces = self.model.forward_trace(X)[:-1]
        fractions = []
        for trace, name in zip(traces, self.model.config.activations):
            if name in ("relu", "leaky_relu"):
                fractions.append(float(np.mean(np.all(trace.pre <= 0, axis=0))))
            else:
                fractions.append(float("nan"))
        return tuple(fractions)

    def _add_snapshot(self, epoch: int, final: bool = False) -> None:
        """Keep a copy of W_1 after ``epoch`` (0: the initial weights) within the memory budget.

        Epochs are kept on a stride: every epoch at first; whenever the next copy
        would not fit, every other one is dropped and the stride doubles. The
        ``final`` epoch of a run is always kept when at least two copies fit (it
        replaces the latest one if need be).
        """
        budget = self.config.snapshot_budget_bytes
        W = self.model.weights[0]
        used = sum(w.nbytes for _, w in self._snapshots)
        if final:  # the end matters most after the start: it may replace the latest other copy
            if used + W.nbytes <= budget:
                self._snapshots.append((epoch, W.copy()))
            elif len(self._snapshots) >= 2 and used <= budget:
                self._snapshots[-1] = (epoch, W.copy())
            return
        if epoch % self._snapshot_stride or W.nbytes > budget:
            return
        while used + W.nbytes > budget:
            self._snapshot_stride *= 2
            self._snapshots = [(e, w) for e, w in self._snapshots if e % self._snapshot_stride == 0]
            used = sum(w.nbytes for _, w in self._snapshots)
            if epoch % self._snapshot_stride:
                return
        self._snapshots.append((epoch, W.copy()))

    def _columns(self) -> list[str]:
        n_layers = len(self.model.weights)
        n_hidden = n_layers - 1
        base = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds", "samples_per_sec"]
        if not self.layer_statistics:
            return base
        return (
            base
            + [f"weight_norm_{i}" for i in range(1, n_layers + 1)]
            + [f"grad_norm_{i}" for i in range(1, n_layers + 1)]
            + [f"dead_fraction_{i}" for i in range(1, n_hidden + 1)]
            + [f"{kind}_{quantile_name(q)}_{i}" for kind in ("weight", "grad")
               for i in range(1, n_layers + 1) for q in DISTRIBUTION_QUANTILES]
        )


# ---------------------------------------------------------------------- helpers


def _check_data(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    images = np.asarray(images)
    labels = np.asarray(labels)
    if images.dtype != np.uint8:
        raise ValueError(f"images must be uint8 pixels 0-255, got dtype {images.dtype}")
    if images.ndim == 3:
        images = images.reshape(images.shape[0], -1)  # a view when contiguous: no copy
    if images.ndim != 2 or images.shape[0] == 0:
        raise ValueError(f"images must be (N, 28, 28) or (N, 784) with N > 0, got shape {images.shape!r}")
    if labels.shape != (images.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be {images.shape[0]} integers, got shape {labels.shape!r} "
                         f"dtype {labels.dtype}")
    if labels.min() < 0:
        raise ValueError(f"labels must be non-negative class numbers, got {labels.min()}")
    return images, labels


def _split(
    config: TrainConfig, n: int, train_idx: Any, val_idx: Any, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The training and validation indices: given, or drawn by ``split_indices``; then the subset."""
    if train_idx is None and val_idx is None:
        train_idx, val_idx = split_indices(n, config.val_size, rng)
    elif train_idx is None:
        val_idx = _check_indices("val_idx", val_idx, n)
        train_idx = np.setdiff1d(np.arange(n), val_idx)
    train_idx = _check_indices("train_idx", train_idx, n)
    val_idx = _check_indices("val_idx", np.empty(0, np.int64) if val_idx is None else val_idx, n)
    if config.train_subset is not None and config.train_subset < train_idx.size:
        train_idx = np.sort(rng.choice(train_idx, config.train_subset, replace=False))
    if train_idx.size == 0:
        raise ValueError("there are no training examples: the training index list is empty")
    if config.early_stopping_patience is not None and val_idx.size == 0:
        raise ValueError(
            f"early stopping (patience {config.early_stopping_patience}) needs a validation set; set val_size above 0"
        )
    return train_idx, val_idx


def _check_indices(name: str, idx: Any, n: int) -> np.ndarray:
    idx = np.asarray(idx)
    if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
        raise ValueError(f"{name} must be a 1-D array of integer indices, got shape {idx.shape!r} dtype {idx.dtype}")
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise ValueError(f"{name} must index {n} images (0 to {n - 1}), got values {idx.min()} to {idx.max()}")
    return idx.astype(np.intp, copy=False)


def _norm(a: np.ndarray) -> float:
    flat = a.reshape(-1)
    return float(math.sqrt(float(np.dot(flat, flat))))


_QUANTILE_SAMPLE = 65_536  # values per layer: quantiles of a strided sample cost ~1 ms even for 784x800


def _quantiles(a: np.ndarray) -> tuple[float, ...]:
    """``a``'s values at DISTRIBUTION_QUANTILES, from an evenly strided (so deterministic) sample."""
    flat = a.reshape(-1)
    stride = max(1, flat.size // _QUANTILE_SAMPLE)
    return tuple(float(q) for q in np.quantile(flat[::stride], DISTRIBUTION_QUANTILES))


def _word(x: float) -> str:
    return "NaN" if math.isnan(x) else "infinite"


def _row(e: EpochEvent) -> dict[str, float]:
    row: dict[str, float] = {
        "epoch": e.epoch,
        "train_loss": e.train_loss,
        "train_acc": e.train_acc,
        "val_loss": e.val_loss,
        "val_acc": e.val_acc,
        "lr": e.lr,
        "seconds": e.seconds,
        "samples_per_sec": e.samples_per_sec,
    }
    for i, v in enumerate(e.weight_norms, 1):
        row[f"weight_norm_{i}"] = v
    for i, v in enumerate(e.grad_norms, 1):
        row[f"grad_norm_{i}"] = v
    for i, v in enumerate(e.dead_fraction, 1):
        row[f"dead_fraction_{i}"] = v
    for kind, per_layer in (("weight", e.weight_quantiles), ("grad", e.grad_quantiles)):
        for i, values in enumerate(per_layer, 1):
            for q, v in zip(DISTRIBUTION_QUANTILES, values):
                row[f"{kind}_{quantile_name(q)}_{i}"] = v
    return row
