"""Give a released session's memory back to the operating system, not only to Python's allocator.

A trainer sits in reference cycles (its engine, telemetry and guard point back at the model), so
dropping the last outside reference frees nothing until a full garbage collection, which the server
rarely runs (Streamlit's per-run collection is off: see .streamlit/config.toml). And glibc keeps the
pages of freed blocks in the arena of the training thread that allocated them; ``malloc_trim(0)``
hands them back, except the free top of each thread's heap (glibc trims that only on a free, down to
its trim threshold: see ``fix_malloc_thresholds``). Called by the reaper after it released something,
so once per departure at most.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import threading

_LOCK = threading.Lock()
_TRIM: object = None  # libc's malloc_trim, False where there is none (not glibc)
_THRESHOLDS_SET: bool | None = None


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


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8  # mallopt's parameter numbers (glibc's malloc.h)
TRIM_THRESHOLD_BYTES = 2**20  # malloc_trim skips a thread heap's free top: what stays resident there after a class
MMAP_THRESHOLD_BYTES = 32 * 2**20
ARENA_MAX = 2  # no new heaps once set; Streamlit's threads made ~6 before the app's first run


def fix_malloc_thresholds() -> bool:
    """Hold glibc's trim and mmap thresholds fixed, so a finished run's freed arrays go back to the OS.

    glibc raises both thresholds each time a large block is freed (the trim threshold up to 64 MiB per
    thread's heap), after which a run's freed arrays stay resident in the heap of the thread that
    allocated them: measured, about 20 MB per finished run that not even ``malloc_trim`` got back.
    Setting them turns that adjustment off: arrays up to 32 MiB come from the heap (reused without
    page faults), and a heap gives back its free top beyond 1 MiB. ``malloc_trim`` never trims the top
    of a thread's heap (only the main heap's), so this threshold is what each of the server's ~7 heaps
    keeps after a class: with 16 MiB, up to 45 MB of a 266 MB server. Measured (docs/PERFORMANCE.md):
    the same epoch time, 0.005-0.01 s more system time per epoch. Idempotent; leaves alone thresholds a
    host set with ``MALLOC_TRIM_THRESHOLD_`` or ``MALLOC_MMAP_THRESHOLD_``; True when fixed thresholds
    are in force.

    It also caps glibc's heaps (arenas) at ``ARENA_MAX`` unless the host set ``MALLOC_ARENA_MAX``: with
    one heap per training thread, a class's short-lived arrays were spread over up to 16 heaps whose
    free pages stayed resident between the few live blocks left in each (docs/PERFORMANCE.md). The cap
    stops new heaps; those Streamlit's own threads made before the app first ran (about 6) stay.

    And it stops NumPy's ``madvise(MADV_HUGEPAGE)`` on arrays of 4 MiB and more (``no_numpy_hugepages``).
    """
    global _THRESHOLDS_SET
    no_numpy_hugepages()
    if any(os.environ.get(name) for name in ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_")):
        return True
    with _LOCK:
        if _THRESHOLDS_SET is None:
            _THRESHOLDS_SET = False
            try:
                libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                _THRESHOLDS_SET = bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
                    libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))
                if not os.environ.get("MALLOC_ARENA_MAX"):
                    libc.mallopt(M_ARENA_MAX, ARENA_MAX)
            except (OSError, AttributeError):  # not glibc
                pass
        return _THRESHOLDS_SET


def no_numpy_hugepages() -> bool:
    """Stop NumPy asking for transparent huge pages on its large arrays, unless the host set
    ``NUMPY_MADVISE_HUGEPAGE``; True when NumPy no longer asks.

    The advice stays on the heap's address range after the array is freed and trimmed, and the kernel's
    khugepaged (``max_ptes_none`` 511 by default) then refills every 2 MiB of it that still holds one
    live page: measured, a server back at idle + 3% after a class climbed to idle + 15% within 70 s
    with no one connected (docs/PERFORMANCE.md). NumPy reads the variable at import, hence the switch.
    """
    if os.environ.get("NUMPY_MADVISE_HUGEPAGE"):
        return False
    from numpy._core import multiarray

    switch = getattr(multiarray, "_set_madvise_hugepage", None)  # NumPy's own toggle for the variable
    if switch is None:
        return False
    switch(False)
    return True
