"""What the Evaluate and Inspect pages compute, once per model version.

Every expensive result (test-set predictions, the layer sample's activations, a PCA) is cached in
``st.cache_resource`` keyed by ``ModelView.version``; the model itself is passed as an underscore
argument so Streamlit does not try to hash it. ``cache_resource`` returns the one shared object (no
copy per rerun), so every array in it is made read-only. ``max_entries`` bounds memory: a live run
makes a new version every epoch, and many sessions share one server.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from dashboard.data import get_dataset
from dashboard.session import ModelView
from figures.evaluate import misclassified_frame
from figures.inspect import active_fraction, snapshot_histograms
from nn import metrics
from nn.events import DISTRIBUTION_QUANTILES, quantile_name
from nn.losses import cross_entropy, softmax
from nn.model import LayerTrace
from nn.pca import PCAResult, pca

SAMPLE_SIZE = 2000  # test digits used for activations, unit statistics and the PCA map
SAMPLE_SEED = 0  # the same digits for every model, so maps of two models can be compared
_SCALE = np.float32(1 / 255)  # the network's input scaling (as nn.data.to_float)


def _frozen(*arrays: np.ndarray) -> None:
    for a in arrays:
        a.flags.writeable = False


@dataclass(frozen=True)
class TestData:
    """The test set as the network sees it. ``X``: (n, 784) float32 in [0, 1]; ``images``: (n, 28, 28) uint8."""

    X: np.ndarray
    images: np.ndarray
    labels: np.ndarray  # (n,) int64


@st.cache_resource(show_spinner=False, max_entries=2)
def _test_data(key: str, _images: np.ndarray, _labels: np.ndarray) -> TestData:
    X = np.multiply(_images.reshape(len(_images), -1), _SCALE, dtype=np.float32)
    labels = np.asarray(_labels).astype(np.int64)
    _frozen(X, labels)
    return TestData(X=X, images=_images, labels=labels)


def test_data() -> TestData:
    """The shared test set (converted to floats once per server process)."""
    ds = get_dataset()
    return _test_data(f"{ds.source}:{id(ds.x_test)}", ds.x_test, ds.y_test)


@dataclass(frozen=True)
class Evaluation:
    """Everything the Evaluate page shows, for one model version on the whole test set."""

    proba: np.ndarray  # (n, 10) float32
    predicted: np.ndarray  # (n,) int64
    confidence: np.ndarray  # (n,) top probability
    loss: float  # mean cross-entropy
    accuracy: float
    confusion: np.ndarray  # (10, 10) int64, rows true
    report: pd.DataFrame  # per class: precision, recall, f1, support
    curve: metrics.AbstentionCurve
    mistakes: pd.DataFrame  # misclassified_frame: most confident first
    seconds: float  # time the computation took (shown on the page)


@st.cache_resource(show_spinner="Evaluating the model on the 10,000 test digits…", max_entries=16)
def _evaluate(version: str, _model: Any, _data: TestData) -> Evaluation:
    start = time.perf_counter()
    logits = _model.forward(_data.X)
    loss = cross_entropy(logits, _data.labels)
    proba = softmax(logits.astype(np.float32, copy=True))
    predicted = proba.argmax(axis=1).astype(np.int64)
    n_classes = proba.shape[1]
    cm = metrics.confusion_matrix(_data.labels, predicted, n_classes)
    ev = Evaluation(
        proba=proba, predicted=predicted, confidence=proba.max(axis=1), loss=float(loss),
        accuracy=metrics.accuracy(_data.labels, predicted), confusion=cm,
        report=metrics.per_class_report(_data.labels, predicted, n_classes),
        curve=metrics.abstention_curve(proba, _data.labels, np.linspace(0.1, 1.0, 181)),
        mistakes=misclassified_frame(proba, _data.labels),
        seconds=time.perf_counter() - start,
    )
    _frozen(ev.proba, ev.predicted, ev.confidence, ev.confusion)
    return ev


def evaluation(view: ModelView) -> Evaluation:
    """The current model's test-set results (computed once per model version)."""
    return _evaluate(view.version, view.model, test_data())


@dataclass(frozen=True)
class LayerSample:
    """Activations of a fixed sample of test digits, for unit statistics and the layer map."""

    indices: np.ndarray  # (m,) positions in the test set
    traces: list[LayerTrace]  # one per layer, output last
    labels: np.ndarray  # (m,)
    predicted: np.ndarray  # (m,)
    active: list[np.ndarray]  # per hidden layer: (k,) share of the sample on which each unit is active
    dead: list[float]  # per hidden layer: share of units never active on the sample


def sample_indices(n: int, size: int = SAMPLE_SIZE) -> np.ndarray:
    """A fixed random sample of test positions, sorted (the same for every model)."""
    rng = np.random.default_rng(SAMPLE_SEED)
    return np.sort(rng.choice(n, size=min(size, n), replace=False))


@st.cache_resource(show_spinner="Running the sample digits through every layer…", max_entries=6)
def _layer_sample(version: str, _model: Any, _data: TestData) -> LayerSample:
    idx = sample_indices(len(_data.labels))
    traces = _model.forward_trace(_data.X[idx])
    for t in traces:
        _frozen(t.pre, t.post)
    hidden = traces[:-1]
    return LayerSample(
        indices=idx, traces=traces, labels=_data.labels[idx],
        predicted=traces[-1].post.argmax(axis=1).astype(np.int64),
        active=[active_fraction(t) for t in hidden],
        dead=[float((active_fraction(t) == 0).mean()) for t in hidden],
    )


def layer_sample(view: ModelView) -> LayerSample:
    return _layer_sample(view.version, view.model, test_data())


@st.cache_resource(show_spinner="Projecting the layer's activations (PCA)…", max_entries=12)
def _layer_pca(version: str, layer: int, use_pre: bool, _sample: LayerSample) -> PCAResult:
    trace = _sample.traces[layer]
    return pca(trace.pre if use_pre else trace.post, k=2)


def layer_pca(view: ModelView, layer: int, *, use_pre: bool = False) -> PCAResult:
    """PCA of layer ``layer``'s activations (0 = first hidden layer) for the sample digits."""
    return _layer_pca(view.version, layer, use_pre, layer_sample(view))


GRADIENT_SAMPLE = 1000  # training digits used to show the gradient distribution of each layer


@st.cache_resource(show_spinner=False, max_entries=6)
def _gradients(version: str, _model: Any, key: str, _images: np.ndarray, _labels: np.ndarray) -> list[np.ndarray]:
    X = np.multiply(_images[:GRADIENT_SAMPLE].reshape(-1, _images[0].size), _SCALE, dtype=np.float32)
    _, grads_W, _ = _model.loss_and_gradients(X, np.asarray(_labels[:GRADIENT_SAMPLE]).astype(np.int64))
    _frozen(*grads_W)
    return grads_W


def gradients(view: ModelView) -> list[np.ndarray]:
    """dL/dW per layer on the first 1,000 training digits, for the current weights (no dropout)."""
    ds = get_dataset()
    return _gradients(view.version, view.model, f"{ds.source}:{id(ds.x_train)}", ds.x_train, ds.y_train)


@st.cache_resource(show_spinner=False, max_entries=6)
def _snapshot_histograms(version: str, _snapshots: list) -> tuple[list[int], np.ndarray, np.ndarray]:
    return snapshot_histograms(_snapshots)


def snapshot_summary(view: ModelView) -> tuple[list[int], np.ndarray, np.ndarray]:
    """(epochs, bin centres, densities (bins, snapshots)) of the first-layer weight snapshots, per version."""
    return _snapshot_histograms(view.version, list(view.snapshots))


def trace_digit(view: ModelView, index: int) -> list[LayerTrace]:
    """One test digit through every layer (cheap: not cached)."""
    return view.model.forward_trace(test_data().X[index:index + 1])


def selected_customdata(event: Any) -> list:
    """The customdata of the points chosen in a ``st.plotly_chart(on_select="rerun")`` event, or []."""
    if not event:
        return []
    try:
        points = event["selection"]["points"]
    except (KeyError, TypeError):
        return []
    return [_as_list(p["customdata"]) for p in points if isinstance(p, dict) and p.get("customdata") is not None]


def _as_list(value: Any) -> Any:
    """Row customdata arrives from the browser as ``{"0": 7, "1": 2, ...}``: make it ``[7, 2, ...]``."""
    if isinstance(value, dict) and all(str(k).isdigit() for k in value):
        return [value[k] for k in sorted(value, key=int)]
    return value


def history_columns(history: pd.DataFrame | None, prefix: str) -> tuple[list[int], np.ndarray, list[str]]:
    """(epochs, values (epochs, layers), column names) of the trainer's per-layer columns ``prefix_1 ..``."""
    if history is None or history.empty:
        return [], np.zeros((0, 0)), []
    cols = [c for c in history.columns if c.startswith(prefix + "_") and c[len(prefix) + 1:].isdigit()]
    cols.sort(key=lambda c: int(c[len(prefix) + 1:]))
    return history["epoch"].astype(int).tolist(), history[cols].to_numpy(dtype=np.float64), cols


def layer_quantiles(history: pd.DataFrame | None, kind: str, layer: int) -> tuple[list[int], np.ndarray] | None:
    """(epochs, (epochs, 7) values at DISTRIBUTION_QUANTILES) of ``kind`` ("weight" or "grad") for the
    0-based ``layer``, or None when the history does not hold them."""
    columns = []
    for q in DISTRIBUTION_QUANTILES:
        epochs, values, _ = history_columns(history, f"{kind}_{quantile_name(q)}")
        if values.ndim != 2 or values.shape[1] <= layer:
            return None
        columns.append(values[:, layer])
    return epochs, np.column_stack(columns)


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
