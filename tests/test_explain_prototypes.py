"""Prototypes: the ascent's gradient against finite differences, its value rising step by step, its settings checked."""

from __future__ import annotations

import numpy as np
import pytest

from lab.dataset_stats import class_means
from nn.config import ModelConfig
from nn.explain.prototypes import (PrototypeParams, class_prototypes, gaussian_blur_matrix, objective_and_gradient,
                                   prototypes)
from lab.prototypes import unit_prototype
from nn.model import MLP
from tests.trained_default import default_net  # noqa: F401


def model64(seed: int = 0) -> MLP:
    return MLP(ModelConfig(hidden=(12, 9), activation="tanh", dtype="float64"), np.random.default_rng(seed))


def test_the_blur_is_a_symmetric_normalised_gaussian() -> None:
    K = gaussian_blur_matrix(1.0)
    np.testing.assert_array_equal(K, K.T)
    np.testing.assert_allclose(K[5:23].sum(axis=1), 1.0)  # away from the edges every row keeps the total ink
    image = np.zeros((28, 28))
    image[14, 14] = 1.0
    blurred = K @ image @ K
    assert blurred.sum() == pytest.approx(1.0) and blurred[14, 14] < 0.2 and blurred[14, 15] == blurred[15, 14]


def test_the_objectives_gradient_equals_finite_differences() -> None:
    model = model64()
    params = PrototypeParams(l2=0.3, blur=2.0, sigma=1.2)
    K = gaussian_blur_matrix(params.sigma)
    x = np.random.default_rng(1).random((2, 784))
    units = np.array([3, 7])
    _, J, grad = objective_and_gradient(model, x, 2, units, params, K)
    eps = 1e-6
    for i in np.random.default_rng(2).choice(784, 15, replace=False):
        up, down = x.copy(), x.copy()
        up[:, i] += eps
        down[:, i] -= eps
        numeric = (objective_and_gradient(model, up, 2, units, params, K)[1]
                   - objective_and_gradient(model, down, 2, units, params, K)[1]) / (2 * eps)
        np.testing.assert_allclose(grad[:, i], numeric, rtol=1e-5, atol=1e-8)


def test_a_hidden_units_prototype_raises_that_unit_step_by_step() -> None:
    model = model64(seed=3)
    start = np.full((1, 784), 0.2)
    result = prototypes(model, start, 0, [4], PrototypeParams(steps=60))
    assert (np.diff(result.values[:, 0]) >= 0).all() and (np.diff(result.objective[:, 0]) >= 0).all()
    assert result.values[-1, 0] > result.values[0, 0]
    z = model.forward_cached(result.images)[1].pre[0][0, 4]
    assert z == pytest.approx(result.values[-1, 0])
    assert result.images.min() >= 0.0 and result.images.max() <= 1.0


@pytest.mark.parametrize("bad", [{"steps": 0}, {"steps": 1.5}, {"step_size": 0.0}, {"l2": -1.0},
                                 {"blur": float("nan")}, {"sigma": 0.0}])
def test_absurd_settings_are_refused(bad) -> None:
    with pytest.raises(ValueError):
        PrototypeParams(**bad)


def test_a_unit_that_does_not_exist_is_refused() -> None:
    with pytest.raises(ValueError, match="units 0 to 11"):
        prototypes(model64(), np.zeros((1, 784)), 0, [12])


@pytest.mark.realdata
def test_class_prototypes_of_a_trained_default_network_raise_their_logit_monotonically(default_net, mnist) -> None:
    means = class_means(mnist.x_train, mnist.y_train).reshape(10, -1) / 255.0
    result = class_prototypes(default_net, means, PrototypeParams(steps=60))
    steps = np.diff(result.values, axis=0)  # (steps, 10): each class's logit, step by step
    assert (steps >= 0).all()
    assert (result.values[-1] > result.values[0]).all()  # and every class rose
    np.testing.assert_array_equal(default_net.predict(result.images), np.arange(10))


def test_a_units_penalties_are_divided_by_how_much_less_its_input_moves_than_a_score() -> None:
    model = MLP(ModelConfig(hidden=(12,), dtype="float64"), np.random.default_rng(4))
    means = np.random.default_rng(5).random((10, 28, 28)) * 255
    params = PrototypeParams(steps=20)
    result, gain = unit_prototype(model, means, 3, params)
    x = means.reshape(10, -1) / 255
    slopes = [np.linalg.norm(model.input_gradient(x[c:c + 1], c)) for c in range(10)]
    assert gain == pytest.approx(np.mean(slopes) / np.linalg.norm(model.weights[0][:, 3]))
    same = prototypes(model, x.mean(axis=0, keepdims=True), 0, [3],
                      PrototypeParams(steps=20, l2=params.l2 / gain, blur=params.blur / gain))
    np.testing.assert_allclose(result.images, same.images)
    assert not result.images.flags.writeable
