"""What a run records for those who watch it: per-layer health each epoch, W_1 snapshots, the history table.

The loop calls it; it never changes the network. Per epoch: weight and gradient norms and quantiles per
layer, and the share of ReLU units that are dead on a fixed sample. Snapshots of W_1 are kept within a
memory budget, thinned on a doubling stride.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from nn.data import to_float
from nn.events import DISTRIBUTION_QUANTILES, EpochEvent, quantile_name
from nn.model import MLP

if TYPE_CHECKING:
    import pandas as pd

_QUANTILE_SAMPLE = 65_536  # values per layer: quantiles of an evenly strided sample stay cheap for big layers


class Telemetry:
    """Records of one run of ``model``: epoch rows and events, W_1 snapshots within ``snapshot_budget`` bytes.

    ``grad_W``: the engine's live gradient arrays (the last step's); ``dead_sample``: uint8 images (k, 784)
    used to look for dead units; ``layer_statistics=False`` leaves the per-layer numbers out.
    """

    def __init__(self, model: MLP, grad_W: list[np.ndarray], dead_sample: np.ndarray,
                 snapshot_budget: int, layer_statistics: bool = True) -> None:
        self.model = model
        self.grad_W = grad_W
        self.dead_sample = dead_sample
        self.snapshot_budget = snapshot_budget
        self.layer_statistics = layer_statistics
        self.rows: list[dict[str, float]] = []
        self.epoch_events: list[EpochEvent] = []
        self.snapshots: list[tuple[int, np.ndarray]] = []
        self._stride = 1

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
