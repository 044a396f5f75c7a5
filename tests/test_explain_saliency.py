"""Contrastive gradients against finite differences, integrated gradients' completeness, the smallest flip."""

from __future__ import annotations

import numpy as np
import pytest

from nn.config import ModelConfig
from nn.data import to_float
from nn.explain.flip import MAX_STEPS, smallest_flip
from nn.explain.gradients import logit_difference_gradient, unit_gradient
from nn.explain.saliency import integrated_gradients
from nn.model import MLP
from tests.trained_default import default_net  # noqa: F401


def model64(hidden=(10, 7), activation="tanh", seed=0) -> MLP:
    return MLP(ModelConfig(hidden=hidden, activation=activation, dtype="float64"), np.random.default_rng(seed))


def central_difference(f, x: np.ndarray, pixels: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    out = []
    for i in pixels:
        up, down = x.copy(), x.copy()
        up[0, i] += eps
        down[0, i] -= eps
        out.append((f(up) - f(down)) / (2 * eps))
    return np.array(out)


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", "leaky_relu"])
def test_the_contrastive_gradient_equals_finite_differences(activation: str) -> None:
    model = model64(activation=activation, seed=1)
    rng = np.random.default_rng(2)
    x = rng.random((1, 784))
    pixels = rng.choice(784, 25, replace=False)
    grad = logit_difference_gradient(model, x, 3, 8)[0]
    numeric = central_difference(lambda z: float(model.forward(z)[0, 3] - model.forward(z)[0, 8]), x, pixels)
    np.testing.assert_allclose(grad[pixels], numeric, rtol=1e-5, atol=1e-8)
    # The same class on both sides: no difference, no gradient.
    assert not logit_difference_gradient(model, x, 4, 4).any()


def test_a_hidden_units_gradient_equals_finite_differences() -> None:
    model = model64(seed=3)
    x = np.random.default_rng(4).random((1, 784))
    pixels = np.arange(0, 784, 37)
    z_unit = lambda z: float((model.forward_cached(z)[1].pre[1])[0, 5])  # noqa: E731
    np.testing.assert_allclose(unit_gradient(model, x, 1, 5)[0][pixels], central_difference(z_unit, x, pixels),
                               rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(unit_gradient(model, x, 2, 6), model.input_gradient(x, 6), rtol=1e-12)


def test_integrated_gradients_add_up_to_the_margin_and_leave_blank_pixels_at_zero() -> None:
    model = model64(activation="relu", seed=5)
    x = np.random.default_rng(6).random(784)
    x[:300] = 0.0  # blank paper: IG against a blank image gives it nothing
    ig = integrated_gradients(model, x, 2, 7, steps=1024)
    assert not ig.pixels[:300].any()
    assert abs(ig.completeness_gap) < 1e-3 * max(1.0, abs(ig.margin - ig.margin_baseline))
    ends = model.forward(np.stack([x, np.zeros(784)]))
    assert ig.margin == pytest.approx(ends[0, 2] - ends[0, 7]) and ig.margin_baseline == pytest.approx(ends[1, 2] - ends[1, 7])


def test_integrated_gradients_of_a_linear_model_are_input_times_weight_difference() -> None:
    model = MLP(ModelConfig(hidden=(), dtype="float64"), np.random.default_rng(7))
    x = np.random.default_rng(8).random(784)
    ig = integrated_gradients(model, x, 1, 9, steps=3)
    np.testing.assert_allclose(ig.pixels, x * (model.weights[0][:, 1] - model.weights[0][:, 9]), rtol=1e-12)
    assert abs(ig.completeness_gap) < 1e-9


def test_the_flip_of_a_two_class_linear_model_is_the_textbook_distance() -> None:
    # Only classes 0 and 1 can win; away from the box's walls the smallest change is gap / |w_1 - w_0| along it.
    model = MLP(ModelConfig(hidden=(), dtype="float64"), np.random.default_rng(9))
    model.weights[0][:, 2:] = 0.0
    model.biases[0][:] = -1e6
    model.biases[0][:2] = [0.3, 0.0]
    x = np.full((1, 784), 0.5)
    gap = float(model.forward(x)[0, 0] - model.forward(x)[0, 1])
    assert gap > 0
    flip = smallest_flip(model, x, 1)
    assert flip.success[0] and flip.predicted[0] == 1
    w = model.weights[0][:, 1] - model.weights[0][:, 0]
    assert flip.l2[0] == pytest.approx(gap / np.linalg.norm(w), rel=1e-3)
    np.testing.assert_allclose(flip.delta[0] / flip.l2[0], w / np.linalg.norm(w), atol=1e-6)


def test_a_flip_stays_in_the_box_and_its_answer_is_checked() -> None:
    model = model64(activation="relu", seed=10)
    rng = np.random.default_rng(11)
    X = rng.random((40, 784)) * (rng.random((40, 784)) < 0.2)  # mostly blank, like a digit
    target = rng.integers(0, 10, 40)
    flip = smallest_flip(model, X, target)
    assert flip.x_new.min() >= 0.0 and flip.x_new.max() <= 1.0
    np.testing.assert_array_equal(flip.predicted, model.predict(flip.x_new))
    np.testing.assert_array_equal(flip.success, flip.predicted == target)
    already = model.predict(X) == target
    assert not flip.delta[already].any() and (flip.steps[already] == 0).all()
    with pytest.raises(ValueError, match="target"):
        smallest_flip(model, X[:1], 10)


@pytest.mark.realdata
def test_the_flip_reaches_the_target_for_a_trained_default_network(default_net, mnist) -> None:
    X = to_float(mnist.x_test[:500])
    predicted = default_net.predict(X)
    target = (predicted + np.random.default_rng(0).integers(1, 10, 500)) % 10  # any other digit
    flip = smallest_flip(default_net, X, target)
    # Measured: all 500 within the budget of 50 steps (median 2, at most 20) for this 1-epoch network.
    assert flip.success.sum() >= 490, f"{flip.success.sum()} of 500 flipped within {MAX_STEPS} steps"
    np.testing.assert_array_equal(default_net.predict(flip.x_new[flip.success]), target[flip.success])
    assert flip.x_new.min() >= 0.0 and flip.x_new.max() <= 1.0
    assert np.median(flip.l2[flip.success]) < 4.0  # small next to a digit's own size (|x| is about 9)
