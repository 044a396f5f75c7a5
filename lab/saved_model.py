"""What a model file says about itself, in the app's words: every accuracy with the digits it was measured on.

A file saved by ``python -m nn train`` records ``test_accuracy`` and ``val_accuracy``; one downloaded from
the app records ``val_accuracy`` (the app measures test accuracy on the Evaluate page, not while training);
an older or foreign file may hold a bare ``accuracy`` whose split nobody wrote down.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from lab.format import fmt_pct
from lab.labels import noun
from nn.trainer.telemetry import Checkpoint

SPLITS = (("test_accuracy", "test accuracy"), ("val_accuracy", "validation accuracy"))


def _share(value: Any) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and 0 <= value <= 1
    return float(value) if ok else None


def accuracy_summary(meta: dict[str, Any]) -> str:
    """"test accuracy 98.20%, validation accuracy 98.44%", or "" when the file records none."""
    parts = [f"{name} {fmt_pct(share, 2)}" for key, name in SPLITS if (share := _share(meta.get(key))) is not None]
    bare = _share(meta.get("accuracy"))
    if not parts and bare is not None:
        parts.append(f"accuracy {fmt_pct(bare, 2)} (the file does not say on which {noun(plural=True)})")
    return ", ".join(parts)


def epochs_planned(meta: dict[str, Any], timeline: Sequence[Checkpoint]) -> int:
    """The epochs the file's run was set to train (its train config), at least as many as its timeline reaches."""
    config = meta.get("train_config")
    epochs = config.get("epochs") if isinstance(config, dict) else None
    planned = epochs if isinstance(epochs, int) and not isinstance(epochs, bool) and epochs > 0 else 0
    return max([planned, *(math.ceil(c.position) for c in timeline)])
