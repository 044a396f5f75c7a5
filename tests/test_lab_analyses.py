"""The analyses behind the Evaluate and Inspect pages (lab/), on tiny models and hand-made arrays."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lab.evaluation import (Evaluation, abstain_below, cell_members, evaluate, filter_mistakes, misclassified_frame,
                            page_count, row_normalise, to_test_data)
from lab.histograms import histogram, symmetric_range
from lab.snapshots import snapshot_at, snapshot_histograms, snapshot_range
from lab.history import has_numbers, history_columns
from lab.layer_sample import GRADIENT_SAMPLE, layer_sample, sample_indices, weight_gradients
from lab.selection import selected_customdata
from lab.units import active_fraction, dead_fraction, filter_order, unit_class_effect, unit_note
from nn.config import ModelConfig
from nn.model import MLP, LayerTrace


def tiny_model(hidden=(6, 5), activation="tanh", seed=0) -> MLP:
    return MLP(ModelConfig(hidden=hidden, activation=activation, dtype="float64"), np.random.default_rng(seed))


def labelled_predictions(n: int = 500, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels and softmax probabilities of a noisy classifier (about 80% right)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    logits = rng.normal(0, 1, (n, 10))
    logits[np.arange(n), y] += 2.5
    proba = np.exp(logits)
    return y, proba / proba.sum(axis=1, keepdims=True)


def make_test_data(n: int = 300, seed: int = 5):
    rng = np.random.default_rng(seed)
    return to_test_data(rng.integers(0, 256, (n, 28, 28)).astype(np.uint8), rng.integers(0, 10, n))


def test_unit_class_effect_matches_a_finite_difference_through_the_layers_above() -> None:
    model = tiny_model()
    rng = np.random.default_rng(1)
    X = rng.random((40, 784))
    traces = model.forward_trace(X)
    unit, eps = 3, 1e-6

    def logits_from_first_layer(a1: np.ndarray) -> np.ndarray:
        h = a1
        for W, b in zip(model.weights[1:-1], model.biases[1:-1]):
            h = np.tanh(h @ W + b)
        return h @ model.weights[-1] + model.biases[-1]

    a1 = traces[0].post
    bump = np.zeros_like(a1)
    bump[:, unit] = eps
    numeric = ((logits_from_first_layer(a1 + bump) - logits_from_first_layer(a1 - bump)) / (2 * eps)).mean(axis=0)
    np.testing.assert_allclose(unit_class_effect(model, traces, unit), numeric, rtol=1e-5, atol=1e-8)


def test_unit_class_effect_with_one_hidden_layer_is_the_output_weight_row() -> None:
    model = tiny_model(hidden=(4,), activation="relu")
    traces = model.forward_trace(np.random.default_rng(2).random((5, 784)))
    np.testing.assert_allclose(unit_class_effect(model, traces, 2), model.weights[1][2])
    with pytest.raises(ValueError, match="unit must be in"):
        unit_class_effect(model, traces, 4)


def test_active_and_dead_fractions() -> None:
    pre = np.array([[1.0, -1.0, 0.0], [2.0, -3.0, 0.5], [-1.0, -2.0, 0.0]])
    trace = LayerTrace(pre=pre, post=np.maximum(pre, 0))
    np.testing.assert_allclose(active_fraction(trace), [2 / 3, 0.0, 1 / 3])
    assert dead_fraction(trace) == pytest.approx(1 / 3)


def test_histogram_is_a_density() -> None:
    values = np.random.default_rng(3).normal(size=10_000)
    density, centres = histogram(values, bins=50)
    assert density.shape == centres.shape == (50,)
    assert np.sum(density * np.diff(centres).mean()) == pytest.approx(1.0)


def test_misclassified_frame_lists_exactly_the_mistakes_most_confident_first() -> None:
    y, proba = labelled_predictions()
    frame = misclassified_frame(proba, y)
    pred = proba.argmax(axis=1)
    assert sorted(frame["index"]) == sorted(np.flatnonzero(pred != y))
    assert (np.diff(frame["confidence"].to_numpy()) <= 0).all()
    row = frame.iloc[0]
    i = row["index"]
    assert row["true"] == y[i] and row["predicted"] == pred[i] != y[i]
    assert row["confidence"] == pytest.approx(proba[i].max())
    assert row["p_true"] == pytest.approx(proba[i, y[i]])
    assert list(row["top_classes"]) == list(np.argsort(-proba[i])[:3])
    np.testing.assert_allclose(row["top_probs"], np.sort(proba[i])[::-1][:3])


def test_row_normalise_handles_empty_rows() -> None:
    out = row_normalise(pd.DataFrame([[0, 0], [1, 3]]).to_numpy())
    np.testing.assert_allclose(out, [[0, 0], [0.25, 0.75]])


def test_evaluation_of_a_model_agrees_with_its_own_predictions_and_is_read_only() -> None:
    model, data = tiny_model(activation="relu"), make_test_data()
    ev = evaluate(model, data)
    assert isinstance(ev, Evaluation)
    np.testing.assert_array_equal(ev.predicted, model.predict_proba(data.X).argmax(axis=1))
    assert ev.accuracy == pytest.approx(float((ev.predicted == data.labels).mean()))
    assert ev.confusion.sum() == len(data.labels) and np.trace(ev.confusion) == int((ev.predicted == data.labels).sum())
    assert len(ev.mistakes) == int((ev.predicted != data.labels).sum())
    for array in (ev.proba, ev.predicted, ev.confidence, ev.confusion, data.X):
        with pytest.raises(ValueError, match="read-only"):
            array[0] = 0


def test_a_confusion_cell_lists_its_digits_most_confident_first() -> None:
    model, data = tiny_model(activation="relu"), make_test_data()
    ev = evaluate(model, data)
    t, p = np.unravel_index(np.argmax(ev.confusion), ev.confusion.shape)
    members = cell_members(data.labels, ev, int(t), int(p), limit=1000)
    assert len(members) == ev.confusion[t, p]
    assert (data.labels[members] == t).all() and (ev.predicted[members] == p).all()
    assert (np.diff(ev.confidence[members]) <= 0).all()
    np.testing.assert_array_equal(cell_members(data.labels, ev, int(t), int(p), limit=3), members[:3])


def test_mistake_filters_and_order() -> None:
    y, proba = labelled_predictions()
    frame = misclassified_frame(proba, y)
    assert filter_mistakes(frame, [], []).equals(frame)
    only = filter_mistakes(frame, [3, 5], [8])
    assert set(only["true"]) <= {3, 5} and set(only["predicted"]) == {8}
    assert len(only) == int(((frame["true"].isin([3, 5])) & (frame["predicted"] == 8)).sum())
    least_first = filter_mistakes(frame, [], [], most_confident_first=False)
    assert (np.diff(least_first["confidence"].to_numpy()) >= 0).all()
    assert filter_mistakes(frame, [42], []).empty


@pytest.mark.parametrize("rows, size, pages", [(0, 24, 1), (1, 24, 1), (24, 24, 1), (25, 24, 2), (100, 24, 5)])
def test_page_count(rows: int, size: int, pages: int) -> None:
    assert page_count(rows, size) == pages


def test_answering_only_when_sure_matches_the_abstention_curve() -> None:
    model, data = tiny_model(activation="relu"), make_test_data(n=500)
    ev = evaluate(model, data)
    for threshold in (0.1, 0.5, float(np.median(ev.confidence))):
        a = abstain_below(ev, data.labels, threshold)
        i = int(np.argmin(np.abs(ev.curve.thresholds - threshold)))
        if ev.curve.thresholds[i] == pytest.approx(threshold):
            assert a.coverage == pytest.approx(ev.curve.coverage[i])
        answered = ev.confidence >= threshold
        assert a.abstained == int((~answered).sum()) and a.answered == int(answered.sum()) and a.coverage == pytest.approx(answered.mean())
    nobody = abstain_below(ev, data.labels, 1.01)
    assert nobody.coverage == 0.0 and np.isnan(nobody.accuracy) and nobody.abstained == len(data.labels)


def test_the_layer_sample_is_fixed_and_holds_every_layer() -> None:
    model, data = tiny_model(activation="relu"), make_test_data(n=3000)
    sample = layer_sample(model, data)
    np.testing.assert_array_equal(sample.indices, sample_indices(3000))
    assert len(sample.indices) == 2000 and (np.diff(sample.indices) > 0).all()
    assert len(sample.traces) == model.n_layers and len(sample.active) == len(sample.dead) == model.n_layers - 1
    np.testing.assert_array_equal(sample.labels, data.labels[sample.indices])
    assert sample.dead[0] == pytest.approx(dead_fraction(sample.traces[0]))
    assert sample_indices(50).tolist() == list(range(50))  # a small test set is used whole


def test_weight_gradients_use_the_first_training_digits() -> None:
    model = tiny_model(hidden=(4,), activation="relu")
    rng = np.random.default_rng(6)
    images = rng.integers(0, 256, (GRADIENT_SAMPLE + 50, 28, 28)).astype(np.uint8)
    labels = rng.integers(0, 10, len(images))
    grads = weight_gradients(model, images, labels)
    X = images[:GRADIENT_SAMPLE].reshape(GRADIENT_SAMPLE, -1).astype(np.float32) / 255
    _, expected, _ = model.loss_and_gradients(X, labels[:GRADIENT_SAMPLE])
    for g, e in zip(grads, expected):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-9)
        assert not g.flags.writeable


def test_filter_orders() -> None:
    W1 = np.zeros((784, 3))
    W1[:, 0], W1[:, 1], W1[:, 2] = 0.1, 1.0, 0.5
    active = np.array([0.9, 0.0, 0.4])
    assert filter_order(W1, active, "weight norm").tolist() == [1, 2, 0]
    assert filter_order(W1, active, "how often active").tolist() == [0, 2, 1]
    assert filter_order(W1, active, "unit number").tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="sort_by"):
        filter_order(W1, active, "colour")


def test_snapshot_histograms_share_their_bins() -> None:
    rng = np.random.default_rng(7)
    snapshots = [(0, rng.normal(0, 0.1, (784, 8))), (1, rng.normal(0, 0.3, (784, 8)))]
    epochs, centres, density = snapshot_histograms(snapshots, bins=30)
    assert epochs == [0, 1] and centres.shape == (30,) and density.shape == (30, 2)
    assert density[15, 0] > density[15, 1]  # the narrower start piles up around zero
    assert symmetric_range(np.array([-3.0, 1.0, np.nan])) == (-3.0, 3.0)
    assert symmetric_range(np.zeros(4)) == (-1.0, 1.0)  # never an empty range
    with pytest.raises(ValueError, match="no snapshots"):
        snapshot_histograms([])
    assert snapshot_at(snapshots, 1) is snapshots[1][1]
    with pytest.raises(ValueError, match="epoch 5"):
        snapshot_at(snapshots, 5)
    low, high = snapshot_range(snapshots, np.array([0, 3]))
    assert low == -high and high <= np.abs(snapshots[1][1][:, [0, 3]]).max()
    assert high > np.abs(snapshots[0][1][:, [0, 3]]).max()  # the range covers the widest epoch


def test_history_columns_are_ordered_by_layer_number() -> None:
    history = pd.DataFrame({"epoch": [1, 2], "norm_10": [5.0, 6.0], "norm_2": [3.0, 4.0], "norm_x": [0, 0]})
    epochs, values, names = history_columns(history, "norm")
    assert epochs == [1, 2] and names == ["norm_2", "norm_10"]
    np.testing.assert_array_equal(values, [[3.0, 5.0], [4.0, 6.0]])
    assert history_columns(None, "norm")[0] == []
    assert has_numbers(values) and not has_numbers(np.full((2, 1), np.nan)) and not has_numbers(np.zeros((0, 0)))


def test_selected_customdata_reads_rows_and_scalars() -> None:
    event = {"selection": {"points": [{"customdata": {"0": 7, "1": 2, "2": 5}}, {"customdata": 42}]}}
    assert selected_customdata(event) == [[7, 2, 5], 42]
    assert selected_customdata(None) == []
    assert selected_customdata({"selection": {"points": []}}) == []
    assert selected_customdata({"selection": "garbage"}) == []


@pytest.mark.parametrize("share, activation, note", [
    (0.0, "relu", "dead"), (0.0, "leaky_relu", "dead"), (0.0, "tanh", None), (0.0, None, None),
    (0.5, "relu", None), (0.96, "sigmoid", "always"), (1.0, None, "always"),
])
def test_unit_notes(share: float, activation: str | None, note: str | None) -> None:
    assert unit_note(share, activation) == note
