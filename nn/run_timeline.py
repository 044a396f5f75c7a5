"""A run's timeline in a model file: its whole-network checkpoints (``nn.trainer.telemetry.Checkpoint``).

Optional, like the history and the snapshots (nn/run_record.py), and described in the config JSON::

    "timeline": {"batches_per_epoch": 43, "steps": [0, 3, 5, 11, 22, 43, 86],
                 "kinds": ["start", "inside", "inside", "inside", "inside", "epoch", "epoch"]}
        -> array ``timeline`` (7, n_params) in the network's dtype: each row W_1, b_1, ..., W_L, b_L, flat

Saving keeps the checkpoints whose numbers are all finite and thins them evenly (the first and the last
kept) to at most :data:`MAX_CHECKPOINTS` and :data:`MAX_TIMELINE_BYTES`. The description must say what
a run can record (:func:`check_points`): "start" first at step 0, "inside" within epoch 1, "epoch" at an
epoch's end, "end" last, steps increasing, at most :data:`MAX_BATCHES_PER_EPOCH` batches an epoch and
:data:`MAX_EPOCHS` epochs. Reading checks it against the same bounds before any array is read, so the
array's size is known first; its values must be finite in the network's dtype.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from nn.run_record import RecordError, thin_evenly
from nn.trainer.telemetry import Checkpoint

TIMELINE = "timeline"
MAX_CHECKPOINTS = 64  # a run of the default preset keeps 13; the slider stays readable
MAX_TIMELINE_BYTES = 64 * 2**20  # the data of all checkpoints, as float32 or as stored
MAX_BATCHES_PER_EPOCH = 10_000_000  # a training subset of at most 10 M images, one per batch
MAX_EPOCHS = 10_000  # the trainer runs at most 10,000 epochs
KINDS = ("start", "inside", "epoch", "end")


# ------------------------------------------------------------------------------------------ saving


def encode(timeline: Sequence[Checkpoint] | None, n_params: int) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(entry for the config JSON, array to store) for a run's checkpoints; empty when none is kept."""
    checkpoints = list(timeline or [])
    for c in checkpoints:
        if c.params.shape != (n_params,):
            raise ValueError(f"checkpoint at step {c.step} holds {c.params.shape} numbers; this network has "
                             f"({n_params},)")
    if len({c.batches_per_epoch for c in checkpoints}) > 1:
        raise ValueError("the checkpoints disagree on the batches per epoch; they are not one run's")
    kept = _thin([c for c in checkpoints if np.isfinite(c.params).all()])
    if not kept:
        return {}, {}
    entry = {"batches_per_epoch": int(kept[0].batches_per_epoch), "steps": [int(c.step) for c in kept],
             "kinds": [str(c.kind) for c in kept]}
    # a description this module would refuse to read is refused on saving (a caller's mistake, not a run's)
    check_points(entry["batches_per_epoch"], entry["steps"], entry["kinds"])
    return {TIMELINE: entry}, {TIMELINE: np.stack([c.params for c in kept])}


def _thin(checkpoints: list[Checkpoint]) -> list[Checkpoint]:
    """The checkpoints in their order, evenly thinned (the first and last kept) to fit the bounds."""
    item_bytes = checkpoints[0].params.nbytes if checkpoints else 0
    return thin_evenly(checkpoints, item_bytes, MAX_CHECKPOINTS, MAX_TIMELINE_BYTES)


# ------------------------------------------------------------------------------------------ loading


def expected_arrays(doc: Mapping[str, Any], n_params: int) -> dict[str, tuple[tuple[int, ...], int]]:
    """Array name -> (shape, most bytes of data) for the timeline the config describes; RecordError if malformed."""
    if TIMELINE not in doc:
        return {}
    entry = doc[TIMELINE]
    if not isinstance(entry, dict) or set(entry) != {"batches_per_epoch", "steps", "kinds"}:
        raise RecordError("config timeline must be an object with batches_per_epoch, steps and kinds")
    steps, kinds = entry["steps"], entry["kinds"]
    check_points(entry["batches_per_epoch"], steps, kinds)
    if len(steps) * n_params * 4 > MAX_TIMELINE_BYTES:  # even as float32
        raise RecordError(f"config lists {len(steps)} checkpoints of {n_params:,} numbers, more than the "
                          f"{MAX_TIMELINE_BYTES:,} bytes allowed")
    return {TIMELINE: ((len(steps), n_params), MAX_TIMELINE_BYTES)}


def check_points(batches_per_epoch: Any, steps: Any, kinds: Any) -> None:
    """Refuse (RecordError, one line) a description no run records: see the module's rules."""
    bpe = batches_per_epoch
    if not _whole(bpe) or not 1 <= bpe <= MAX_BATCHES_PER_EPOCH:
        raise RecordError(f"config timeline batches_per_epoch must be an integer from 1 to "
                          f"{MAX_BATCHES_PER_EPOCH:,}, got {str(bpe)[:40]}")
    if not isinstance(steps, list) or not isinstance(kinds, list) or not 1 <= len(steps) <= MAX_CHECKPOINTS:
        raise RecordError(f"config timeline steps must be a list of 1 to {MAX_CHECKPOINTS} checkpoints")
    if len(kinds) != len(steps):
        raise RecordError(f"config timeline lists {len(steps)} steps but {len(kinds)} kinds")
    last = len(steps) - 1
    for i, (step, kind) in enumerate(zip(steps, kinds)):
        if not _whole(step) or not 0 <= step <= bpe * MAX_EPOCHS:
            raise RecordError(f"config timeline step {str(step)[:40]} is not a whole number from 0 to "
                              f"{MAX_EPOCHS:,} epochs of {bpe:,} batches")
        if kind not in KINDS:
            raise RecordError(f"config timeline kind {str(kind)[:40]!r} is not one of {', '.join(KINDS)}")
        problem = _misplaced(kind, step, bpe, i, last) or _out_of_order(kind, step, steps[i - 1] if i else None)
        if problem:
            raise RecordError(f"config timeline checkpoint {i + 1} ({kind}, step {step:,}): {problem}")


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _misplaced(kind: str, step: int, bpe: int, index: int, last: int) -> str:
    """Why a checkpoint of ``kind`` cannot be at ``step`` (or at ``index`` of the list), or ""."""
    if kind == "start" and (index or step):
        return "the start must come first, at step 0"
    if kind == "inside" and not 0 < step < bpe:
        return f"a point inside epoch 1 must be after step 0 and before step {bpe:,}"
    if kind == "epoch" and (step == 0 or step % bpe):
        return f"an epoch's end must be a multiple of the {bpe:,} batches per epoch"
    if kind == "end" and index != last:
        return "the end must come last"
    return ""


def _out_of_order(kind: str, step: int, previous: int | None) -> str:
    """Steps increase; the end may share its step with the checkpoint before (weights put back after it)."""
    if previous is None or step > previous or (kind == "end" and step == previous):
        return ""
    return f"steps must increase, and it follows step {previous:,}"


def decode(doc: Mapping[str, Any], arrays: Mapping[str, np.ndarray], dtype: str) -> list[Checkpoint] | None:
    """The checkpoints, in the network's ``dtype``, from arrays already checked against :func:`expected_arrays`."""
    if TIMELINE not in arrays:
        return None
    entry = doc[TIMELINE]
    with np.errstate(over="ignore"):  # a float64 value beyond float32 becomes inf: refused just below
        stack = np.ascontiguousarray(arrays[TIMELINE], dtype=dtype)
    if not np.isfinite(stack).all():
        raise RecordError(f"timeline contains NaN or infinite values (in {dtype})")
    stack.flags.writeable = False  # shared by every view that rewinds to a checkpoint
    bpe = entry["batches_per_epoch"]
    return [Checkpoint(step=step, batches_per_epoch=bpe, kind=kind, params=row)
            for step, kind, row in zip(entry["steps"], entry["kinds"], stack)]

