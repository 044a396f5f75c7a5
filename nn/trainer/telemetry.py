"""What a run records for those who watch it: per-layer health each epoch, snapshots, the history table.

The loop calls it; it never changes the network. Per epoch: weight and gradient norms and quantiles per
layer, and the share of ReLU units that are dead on a fixed sample. Two kinds of snapshot, each kept
within the run's snapshot budget and thinned on a doubling stride:

* W_1 alone after every epoch (``snapshots``: the filters' evolution);
* the whole network (every W and b: ``timeline``, a list of :class:`Checkpoint`) at the start, at a few
  points inside the first epoch (1/16, 1/8, 1/4 and 1/2 of it, where most of the learning happens) and
  at every epoch's end, so any view of the model can be rewound to one of them. The points inside the
  first epoch are taken only when the budget holds at least ``INNER_MIN_COPIES`` copies (so they never
  take more than half of it), and thinning never drops them or the start.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from nn.data import to_float
from nn.events import DISTRIBUTION_QUANTILES, EpochEvent, quantile_name
from nn.model import MLP

if TYPE_CHECKING:
    import pandas as pd

_QUANTILE_SAMPLE = 65_536  # values per layer: quantiles of an evenly strided sample stay cheap for big layers
INNER_FRACTIONS = (1 / 16, 1 / 8, 1 / 4, 1 / 2)  # of the first epoch: where the timeline looks closer
INNER_MIN_COPIES = 2 * (len(INNER_FRACTIONS) + 1)  # the start and the inner points take at most half the budget


@dataclass(frozen=True)
class Checkpoint:
    """The whole network at one point of a run.

    ``params``: a read-only flat copy of ``[W_1, b_1, ..., W_L, b_L]`` (the order of
    ``MLP.parameters()``); ``step``: optimizer steps taken; ``kind``: "start", "inside" (epoch 1),
    "epoch" (an epoch's end) or "end" (where the run ended, if not at an epoch's end; after a
    divergence, the last good weights).
    """

    step: int
    batches_per_epoch: int
    kind: str
    params: np.ndarray

    @property
    def position(self) -> float:
        """Where in the run, in epochs: 0 at the start, 0.25 a quarter into epoch 1, 3 after epoch 3."""
        return self.step / self.batches_per_epoch if self.batches_per_epoch else 0.0

    @property
    def nbytes(self) -> int:
        return self.params.nbytes


def inner_batches(batches_per_epoch: int) -> frozenset[int]:
    """The batches of epoch 1 after which the timeline takes a copy (INNER_FRACTIONS of it, rounded)."""
    points = {round(batches_per_epoch * f) for f in INNER_FRACTIONS}
    return frozenset(b for b in points if 1 <= b < batches_per_epoch)


class Telemetry:
    """Records of one run of ``model``: epoch rows and events, snapshots within ``snapshot_budget`` bytes.

    ``grad_W``: the engine's live gradient arrays (the last step's); ``dead_sample``: uint8 images (k, 784)
    used to look for dead units; ``layer_statistics=False`` leaves the per-layer numbers out.
    ``batches_per_epoch``: for the timeline's positions (0: no timeline); ``timeline_budget``: bytes for
    its checkpoints (default: ``snapshot_budget``, a budget of its own beside the W_1 snapshots').
    """

    def __init__(self, model: MLP, grad_W: list[np.ndarray], dead_sample: np.ndarray,
                 snapshot_budget: int, layer_statistics: bool = True, *, batches_per_epoch: int = 0,
                 timeline_budget: int | None = None) -> None:
        self.model = model
        self.grad_W = grad_W
        self.dead_sample = dead_sample
        self.snapshot_budget = snapshot_budget
        self.layer_statistics = layer_statistics
        self.rows: list[dict[str, float]] = []
        self.epoch_events: list[EpochEvent] = []
        self.snapshots: list[tuple[int, np.ndarray]] = []
        self._stride = 1
        self.batches_per_epoch = batches_per_epoch
        self.timeline_budget = snapshot_budget if timeline_budget is None else timeline_budget
        self.timeline: list[Checkpoint] = []
        self.step = 0  # batches trained so far, counted by after_batch
        self._timeline_stride = 1
        copy_bytes = sum(p.nbytes for p in model.parameters())
        roomy = batches_per_epoch and self.timeline_budget >= INNER_MIN_COPIES * copy_bytes
        self._inner = inner_batches(batches_per_epoch) if roomy else frozenset()

    def epoch_statistics(self) -> dict[str, tuple]:
        """The per-layer numbers of an EpochEvent (empty without ``layer_statistics``)."""
        if not self.layer_statistics:
            return {}
        model = self.model
        return {
            "weight_norms": tuple(_norm(W) for W in model.weights),
            "grad_norms": tuple(_norm(g) for g in self.grad_W),
            "dead_fraction": self._dead_fraction(),
            "weight_quantiles": tuple(_quantiles(W) for W in model.weights),
            "grad_quantiles": tuple(_quantiles(g) for g in self.grad_W),
        }

    def record_epoch(self, event: EpochEvent) -> None:
        self.epoch_events.append(event)
        self.rows.append(_row(event))
        self.add_snapshot(event.epoch)
        self._add_checkpoint("epoch", event.epoch)

    def after_batch(self, epoch: int, batch: int) -> None:
        """The loop took one more step (``batch`` of ``epoch``); inside epoch 1, maybe a checkpoint."""
        self.step += 1
        if epoch == 1 and batch in self._inner:
            self._add_checkpoint("inside")

    def start(self) -> None:
        """Before the first step: W_1 and the whole network as initialised (epoch 0)."""
        self.add_snapshot(0)
        self._add_checkpoint("start", 0)

    def finish(self, epochs_done: int) -> None:
        """The run ended (finished, stopped, diverged): keep where it ended, in both kinds of snapshot."""
        if epochs_done:
            self.add_snapshot(epochs_done, final=True)
        if self.batches_per_epoch:
            self._add_final_checkpoint()

    def _copy(self, kind: str) -> Checkpoint:
        params = np.concatenate([p.reshape(-1) for p in self.model.parameters()])
        params.flags.writeable = False  # shared by every view that rewinds to it
        return Checkpoint(step=self.step, batches_per_epoch=self.batches_per_epoch, kind=kind, params=params)

    def _copy_bytes(self) -> int:
        return sum(p.nbytes for p in self.model.parameters())

    def _add_checkpoint(self, kind: str, epoch: int = 0) -> None:
        """Keep the whole network within the timeline budget, thinning epoch ends as W_1's snapshots are.

        Epoch ends are kept on a stride (every epoch at first; whenever the next copy would not fit,
        every other one is dropped and the stride doubles). The start and the points inside epoch 1
        are never thinned (their number is bounded by INNER_MIN_COPIES).
        """
        if not self.batches_per_epoch:
            return
        size, budget = self._copy_bytes(), self.timeline_budget
        used = sum(c.nbytes for c in self.timeline)
        if kind == "epoch":
            if epoch % self._timeline_stride or size > budget:
                return
            while used + size > budget:
                self._timeline_stride *= 2
                stride = self._timeline_stride
                self.timeline = [c for c in self.timeline
                                 if c.kind != "epoch" or round(c.position) % stride == 0]
                used = sum(c.nbytes for c in self.timeline)
                if epoch % stride:
                    return
        elif used + size > budget:
            return
        self.timeline.append(self._copy(kind))

    def _add_final_checkpoint(self) -> None:
        """The weights the run ends with, unless the latest checkpoint holds them; may replace the latest.

        Compared by value, not by step: early stopping and the divergence guard put earlier weights
        back after the last epoch's checkpoint was taken.
        """
        end = self._copy("end")
        if self.timeline and np.array_equal(self.timeline[-1].params, end.params):
            return
        used = sum(c.nbytes for c in self.timeline)
        if used + end.nbytes <= self.timeline_budget:
            self.timeline.append(end)
        elif len(self.timeline) >= 2 and self.timeline[-1].kind != "start":
            self.timeline[-1] = end

    def _dead_fraction(self) -> tuple[float, ...]:
        """Per hidden layer: share of ReLU units that are zero for every image of the fixed sample.

        Only ReLU-like units can die (their gradient is 0 on the whole sample, so
        they never learn again); sigmoid and tanh layers report NaN.
        """
        traces = self.model.forward_trace(to_float(self.dead_sample))[:-1]
        fractions = []
        for trace, name in zip(traces, self.model.config.activations):
            if name in ("relu", "leaky_relu"):
                fractions.append(float(np.mean(np.all(trace.pre <= 0, axis=0))))
            else:
                fractions.append(float("nan"))
        return tuple(fractions)

    def add_snapshot(self, epoch: int, final: bool = False) -> None:
        """Keep a copy of W_1 after ``epoch`` (0: the initial weights) within the memory budget.

        Epochs are kept on a stride: every epoch at first; whenever the next copy
        would not fit, every other one is dropped and the stride doubles. The
        ``final`` epoch of a run is always kept when at least two copies fit (it
        replaces the latest one if need be).
        """
        budget = self.snapshot_budget
        W = self.model.weights[0]
        used = sum(w.nbytes for _, w in self.snapshots)
        if final:  # the end matters most after the start: it may replace the latest other copy
            if self.snapshots and self.snapshots[-1][0] == epoch:
                return
            if used + W.nbytes <= budget:
                self.snapshots.append((epoch, W.copy()))
            elif len(self.snapshots) >= 2 and used <= budget:
                self.snapshots[-1] = (epoch, W.copy())
            return
        if epoch % self._stride or W.nbytes > budget:
            return
        while used + W.nbytes > budget:
            self._stride *= 2
            self.snapshots = [(e, w) for e, w in self.snapshots if e % self._stride == 0]
            used = sum(w.nbytes for _, w in self.snapshots)
            if epoch % self._stride:
                return
        self.snapshots.append((epoch, W.copy()))

    def columns(self) -> list[str]:
        """The history table's columns: the basics, then per-layer health when recorded."""
        n_layers = self.model.n_layers
        base = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds", "samples_per_sec"]
        if not self.layer_statistics:
            return base
        return (
            base
            + [f"weight_norm_{i}" for i in range(1, n_layers + 1)]
            + [f"grad_norm_{i}" for i in range(1, n_layers + 1)]
            + [f"dead_fraction_{i}" for i in range(1, n_layers)]
            + [f"{kind}_{quantile_name(q)}_{i}" for kind in ("weight", "grad")
               for i in range(1, n_layers + 1) for q in DISTRIBUTION_QUANTILES]
        )

    def history(self) -> pd.DataFrame:
        """One row per completed epoch."""
        import pandas as pd  # lazy: only needed when someone asks for a table

        return pd.DataFrame(list(self.rows), columns=self.columns())


def _norm(a: np.ndarray) -> float:
    flat = a.reshape(-1)
    return float(math.sqrt(float(np.dot(flat, flat))))


def _quantiles(a: np.ndarray) -> tuple[float, ...]:
    """``a``'s values at DISTRIBUTION_QUANTILES, from an evenly strided (so deterministic) sample."""
    flat = a.reshape(-1)
    stride = max(1, flat.size // _QUANTILE_SAMPLE)
    return tuple(float(q) for q in np.quantile(flat[::stride], DISTRIBUTION_QUANTILES))


def _row(e: EpochEvent) -> dict[str, float]:
    row: dict[str, float] = {
        "epoch": e.epoch, "train_loss": e.train_loss, "train_acc": e.train_acc, "val_loss": e.val_loss,
        "val_acc": e.val_acc, "lr": e.lr, "seconds": e.seconds, "samples_per_sec": e.samples_per_sec,
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
