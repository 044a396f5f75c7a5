"""Cap the BLAS thread pool of the app's server process.

NumPy's OpenBLAS starts one worker thread per core and lets them spin while waiting for work. In a
script that owns the machine that is the fastest choice; in the app it is the slowest one. The
server process also runs up to ``MNIST_MAX_TRAININGS`` trainings side by side, renders pages and pushes
live charts, and a local browser draws them on the same cores: spinning BLAS threads fight every one
of those for the CPU (measured: docs/PERFORMANCE.md). So each training gets one BLAS thread, and the
run limiter, not BLAS, decides how many cores are busy. ``MNIST_BLAS_THREADS`` overrides the cap.
"""

from __future__ import annotations

import os

DEFAULT_BLAS_THREADS = 1
_limiter = None  # keeps threadpoolctl's limit alive for the life of the process


def blas_threads_setting() -> int:
    """``MNIST_BLAS_THREADS`` as an int in 1..64, else the default."""
    raw = os.environ.get("MNIST_BLAS_THREADS", "")
    try:
        value = int(raw)
    except ValueError:
        return DEFAULT_BLAS_THREADS
    return value if 1 <= value <= 64 else DEFAULT_BLAS_THREADS


def limit_blas_threads() -> int:
    """Apply the cap once per process (idempotent); returns the number of BLAS threads allowed."""
    global _limiter
    threads = blas_threads_setting()
    if _limiter is None:
        from threadpoolctl import threadpool_limits

        _limiter = threadpool_limits(limits=threads, user_api="blas")
    return threads
