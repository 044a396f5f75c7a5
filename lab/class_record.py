"""A class member's run as the store keeps it: written when it starts and when it ends, by the server.

Every number (parameters, epochs, validation and test accuracy, time) comes from the server's own run and
test set: a browser only says who it is. ``record_end`` is the run-end hook (lab/run_hooks.py).
"""

from __future__ import annotations

import logging
import math
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lab.class_share import keep_model
from lab.class_store import ClassStore, RunRow
from lab.snapshot import RunSnapshot
from nn.data import to_float
from nn.model import param_count

TEST_CHUNK = 2000  # test images per forward pass: bounds the float copy
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOwner:
    """Who started a run, and what the server needs to record it (set on ``TrainingRun.owner``)."""

    member_id: str
    dataset: str
    store: ClassStore
    test_images: Any  # (n, 28, 28) uint8, the shared read-only test set
    test_labels: Any
    started: float = field(default_factory=time.time)
    models: Path | None = None  # where finished runs' model files are kept for download (None: not kept)


def _finite(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def snapshot_row(run: Any, owner: RunOwner, snap: RunSnapshot, *, test_acc: float | None = None,
                 finished: float | None = None) -> RunRow:
    """The run's row as of ``snap``."""
    accs = tuple(float(e.val_acc) for e in snap.epochs)
    finite = [a for a in accs if math.isfinite(a)]
    hidden = run.config.model.hidden
    return RunRow(
        run_id=run.run_id, member_id=owner.member_id, dataset=owner.dataset,
        hidden="-".join(map(str, hidden)) or "none", params=param_count(run.config.model),
        epochs_planned=snap.epochs_planned, epochs_done=snap.epochs_done,
        best_val_acc=max(finite) if finite else None, test_acc=test_acc,
        seconds=float(snap.elapsed_seconds), state=snap.phase, val_accs=accs,
        started=owner.started, finished=finished,
        pid=os.getpid(), host=socket.gethostname(),
    )


def measure_test_accuracy(model: Any, images: np.ndarray, labels: np.ndarray) -> float | None:
    """Share of the test set ``model`` gets right, computed here in chunks; None without a usable model."""
    if model is None or len(labels) == 0:
        return None
    right = 0
    for start in range(0, len(labels), TEST_CHUNK):
        stop = start + TEST_CHUNK
        right += int(np.sum(model.predict(to_float(images[start:stop])) == labels[start:stop]))
    return right / len(labels)


def record_start(run: Any) -> None:
    """Write the run as waiting (so other processes' leaderboards see it before it ends)."""
    owner = run.owner
    owner.store.record_run(snapshot_row(run, owner, run.snapshot()))


def record_end(run: Any) -> None:
    """The run-end hook: the model file kept for download, then the final row with the server's test accuracy."""
    owner = getattr(run, "owner", None)
    if not isinstance(owner, RunOwner):
        return
    snap = run.snapshot()
    model, _ = run.model_copy() if snap.epochs_done else (None, "")
    acc = measure_test_accuracy(model, owner.test_images, owner.test_labels)
    if owner.models is not None and model is not None:
        try:  # before the row says finished, so a finished row's file is there
            keep_model(owner.models, run, model, owner.dataset)
        except (OSError, ValueError) as exc:
            _log.warning("run %s: its model file was not kept: %s", run.run_id, exc)
    owner.store.record_run(snapshot_row(run, owner, snap, test_acc=_finite(acc) if acc is not None else None,
                                        finished=time.time()))
