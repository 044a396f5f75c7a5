"""Give a released session's memory back to the operating system, not only to Python's allocator.

A trainer sits in reference cycles (its engine, telemetry and guard point back at the model), so
dropping the last outside reference frees nothing until a full garbage collection, which the server
rarely runs (Streamlit's per-run collection is off: see .streamlit/config.toml). And glibc keeps the
pages of freed blocks in the arena of the training thread that allocated them; ``malloc_trim(0)``
hands them back. Called by the reaper after it released something, so once per departure at most.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import threading

_LOCK = threading.Lock()
_TRIM: object = None  # libc's malloc_trim, False where there is none (not glibc)
_THRESHOLD_SET: bool | None = None


def _malloc_trim():
    global _TRIM
    if _TRIM is None:
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            _TRIM = libc.malloc_trim
            _TRIM.argtypes, _TRIM.restype = [ctypes.c_size_t], ctypes.c_int
        except (OSError, AttributeError):  # musl, macOS, Windows: the collection alone will have to do
            _TRIM = False
    return _TRIM


def reclaim_memory() -> bool:
    """Collect unreachable cycles, then return free heap pages to the OS; True when the trim ran."""
    with _LOCK:  # two reapers' passes need not collect twice at once
        gc.collect()
        trim = _malloc_trim()
        if not trim:
            return False
        trim(0)
        return True


M_MMAP_THRESHOLD = -3  # mallopt's parameter number (glibc malloc.h)
MMAP_THRESHOLD_BYTES = 128 * 1024


def release_big_blocks_at_free() -> bool:
    """Make glibc serve every block of 128 KiB or more by its own mmap, so freeing it unmaps it at once.

    glibc starts with this threshold but raises it (up to 32 MiB) each time such a block is freed, after
    which a run's arrays come from the heaps of the threads that allocated them and stay resident after
    they are freed: measured, about 20 MB per finished run that not even ``malloc_trim`` got back.
    Setting the threshold explicitly turns that adjustment off. Idempotent; respects a
    ``MALLOC_MMAP_THRESHOLD_`` the host set; True when the setting is in force.
    """
    global _THRESHOLD_SET
    if os.environ.get("MALLOC_MMAP_THRESHOLD_") is not None:
        return True
    with _LOCK:
        if _THRESHOLD_SET is None:
            _THRESHOLD_SET = False
            try:
                libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                _THRESHOLD_SET = bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
            except (OSError, AttributeError):  # not glibc
                pass
        return _THRESHOLD_SET
