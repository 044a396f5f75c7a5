"""A fixed sample of test digits run through every layer: unit statistics and the layer map come from it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lab.evaluation import INPUT_SCALE, TestData, frozen
from lab.units import active_fraction, dead_fraction
from nn.model import LayerTrace

SAMPLE_SIZE = 2000  # test digits used for activations, unit statistics and the PCA map
SAMPLE_SEED = 0  # the same digits for every model, so maps of two models can be compared
GRADIENT_SAMPLE = 1000  # training digits used to show the gradient distribution of each layer


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


def layer_sample(model: Any, data: TestData) -> LayerSample:
    """The sample digits through every layer of ``model`` (an ``nn.model.MLP``); arrays read-only."""
    idx = sample_indices(len(data.labels))
    traces = model.forward_trace(data.X[idx])
    for t in traces:
        frozen(t.pre, t.post)
    hidden = traces[:-1]
    return LayerSample(
        indices=idx, traces=traces, labels=data.labels[idx],
        predicted=traces[-1].post.argmax(axis=1).astype(np.int64),
        active=[active_fraction(t) for t in hidden],
        dead=[dead_fraction(t) for t in hidden],
    )


def first_layer_active(sample: LayerSample) -> np.ndarray:
    """(k,) how often each first-layer unit is active on the sample (the output layer's, with no hidden layer)."""
    return sample.active[0] if sample.active else active_fraction(sample.traces[0])


def weight_gradients(model: Any, images: np.ndarray, labels: np.ndarray) -> list[np.ndarray]:
    """dL/dW per layer on the first ``GRADIENT_SAMPLE`` training digits (no dropout); read-only."""
    X = np.multiply(images[:GRADIENT_SAMPLE].reshape(-1, images[0].size), INPUT_SCALE, dtype=np.float32)
    _, grads_W, _ = model.loss_and_gradients(X, np.asarray(labels[:GRADIENT_SAMPLE]).astype(np.int64))
    frozen(*grads_W)
    return grads_W
