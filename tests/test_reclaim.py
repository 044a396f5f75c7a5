"""lab/reclaim.py in a fresh interpreter each: glibc's and NumPy's settings are per process and set once."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


def _run(code: str, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "NUMPY_MADVISE"))}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True,
                          env={**clean, "OPENBLAS_NUM_THREADS": "1", **env}, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


HUGEPAGES = """
    from numpy._core import multiarray
    from lab.reclaim import fix_malloc_thresholds
    before = multiarray._get_madvise_hugepage()
    fix_malloc_thresholds()
    print(before, multiarray._get_madvise_hugepage())
"""


def test_numpy_stops_asking_for_huge_pages() -> None:
    assert _run(HUGEPAGES) == "True False"


def test_a_host_that_set_numpy_madvise_hugepage_keeps_its_choice() -> None:
    assert _run(HUGEPAGES, NUMPY_MADVISE_HUGEPAGE="1") == "True True"


@pytest.mark.skipif(not GLIBC, reason="glibc's heaps and malloc_trim are what this is about")
def test_a_thread_heap_gives_back_a_freed_array_at_its_top() -> None:
    # A 15 MB array (under the mmap threshold: it comes from the thread's own heap) freed with nothing after
    # it merges into the heap's free top, which malloc_trim never trims: only the trim threshold gives it
    # back (with the earlier 16 MiB threshold, 14.3 MB stayed resident here).
    grown = int(_run("""
        import threading
        import numpy as np
        from lab.reclaim import fix_malloc_thresholds, reclaim_memory

        def rss_anon():
            for line in open("/proc/self/status"):
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024

        assert fix_malloc_thresholds()
        before = rss_anon()

        def work():
            array = np.ones(3_750_000, np.float32)
            del array

        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
        reclaim_memory()
        print(rss_anon() - before)
    """))
    assert grown < 4 * 2**20, f"{grown / 2**20:.1f} MB of a freed array stayed resident in the thread's heap"
