"""The dataset, loaded once per server process and shared read-only by every session.

MNIST unless the session chose another (Fashion-MNIST, dashboard/dataset_choice.py); every page asks
``get_dataset()`` and so follows the choice.

The first session to need it sees the fetch progress; a failure shows the data layer's message (every
source it tried), never a traceback, and is retried on the next page load.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field

import streamlit as st

from lab.datasets import DEFAULT, DatasetInfo, dataset_info
from lab.labels import follow, use_labels
from nn.data import SOURCES, DataError, MnistDataset, load_mnist

CHOICE_KEY = "_dataset_name"


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


@st.cache_resource(show_spinner=False)
def _other_holder(name: str) -> _DatasetHolder:
    return _DatasetHolder()


def load_other(name: str) -> tuple[MnistDataset | None, str | None]:
    """A dataset other than MNIST, once per process: (dataset, None), or (None, how to install it)."""
    holder = _other_holder(name)
    with holder.lock:
        if holder.dataset is None:
            try:
                holder.dataset = dataset_info(name).load()
            except DataError:
                return None, dataset_info(name).install
    return holder.dataset, None


def dataset_name() -> str:
    """The session's dataset; on its first run, from the URL (``data=fashion``)."""
    name = st.session_state.get(CHOICE_KEY)
    if name is None:
        name = dataset_info(st.query_params.get("data")).name
        st.session_state[CHOICE_KEY] = name
    return name


def dataset_now() -> DatasetInfo:
    """The session's dataset: its title, what its pictures are, its Draw page's title."""
    return dataset_info(dataset_name())


def use_dataset_labels() -> None:
    """Label classes as the session's dataset does for this script run (app.py, before the page)."""
    info = dataset_info(dataset_name())
    use_labels(info.class_names, info.noun)


def _session_labels() -> tuple[tuple[str, ...], str] | None:
    """The session's class names and noun in a thread app.py did not label (a fragment's rerun)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    if get_script_run_ctx(suppress_warning=True) is None:
        return None  # a training thread or a test outside Streamlit: the digits
    name = st.session_state.get(CHOICE_KEY)
    return None if name is None else (dataset_info(name).class_names, dataset_info(name).noun)


follow(_session_labels)


def get_dataset() -> MnistDataset:
    """The session's dataset; MNIST on first use shows progress, a failure shows the message and stops the page."""
    name = dataset_name()
    if name != DEFAULT:
        other, _ = load_other(name)
        if other is not None:
            return other
        st.session_state[CHOICE_KEY] = DEFAULT  # gone since it was chosen: back to MNIST
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
