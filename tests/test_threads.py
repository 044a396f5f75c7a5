"""The app's BLAS cap: one spinning-free BLAS thread per training (see lab/threads.py)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lab.threads import DEFAULT_BLAS_THREADS, blas_threads_setting

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("raw, expected", [("", DEFAULT_BLAS_THREADS), ("2", 2), ("0", DEFAULT_BLAS_THREADS),
                                           ("many", DEFAULT_BLAS_THREADS), ("1000", DEFAULT_BLAS_THREADS)])
def test_setting_falls_back_to_the_default_on_bad_values(monkeypatch, raw: str, expected: int) -> None:
    monkeypatch.setenv("MNIST_BLAS_THREADS", raw)
    assert blas_threads_setting() == expected


def test_limit_caps_every_blas_pool_of_the_process() -> None:
    # In a child process, so the cap does not leak into the rest of the test session.
    code = textwrap.dedent("""
        import numpy
        from threadpoolctl import threadpool_info
        from lab.threads import limit_blas_threads
        assert limit_blas_threads() == 1
        assert limit_blas_threads() == 1  # idempotent
        pools = [p for p in threadpool_info() if p["user_api"] == "blas"]
        assert pools, "numpy's BLAS was not found"
        print(sorted({p["num_threads"] for p in pools}))
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin", "MNIST_BLAS_THREADS": "1", "PYTHONPATH": str(ROOT)},
                         check=True)
    assert out.stdout.strip() == "[1]"
