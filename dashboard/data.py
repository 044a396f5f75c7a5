"""The MNIST dataset, loaded once per server process and shared read-only by every session.

The first session to need it sees the fetch progress; a failure shows the data layer's message (every
source it tried), never a traceback, and is retried on the next page load.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field

import streamlit as st

from nn.data import SOURCES, DataError, MnistDataset, load_mnist


@dataclass
class _DatasetHolder:
    """Process-wide slot; the lock makes concurrent first visits fetch once, not once each."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    dataset: MnistDataset | None = None


@st.cache_resource(show_spinner=False)
def _holder() -> _DatasetHolder:
    return _DatasetHolder()


def _source() -> str | None:
    """``MNIST_SOURCE`` picks a source (e.g. a local file path's kind); unset lets the data layer choose."""
    raw = os.environ.get("MNIST_SOURCE") or None
    if raw is not None and raw not in SOURCES:
        raise ValueError(f"MNIST_SOURCE={raw!r} is not a data source; use one of {', '.join(SOURCES)} or unset it")
    return raw


def get_dataset() -> MnistDataset:
    """The shared dataset; on first use show progress, on failure show the message and stop the page."""
    holder = _holder()
    if holder.dataset is not None:
        return holder.dataset
    box = st.empty()
    with box.container():
        st.info("Fetching MNIST once for this server (it is verified, cached on disk, then shared).")
        bar = st.progress(0.0, text="starting")

        def progress(stage: str, done: int, total: int | None) -> None:
            if total:
                bar.progress(min(1.0, done / total), text=f"{stage}: {done / 2**20:.1f} of {total / 2**20:.1f} MB"
                             if total > 10_000 else f"{stage}: {done} of {total}")
            else:
                bar.progress(0.0, text=f"{stage}" + (f": {done / 2**20:.1f} MB" if done else ""))

        try:
            with holder.lock:  # a second session arriving meanwhile waits here, then reuses the result
                if holder.dataset is None:
                    holder.dataset = load_mnist(_source(), progress=progress)
        except (DataError, ValueError) as exc:  # ValueError: a bad MNIST_SOURCE setting
            failure = exc
        else:
            failure = None
    if failure is not None:
        box.error(f"The MNIST data could not be loaded.\n\n{failure}", icon=":material/cloud_off:")
        st.stop()
    box.empty()
    return holder.dataset
