"""How much memory one training run may plan to use."""

from __future__ import annotations

import os

from lab.settings import max_trainings_setting


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
