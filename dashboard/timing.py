"""A server-side timing log of script runs, for load tests (bench/class_load.py): off unless asked for.

With ``MNIST_TIMING_LOG=/path/file.jsonl`` in the server's environment, every full script run appends one
JSON line: ``{"t": unix time at the end, "page": url path, "seconds": run time}``. Without it, nothing
is measured or written.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Iterator

_LOCK = threading.Lock()


@contextlib.contextmanager
def timed_run(page: str) -> Iterator[None]:
    """Time the body (a page's script run) into the log, if there is one; reruns and stops count too."""
    path = os.environ.get("MNIST_TIMING_LOG")
    if not path:
        yield
        return
    start = time.perf_counter()
    try:
        yield
    finally:
        line = json.dumps({"t": time.time(), "page": page, "seconds": time.perf_counter() - start})
        with _LOCK, open(path, "a", encoding="utf-8") as log:
            log.write(line + "\n")
