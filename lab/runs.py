"""Every run of a session, kept: a frozen record per run (curves, timeline, final weights), a bounded book, the table.

A ``TrainingRun`` holds a trainer with its engine buffers and optimizer state; once it has ended, the
book keeps only a ``RunRecord`` (what the pages show: history, batch losses and learning rates, the
whole-network timeline, W_1 snapshots, the final model). The book holds at most ``limit`` runs and
``memory_limit`` bytes of ended runs; the oldest ended run that is not the current one makes room.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from lab.params import config_to_knobs
from lab.snapshot import TERMINAL_PHASES
from nn.config import TrainConfig
from nn.model import param_count

MAX_RUNS = 8  # runs one session keeps; with the default network a run takes about 20 MB
MAX_RUNS_BYTES = 512 * 2**20  # and the memory they may hold (a run of the "best" preset takes about 135 MB)


@dataclass
class RunRecord:
    """One run as the Runs page and the explanation pages read it, frozen when it ended."""

    run_id: str
    name: str  # "Run 3", or an uploaded file's name
    source: str  # "trained" or "uploaded"
    status: str  # finished, stopped, diverged, early_stopped, failed, uploaded
    config: TrainConfig | None  # None: an uploaded file without its training settings
    model: Any  # nn.model.MLP: the weights the run ended with
    version: str  # the model's version for the pages' caches
    history: pd.DataFrame | None = None  # one row per epoch
    batch_losses: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    batch_lrs: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    batches_per_epoch: int = 0
    train_size: int = 0  # training images per epoch
    timeline: list = field(default_factory=list)  # [nn.trainer.telemetry.Checkpoint]
    snapshots: list = field(default_factory=list)  # [(epoch, W_1)]
    seconds: float = float("nan")  # training time, pauses excluded
    reason: str = ""
    parent: str | None = None  # the run this one repeats with one change (paired A/B)
    change: str = ""  # that change, in words: "learning rate 0.002 → 0.01"
    test_accuracy: float = float("nan")  # filled in by whoever evaluates it first

    @property
    def nbytes(self) -> int:
        """Memory the record holds: the final weights, the timeline, the W_1 snapshots and the curves."""
        model = sum(p.nbytes for p in self.model.parameters())
        return (model + sum(c.nbytes for c in self.timeline) + sum(w.nbytes for _, w in self.snapshots)
                + self.batch_losses.nbytes + self.batch_lrs.nbytes)

    def samples_seen(self, steps: np.ndarray) -> np.ndarray:
        """Training images seen after ``steps`` optimizer steps (the last batch of an epoch may be short)."""
        bpe, size = max(self.batches_per_epoch, 1), self.train_size
        batch = self.config.batch_size if self.config is not None else size
        steps = np.asarray(steps, dtype=np.int64)
        return (steps // bpe) * size + np.minimum((steps % bpe) * batch, size)


def record_from_run(run: Any, name: str, *, parent: str | None = None, change: str = "") -> RunRecord | None:
    """The record of an ended ``lab.training_run.TrainingRun``; None when it never built a model."""
    model, version = run.model_copy()
    if model is None:
        return None
    snap = run.snapshot()
    trainer = run.trainer
    history = timeline = snapshots = None
    train_size = 0
    if trainer is not None:
        history = trainer.history()
        timeline, snapshots = trainer.timeline, trainer.snapshots
        train_size = int(trainer.train_idx.size)
    return RunRecord(
        run_id=run.run_id, name=name, source="trained", status=snap.phase, config=run.config, model=model,
        version=version, history=history, batch_losses=snap.batch_losses, batch_lrs=snap.batch_lrs,
        batches_per_epoch=snap.batches_per_epoch, train_size=train_size, timeline=timeline or [],
        snapshots=snapshots or [], seconds=snap.elapsed_seconds, reason=snap.reason or snap.error,
        parent=parent, change=change)


@dataclass
class Entry:
    """A run in the book: live (its ``TrainingRun``) until it ends, then its ``RunRecord``."""

    run_id: str
    name: str
    live: Any = None  # lab.training_run.TrainingRun while it may still change
    record: RunRecord | None = None
    parent: str | None = None
    change: str = ""

    @property
    def ended(self) -> bool:
        return self.record is not None


class RunBook:
    """The runs of one session, oldest first, at most ``limit`` of them."""

    def __init__(self, limit: int = MAX_RUNS, memory_limit: int = MAX_RUNS_BYTES) -> None:
        if limit < 2:
            raise ValueError(f"a run book keeps at least 2 runs (to compare), got {limit!r}")
        self.limit = limit
        self.memory_limit = memory_limit
        self.entries: list[Entry] = []
        self._count = 0

    def _name(self) -> str:
        self._count += 1
        return f"Run {self._count}"

    def add_run(self, run: Any, *, parent: str | None = None, change: str = "", keep: str | None = None) -> list[str]:
        """Add a live run; returns the names of the runs dropped to make room (never ``keep`` or a live one)."""
        self.entries.append(Entry(run.run_id, self._name(), live=run, parent=parent, change=change))
        return self._trim(keep)

    def add_record(self, record: RunRecord, keep: str | None = None) -> list[str]:
        """Add an ended run (e.g. an uploaded model); returns the names dropped to make room."""
        self.entries.append(Entry(record.run_id, record.name, record=record, parent=record.parent,
                                  change=record.change))
        return self._trim(keep)

    def refresh(self, keep: str | None = None) -> list[str]:
        """Freeze every run whose thread has ended into its record (a run that left no model is dropped).

        Returns the names of older runs dropped to stay within the memory limit (never ``keep``).
        """
        for entry in list(self.entries):
            run = entry.live
            if run is None or run.phase not in TERMINAL_PHASES or run.alive:
                continue
            entry.record = record_from_run(run, entry.name, parent=entry.parent, change=entry.change)
            entry.live = None
            if entry.record is None:
                self.entries.remove(entry)
        return self._trim(keep)

    def get(self, run_id: str | None) -> Entry | None:
        return next((e for e in self.entries if e.run_id == run_id), None)

    def delete(self, run_id: str) -> bool:
        """Forget an ended run; a live one stays (stop it first). True when something was deleted."""
        entry = self.get(run_id)
        if entry is None or not entry.ended:
            return False
        self.entries.remove(entry)
        return True

    def records(self) -> list[RunRecord]:
        return [e.record for e in self.entries if e.record is not None]

    def memory_bytes(self) -> int:
        """Memory the ended runs hold (a live run's is its trainer's, shown on the Train page)."""
        return sum(r.nbytes for r in self.records())

    def _trim(self, keep: str | None) -> list[str]:
        """Drop the oldest ended runs (never ``keep``, never the newest ended one) while over either limit."""
        dropped = []
        while len(self.entries) > self.limit or (self.memory_bytes() > self.memory_limit and len(self.records()) > 1):
            ended = [e for e in self.entries if e.ended]
            victim = next((e for e in ended[:-1] if e.run_id != keep), None)
            if victim is None:
                break  # everything left is live, kept or the newest: the limit waits for them to end
            self.entries.remove(victim)
            dropped.append(victim.name)
        return dropped


# ----- the table ---------------------------------------------------------------------------------------
def _best_and_final(history: pd.DataFrame | None) -> tuple[float, float]:
    if history is None or history.empty or "val_acc" not in history:
        return float("nan"), float("nan")
    values = history["val_acc"].to_numpy(dtype=float)
    finite = values[np.isfinite(values)]
    return (float(values[-1]), float(finite.max())) if finite.size else (float("nan"), float("nan"))


def _setting(knobs: dict[str, Any], name: str) -> Any:
    value = knobs[name]
    if name == "hidden":
        return "-".join(map(str, value)) or "none"
    return value


def differing_settings(records: list[RunRecord]) -> list[str]:
    """The knobs whose values are not the same for every record that has settings (in the knobs' order)."""
    knobs = [config_to_knobs(r.config) for r in records if r.config is not None]
    if len(knobs) < 2:
        return []
    return [name for name in knobs[0] if len({repr(k[name]) for k in knobs}) > 1]


def runs_table(records: list[RunRecord]) -> pd.DataFrame:
    """One row per run: name, status, the settings that differ between runs, accuracies, time, size."""
    differing = differing_settings(records)
    rows = []
    for r in records:
        final, best = _best_and_final(r.history)
        knobs = config_to_knobs(r.config) if r.config is not None else None
        row: dict[str, Any] = {"run": r.name, "status": r.status, "change": r.change}
        for name in differing:
            row[name] = _setting(knobs, name) if knobs is not None else None
        epochs = 0 if r.history is None else len(r.history)
        row.update({"final val acc": final, "best val acc": best, "test acc": r.test_accuracy, "epochs": epochs,
                    "time (s)": r.seconds if math.isfinite(r.seconds) else float("nan"),
                    "parameters": param_count(r.model.config), "memory (MB)": r.nbytes / 2**20,
                    "id": r.run_id})
        rows.append(row)
    columns = ["run", "status", "change", *differing, "final val acc", "best val acc", "test acc", "epochs",
               "time (s)", "parameters", "memory (MB)", "id"]
    return pd.DataFrame(rows, columns=columns)


def table_csv(table: pd.DataFrame) -> bytes:
    """The table as CSV (UTF-8, no index), for a download."""
    return table.to_csv(index=False).encode("utf-8")
