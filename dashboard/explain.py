"""What the Evaluate and Inspect pages compute, once per model version (the computations are in lab/).

Every expensive result (test-set predictions, the layer sample's activations, a PCA) is cached in
``st.cache_resource`` keyed by ``ModelView.version``; the model itself is passed as an underscore
argument so Streamlit does not try to hash it. ``cache_resource`` returns the one shared object (no
copy per rerun), so every array in it is read-only. ``max_entries`` bounds memory: a live run
makes a new version every epoch, and many sessions share one server.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import streamlit as st

from dashboard.data import get_dataset
from dashboard.session import ModelView
from lab.evaluation import Evaluation, TestData, evaluate, to_test_data
from lab.layer_sample import LayerSample, weight_gradients
from lab.layer_sample import layer_sample as compute_layer_sample
from lab.selection import selected_customdata
from lab.snapshots import snapshot_histograms
from nn.model import LayerTrace
from nn.pca import PCAResult, pca

T = TypeVar("T")

# Results kept per model version, i.e. per point of a run's timeline (the epoch slider): a default run's 13
# points all stay computed while a learner scrubs back and forth. The largest per point, for 784-256-128-10:
# the layer sample (6.3 MB), the test-set gradients (0.9 MB) and the evaluation (0.6 MB): at most ~125 MB
# for the whole server (the caches are shared by every session; the oldest entry goes first).
PER_POINT = 16


@st.cache_resource(show_spinner=False, max_entries=2)
def _test_data(key: str, _images: np.ndarray, _labels: np.ndarray) -> TestData:
    return to_test_data(_images, _labels)


def test_data() -> TestData:
    """The shared test set (converted to floats once per server process)."""
    ds = get_dataset()
    return _test_data(f"{ds.source}:{id(ds.x_test)}", ds.x_test, ds.y_test)


@st.cache_resource(show_spinner="Evaluating the model on the 10,000 test images…", max_entries=PER_POINT)
def _evaluate(version: str, _model: Any, _data: TestData) -> Evaluation:
    return evaluate(_model, _data)


def evaluation(view: ModelView) -> Evaluation:
    """The current model's test-set results (computed once per model version)."""
    return _evaluate(view.version, view.model, test_data())


def evaluation_of(version: str, model: Any) -> Evaluation:
    """Any model's test-set results, shared with the Evaluate page's cache (e.g. a kept run's)."""
    return _evaluate(version, model, test_data())


@st.cache_resource(show_spinner="Running the sample images through every layer…", max_entries=PER_POINT)
def _layer_sample(version: str, _model: Any, _data: TestData) -> LayerSample:
    return compute_layer_sample(_model, _data)


def layer_sample(view: ModelView) -> LayerSample:
    return _layer_sample(view.version, view.model, test_data())


@st.cache_resource(show_spinner="Projecting the layer's activations (PCA)…", max_entries=4 * PER_POINT)
def _layer_pca(version: str, layer: int, use_pre: bool, _sample: LayerSample) -> PCAResult:
    trace = _sample.traces[layer]
    return pca(trace.pre if use_pre else trace.post, k=2)


def layer_pca(view: ModelView, layer: int, *, use_pre: bool = False) -> PCAResult:
    """PCA of layer ``layer``'s activations (0 = first hidden layer) for the sample digits."""
    return _layer_pca(view.version, layer, use_pre, layer_sample(view))


@st.cache_resource(show_spinner=False, max_entries=PER_POINT)
def _gradients(version: str, _model: Any, key: str, _images: np.ndarray, _labels: np.ndarray) -> list[np.ndarray]:
    return weight_gradients(_model, _images, _labels)


def gradients(view: ModelView) -> list[np.ndarray]:
    """dL/dW per layer on the first 1,000 training digits, for the current weights (no dropout)."""
    ds = get_dataset()
    return _gradients(view.version, view.model, f"{ds.source}:{id(ds.x_train)}", ds.x_train, ds.y_train)


@st.cache_resource(show_spinner=False, max_entries=6)
def _snapshot_histograms(key: str, _snapshots: list) -> tuple[list[int], np.ndarray, np.ndarray]:
    return snapshot_histograms(_snapshots)


def snapshot_summary(view: ModelView) -> tuple[list[int], np.ndarray, np.ndarray]:
    """(epochs, bin centres, densities (bins, snapshots)) of the first-layer weight snapshots.

    Keyed by the snapshots themselves (their epochs and a digest of the newest), not the model version: every
    point of a run's timeline shares its snapshots, so rewinding does not recompute them.
    """
    snapshots = list(view.snapshots)
    if not snapshots:
        return _snapshot_histograms("none", snapshots)
    newest = np.ascontiguousarray(snapshots[-1][1])
    digest = hashlib.sha256(newest.tobytes()).hexdigest()[:16]
    return _snapshot_histograms(f"{[int(e) for e, _ in snapshots]}:{digest}", snapshots)


@st.cache_resource(show_spinner=False, max_entries=4 * PER_POINT)
def _once(key: str, _compute: Callable[[], T]) -> T:
    return _compute()


def once(key: str, compute: Callable[[], T]) -> T:
    """``compute()``, once per ``key``, which must name everything the result depends on (a model version, a
    history's digest, the options): e.g. a figure a step of the epoch slider re-sends unchanged is not rebuilt.
    The result is shared by every session: never change it (st.plotly_chart only reads a figure)."""
    return _once(key, compute)


def history_key(history: pd.DataFrame | None) -> str:
    """A digest of a run's history table: every point of its timeline shares it."""
    if history is None or history.empty:
        return "no-history"
    return f"h{len(history)}:{int(pd.util.hash_pandas_object(history, index=True).sum()) & (2**64 - 1):x}"


def trace_digit(view: ModelView, index: int) -> list[LayerTrace]:
    """One test digit through every layer (cheap: not cached)."""
    return view.model.forward_trace(test_data().X[index:index + 1])


def new_selection(chart_key: str) -> list | None:
    """The customdata of a chart's selection if it changed since the last run, else None.

    Read before the chart is drawn (its state is in ``st.session_state`` from the previous click), so
    a click can update selectboxes that are drawn below it; an unchanged selection returns None so
    the selectboxes keep whatever the user picked there since.
    """
    chosen = selected_customdata(st.session_state.get(chart_key))
    seen_key = f"_{chart_key}_seen"
    fingerprint = repr(chosen)
    if not chosen or st.session_state.get(seen_key) == fingerprint:
        return None
    st.session_state[seen_key] = fingerprint
    return chosen
