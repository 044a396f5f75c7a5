"""Figures of the Step-through page: what they draw is the numbers of lab/step_through."""

from __future__ import annotations

import numpy as np

from figures.step_through import (MAX_SHOWN, eps_figure, filter_gradient_figure, network_figure, shown_units,
                                  softmax_figure, weighted_sum_figure)
from lab.step_through import Batch, float64_copy, full_pass, output_step, unit_backward, unit_forward
from nn.config import ModelConfig
from nn.model import MLP


def setup(hidden=(40, 8)):
    model = float64_copy(MLP(ModelConfig(hidden=hidden), np.random.default_rng(0)))
    rng = np.random.default_rng(1)
    batch = Batch(rng.random((3, 784)), rng.integers(0, 10, 3))
    return model, batch, full_pass(model, batch)


def test_the_picture_samples_wide_layers_keeps_the_selected_unit_and_draws_its_weights() -> None:
    model, batch, p = setup()
    columns = shown_units(model, p, 0, (1, 33))
    assert [len(c) for c in columns] == [MAX_SHOWN, MAX_SHOWN, 8, 10]
    assert 33 in columns[1] and all(np.all(np.diff(c) > 0) for c in columns)
    # the inputs shown are the strongest contributions to the selected unit's sum
    votes = np.abs(p.cache.inputs[0][0] * model.weights[0][:, 33])
    assert set(columns[0]) == set(np.argsort(-votes)[:MAX_SHOWN])
    fig = network_figure(model, p, 0, (1, 33))
    edges = [t for t in fig.data if t.mode == "lines"]
    assert len(edges) == MAX_SHOWN + 8  # in from the shown pixels, out to every unit of layer 2
    markers = [t for t in fig.data if t.mode == "markers"]
    clickable = np.concatenate([t.customdata for t in markers])
    assert [1, 33] in clickable.tolist() and len(clickable) == MAX_SHOWN + MAX_SHOWN + 8 + 10
    widths = sorted(t.line.width for t in edges)
    assert widths[-1] == 6.0 and widths[0] >= 0.5  # width follows |w|


def test_the_output_layer_selected_has_only_incoming_edges() -> None:
    model, batch, p = setup()
    fig = network_figure(model, p, 1, (3, 7))
    assert len([t for t in fig.data if t.mode == "lines"]) == 8


def test_the_weighted_sum_figures_show_the_terms() -> None:
    model, batch, p = setup()
    first = weighted_sum_figure(unit_forward(model, p, 0, 1, 5))
    assert len(first.data) == 3  # the digit, the weights, their product
    np.testing.assert_allclose(np.asarray(first.data[2].z).reshape(-1), p.cache.inputs[0][0] * model.weights[0][:, 5])
    assert "= " in first.layout.title.text
    deeper = weighted_sum_figure(unit_forward(model, p, 0, 2, 3))
    f = unit_forward(model, p, 0, 2, 3)
    np.testing.assert_allclose(deeper.data[0].y, f.products[f.top])


def test_softmax_filter_gradient_and_eps_figures() -> None:
    model, batch, p = setup()
    out = output_step(p, batch, 0)
    fig = softmax_figure(out)
    np.testing.assert_allclose(fig.data[0].y, out.probs)
    assert fig.data[0].marker.line.width[out.label] == 4
    grad = unit_backward(model, p, 0, 1, 2).dW_column
    g = filter_gradient_figure(grad, 2)
    assert np.asarray(g.data[0].z).shape == (28, 28) and g.data[0].zmid == 0
    eps = np.logspace(-12, -1, 5)
    e = eps_figure(eps, np.array([1e-4, 1e-9, 0.0, 1e-8, 1e-2]), 1e-6)
    assert min(e.data[0].y) > 0 and e.layout.xaxis.type == "log"


def test_the_gate_and_the_probabilities_before_and_after() -> None:
    from figures.step_through import gate_figure, step_probabilities_figure

    g = gate_figure("relu", -0.7, 0.0)
    assert list(g.data[1].x) == [-0.7] and list(g.data[1].y) == [0.0]
    assert set(np.unique(g.data[0].y)) <= {0.0, 1.0}  # ReLU's slope: the gate is shut or open
    before, after = np.full(10, 0.1), np.eye(10)[3]
    fig = step_probabilities_figure(before, after, 3)
    np.testing.assert_allclose(fig.data[0].y, before)
    np.testing.assert_allclose(fig.data[1].y, after)
    assert fig.data[1].marker.line.width[3] == 3
