"""The server's training settings, read from the environment: how many runs train at once, when a tab is gone."""

from __future__ import annotations

import os

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
