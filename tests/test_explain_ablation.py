"""Ablation: no unit off changes nothing, every unit off gives one constant answer, scaling is exact, weights untouched."""

from __future__ import annotations

import numpy as np
import pytest

from lab.ablation import ablate, ablation_base, describe, most_used_units, never_active, scales_for
from lab.evaluation import to_test_data
from nn.config import ModelConfig
from nn.explain.ablation import (dead_units, forward_from, forward_scaled, hidden_activations, unit_contributions)
from nn.model import MLP


def model64(hidden=(12, 8), activation="relu", seed=0) -> MLP:
    return MLP(ModelConfig(hidden=hidden, activation=activation, dtype="float64"), np.random.default_rng(seed))


def balanced_test(n_per_class: int = 30, seed: int = 1):
    """Random images with labels 0-9 in equal numbers (chance level is exactly 10%)."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(10), n_per_class)
    return to_test_data(rng.integers(0, 256, (labels.size, 28, 28)).astype(np.uint8), labels)


def test_no_unit_off_changes_nothing() -> None:
    model = model64()
    X = np.random.default_rng(2).random((50, 784))
    np.testing.assert_allclose(forward_scaled(model, X, [None, None]), model.forward(X), rtol=1e-12, atol=1e-12)
    ones = [np.ones(12), np.ones(8)]
    np.testing.assert_allclose(forward_scaled(model, X, ones), model.forward(X), rtol=1e-12, atol=1e-12)
    test = balanced_test()
    base = ablation_base(model, test)
    result = ablate(model, base, {}, 0.0)
    np.testing.assert_array_equal(result.predicted, model.predict(test.X))
    assert result.flipped.size == 0 and not result.confusion_delta.any() and result.accuracy == result.accuracy_intact


@pytest.mark.parametrize("layer", [0, 1])
def test_every_unit_of_a_layer_off_gives_one_constant_answer_at_chance_level(layer: int) -> None:
    model = model64(seed=3)
    test = balanced_test()
    base = ablation_base(model, test)
    result = ablate(model, base, {layer: list(range(model.weights[layer].shape[1]))}, 0.0)
    assert np.unique(result.predicted).size == 1  # only the biases above are left: the same scores for every digit
    assert result.accuracy == pytest.approx(0.1)  # balanced classes: one constant answer is right 10% of the time
    only = int(result.predicted[0])
    np.testing.assert_allclose(result.per_class, np.eye(10)[only])
    assert result.confusion[:, only].sum() == len(test.labels)


def test_a_scaled_unit_is_its_activation_times_the_scale() -> None:
    model = model64(seed=4)
    X = np.random.default_rng(5).random((20, 784))
    acts = hidden_activations(model, X)
    # By hand: hidden 1's unit 3 doubled, hidden 2's unit 5 off, then the output layer.
    A1 = acts[0].copy()
    A1[:, 3] *= 2.0
    A2 = np.maximum(A1 @ model.weights[1] + model.biases[1], 0)
    A2[:, 5] = 0.0
    expected = A2 @ model.weights[2] + model.biases[2]
    scales = scales_for(model, {0: [3]}, 2.0)
    scales[1] = np.where(np.arange(8) == 5, 0.0, 1.0)
    np.testing.assert_allclose(forward_scaled(model, X, scales), expected, rtol=1e-12)
    np.testing.assert_allclose(forward_from(model, acts[0], 0, scales), expected, rtol=1e-12)
    # Starting higher up is the same when nothing below is scaled.
    upper = [None, scales[1]]
    np.testing.assert_allclose(forward_from(model, acts[1], 1, upper), forward_scaled(model, X, upper), rtol=1e-12)


def test_ablation_never_touches_the_weights() -> None:
    model = model64(seed=6)
    before = [p.copy() for p in model.parameters()]
    test = balanced_test()
    ablate(model, ablation_base(model, test), {0: [0, 1, 2], 1: [4]}, 0.0)
    for p, q in zip(model.parameters(), before):
        np.testing.assert_array_equal(p, q)


def test_contributions_of_the_last_hidden_layer_are_exact() -> None:
    model = model64(seed=7)
    X = np.random.default_rng(8).random((40, 784))
    contribution = unit_contributions(model, X, 1, 4)
    acts = hidden_activations(model, X)
    np.testing.assert_allclose(contribution, (acts[1] * model.weights[2][:, 4]).mean(axis=0), rtol=1e-10)
    # Switching off the top unit lowers digit 4's mean logit by exactly its contribution.
    top = int(np.argmax(contribution))
    off = forward_scaled(model, X, [None, np.where(np.arange(8) == top, 0.0, 1.0)])
    assert model.forward(X)[:, 4].mean() - off[:, 4].mean() == pytest.approx(contribution[top])


def test_most_used_units_rank_by_contribution_on_the_digits_of_that_class() -> None:
    model = model64(seed=9)
    test = balanced_test()
    top = most_used_units(model, test, 0, 2, 3)
    contribution = unit_contributions(model, test.X[test.labels == 2], 0, 2)
    np.testing.assert_array_equal(top, np.argsort(-contribution, kind="stable")[:3])


def test_dead_units_are_the_ones_never_above_zero() -> None:
    acts = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, -2.0]])
    np.testing.assert_array_equal(dead_units(acts), [0, 2])
    model = model64(seed=10)
    model.biases[0][[1, 4]] = -1e6  # two units that can never switch on
    base = ablation_base(model, balanced_test())
    assert {1, 4} <= set(never_active(base, 0).tolist())


def test_the_flipped_digits_list_broken_answers_first() -> None:
    model = model64(seed=11)
    test = balanced_test()
    base = ablation_base(model, test)
    result = ablate(model, base, {0: list(range(6))}, 0.0)
    changed = np.flatnonzero(result.predicted != base.predicted)
    assert sorted(result.flipped.tolist()) == changed.tolist()
    right_before = base.predicted[result.flipped] == test.labels[result.flipped]
    assert result.broken == int((right_before & (result.predicted[result.flipped] != test.labels[result.flipped])).sum())
    assert list(right_before[:result.broken]) == [True] * result.broken


@pytest.mark.parametrize("off, match", [({2: [0]}, "does not exist"), ({0: [12]}, "units 0 to 11"),
                                        ({0: [-1]}, "units 0 to 11")])
def test_units_that_do_not_exist_are_refused(off, match) -> None:
    with pytest.raises(ValueError, match=match):
        scales_for(model64(), off, 0.0)


def test_scales_below_the_starting_layer_are_refused() -> None:
    model = model64()
    with pytest.raises(ValueError, match="lowest scaled layer"):
        forward_from(model, np.zeros((1, 8)), 1, [np.ones(12), None])
    with pytest.raises(ValueError, match="finite"):
        forward_scaled(model, np.zeros((1, 784)), [np.full(12, np.nan), None])


def test_describe_names_what_is_off() -> None:
    assert describe({}) == "nothing"
    assert describe({0: [17, 3]}) == "hidden 1: units 3, 17"
    assert describe({0: [5], 1: list(range(20))}) == "hidden 1: unit 5; hidden 2: 20 units"
