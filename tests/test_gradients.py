"""Backpropagation checked against central finite differences, in float64.

    df/dx  ~  (f(x + h) - f(x - h)) / (2 h)        error O(h^2), h = 1e-6

Relative error ``||analytic - numeric|| / (||analytic|| + ||numeric||)`` must be
below 1e-6 everywhere. Inputs avoid the kinks of relu / leaky_relu (at 0) so the
derivative is defined where it is checked.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from nn.activations import get_activation
from nn.config import ModelConfig
from nn.losses import cross_entropy, softmax_cross_entropy
from nn.model import MLP

H = 1e-6
TOL = 1e-6


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / denom) if denom > 0 else 0.0


def numeric_gradient(f, x: np.ndarray) -> np.ndarray:
    """Central differences of scalar f() with respect to every entry of x (perturbed in place)."""
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + H
        up = f()
        x[i] = old - H
        down = f()
        x[i] = old
        grad[i] = (up - down) / (2 * H)
    return grad


def away_from_zero(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Values in +-[0.1, 2]: no kink of relu/leaky_relu within h of them."""
    return rng.uniform(0.1, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


# ---------------------------------------------------------------- activations


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "sigmoid", "tanh"])
def test_activation_derivative_matches_finite_differences(name: str) -> None:
    act = get_activation(name, leaky_slope=0.1)
    z = away_from_zero(np.random.default_rng(1), (4, 5))
    upstream = np.random.default_rng(2).normal(size=z.shape)  # a random dL/dA, so the check is not just f'
    analytic = upstream * act.derivative(act(z), out=np.empty_like(z))
    numeric = numeric_gradient(lambda: float(np.sum(upstream * act(z))), z)
    assert rel_error(analytic, numeric) < TOL


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "sigmoid", "tanh"])
def test_activation_forward_in_place_equals_out_of_place(name: str) -> None:
    act = get_activation(name, leaky_slope=0.2)
    z = np.random.default_rng(3).normal(size=(3, 7)) * 5
    expected = act(z)
    in_place = z.copy()
    act.forward(in_place, out=in_place)
    np.testing.assert_array_equal(in_place, expected)


def test_activation_values_against_definitions() -> None:
    z = np.array([[-800.0, -3.0, -0.5, 0.0, 0.5, 3.0, 800.0]])
    np.testing.assert_array_equal(get_activation("relu")(z), np.maximum(z, 0))
    np.testing.assert_array_equal(get_activation("leaky_relu", 0.1)(z), np.where(z > 0, z, 0.1 * z))
    np.testing.assert_allclose(get_activation("tanh")(z), np.tanh(z))
    sig = get_activation("sigmoid")(z)
    with np.errstate(over="ignore"):
        naive = 1.0 / (1.0 + np.exp(-z))  # overflows to inf in exp at -800 but still gives 0
    np.testing.assert_allclose(sig, naive, rtol=1e-12, atol=1e-300)
    assert np.all(np.isfinite(sig))


def test_sigmoid_never_overflows_in_float32() -> None:
    z = np.array([-1e4, -100.0, 100.0, 1e4], np.float32)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        out = get_activation("sigmoid")(z)
    np.testing.assert_array_equal(out, [0.0, 0.0, 1.0, 1.0])


def test_unknown_activation_is_rejected_with_its_name() -> None:
    with pytest.raises(ValueError, match="'softplus'"):
        get_activation("softplus")


# ---------------------------------------------------------------- loss


def test_fused_loss_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(4)
    logits = rng.normal(size=(6, 4)) * 3
    y = rng.integers(0, 4, 6)
    loss, grad = softmax_cross_entropy(logits.copy(), y)
    assert loss == pytest.approx(cross_entropy(logits, y), rel=1e-12)
    numeric = numeric_gradient(lambda: cross_entropy(logits, y), logits)
    assert rel_error(grad, numeric) < TOL


def test_fused_loss_gradient_is_p_minus_onehot_over_n() -> None:
    logits = np.array([[2.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    y = np.array([0, 2])
    _, grad = softmax_cross_entropy(logits.copy(), y)
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    onehot = np.array([[1.0, 0, 0], [0, 0, 1.0]])
    np.testing.assert_allclose(grad, (p - onehot) / 2, rtol=1e-12)


def test_fused_loss_is_stable_for_huge_logits() -> None:
    logits = np.array([[1000.0, 0.0, -1000.0], [-1e4, 1e4, 0.0]], np.float32)
    y = np.array([2, 1])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # exp may underflow to 0: harmless
        loss, grad = softmax_cross_entropy(logits.copy(), y)
    # first row: log p_2 = -2000 exactly; second row: log p_1 = 0
    assert loss == pytest.approx((2000.0 + 0.0) / 2)
    assert np.all(np.isfinite(grad))
    np.testing.assert_allclose(grad, [[0.5, 0, -0.5], [0, 0, 0]], atol=1e-7)


# ---------------------------------------------------------------- whole networks


def small_model(hidden, activation="relu", dropout=0.0, seed=0, init="he") -> MLP:
    config = ModelConfig(hidden=hidden, activation=activation, dropout=dropout, leaky_slope=0.1,
                         input_size=5, n_classes=3, dtype="float64", init=init)
    model = MLP(config, np.random.default_rng(seed))
    for b in model.biases:  # non-zero biases, so their gradients are checked on a generic point
        b[...] = np.random.default_rng(seed + 1).normal(size=b.shape) * 0.1
    return model


def check_network(model: MLP, *, dropout_seed: int | None = None) -> None:
    rng = np.random.default_rng(10)
    X = rng.uniform(0.0, 1.0, (7, model.config.input_size))
    y = rng.integers(0, model.config.n_classes, 7)

    def masks_rng():  # the same seed every call: the same dropout masks in every evaluation
        return None if dropout_seed is None else np.random.default_rng(dropout_seed)

    def loss() -> float:
        return cross_entropy(model.forward_cached(X, masks_rng())[0], y)

    value, grads_W, grads_b = model.loss_and_gradients(X, y, rng=masks_rng())
    assert value == pytest.approx(loss(), rel=1e-12)
    for layer, (W, b) in enumerate(zip(model.weights, model.biases)):
        assert rel_error(grads_W[layer], numeric_gradient(loss, W)) < TOL, f"dW{layer + 1}"
        assert rel_error(grads_b[layer], numeric_gradient(loss, b)) < TOL, f"db{layer + 1}"


@pytest.mark.parametrize(
    "hidden, activation",
    [
        ((), "relu"),  # softmax regression: one dense layer + the fused loss
        ((4,), "relu"),
        ((4,), "leaky_relu"),
        ((4,), "sigmoid"),
        ((4,), "tanh"),
        ((6, 4), "relu"),
        ((6, 4), "tanh"),
        ((6, 5, 4), ("relu", "sigmoid", "leaky_relu")),
        ((4, 4, 4), "sigmoid"),
    ],
)
def test_network_gradients_match_finite_differences(hidden, activation) -> None:
    check_network(small_model(hidden, activation))


@pytest.mark.parametrize("hidden", [(6,), (6, 5), (6, 5, 4)])
def test_dropout_gradients_with_a_fixed_mask(hidden) -> None:
    model = small_model(hidden, "tanh", dropout=0.4)
    check_network(model, dropout_seed=123)


def test_dropout_masks_really_drop_units_in_the_checked_pass() -> None:
    # guards the test above: with this seed some units are dropped and some scaled by 1/keep
    model = small_model((6,), "tanh", dropout=0.4)
    X = np.random.default_rng(10).uniform(0, 1, (7, 5))
    hidden_on = model.forward_cached(X, np.random.default_rng(123))[0]
    hidden_off = model.forward(X)
    assert not np.allclose(hidden_on, hidden_off)


@pytest.mark.parametrize("hidden, activation", [((), "relu"), ((6,), "tanh"), ((6, 4), ("sigmoid", "relu"))])
def test_input_gradient_matches_finite_differences(hidden, activation) -> None:
    model = small_model(hidden, activation)
    X = np.random.default_rng(11).uniform(0, 1, (3, 5))
    for c in range(3):
        analytic = model.input_gradient(X, c)
        numeric = numeric_gradient(lambda: float(model.forward(X)[:, c].sum()), X)
        assert rel_error(analytic, numeric) < TOL


def test_float32_gradients_agree_with_float64() -> None:
    config64 = ModelConfig(hidden=(32, 16), input_size=20, n_classes=4, dtype="float64")
    config32 = ModelConfig(hidden=(32, 16), input_size=20, n_classes=4, dtype="float32")
    m64, m32 = MLP(config64, np.random.default_rng(0)), MLP(config32, np.random.default_rng(0))
    X = np.random.default_rng(1).uniform(0, 1, (16, 20))
    y = np.random.default_rng(2).integers(0, 4, 16)
    loss64, gW64, _ = m64.loss_and_gradients(X, y)
    loss32, gW32, _ = m32.loss_and_gradients(X.astype(np.float32), y)
    assert loss32 == pytest.approx(loss64, rel=1e-5)
    for a, b in zip(gW32, gW64):
        assert a.dtype == np.float32
        assert rel_error(a, b) < 1e-5


# ---------------------------------------------------------------- a network worked out by hand


def test_tiny_relu_network_by_hand() -> None:
    """2-2-2 ReLU network, two examples, every number derived on paper.

    X = [[1, 2], [-1, 1]], y = [0, 1]
    W1 = [[1, -1], [0.5, 1]], b1 = [0, 0.5]
    W2 = [[1, -1], [-1, 1]],  b2 = [0.5, 0]

    Forward
      Z1 = X W1 + b1:  row 1: [1 + 1, -1 + 2 + 0.5] = [2, 1.5];  row 2: [-1 + 0.5, 1 + 1 + 0.5] = [-0.5, 2.5]
      A1 = relu(Z1) = [[2, 1.5], [0, 2.5]]
      Z2 = A1 W2 + b2: row 1: [2 - 1.5 + 0.5, -2 + 1.5] = [1, -0.5];  row 2: [0 - 2.5 + 0.5, 2.5] = [-2, 2.5]
      For two classes softmax is a sigmoid of the logit difference:
        p(row 1, class 0) = sigmoid(1.5);  p(row 2, class 1) = sigmoid(4.5)
      loss = (log(1 + e^-1.5) + log(1 + e^-4.5)) / 2 = (0.2014133 + 0.0110476) / 2 = 0.1062305

    Backward, with s1 = sigmoid(-1.5) / 2 = 0.0912128 and s2 = sigmoid(-4.5) / 2 = 0.0054935
      dZ2 = (p - Y) / 2 = [[-s1, s1], [s2, -s2]]
      dW2 = A1^T dZ2 = [[-2 s1, 2 s1], [-1.5 s1 + 2.5 s2, 1.5 s1 - 2.5 s2]];  db2 = [s2 - s1, s1 - s2]
      dA1 = dZ2 W2^T = [[-2 s1, 2 s1], [2 s2, -2 s2]]
      dZ1 = dA1 * (Z1 > 0) = [[-2 s1, 2 s1], [0, -2 s2]]     (row 2, unit 1 is off)
      dW1 = X^T dZ1 = [[-2 s1, 2 s1 + 2 s2], [-4 s1, 4 s1 - 2 s2]];  db1 = [-2 s1, 2 s1 - 2 s2]
    """
    model = MLP(ModelConfig(hidden=(2,), input_size=2, n_classes=2, dtype="float64"), np.random.default_rng(0))
    model.set_params([
        np.array([[1.0, -1.0], [0.5, 1.0]]), np.array([0.0, 0.5]),
        np.array([[1.0, -1.0], [-1.0, 1.0]]), np.array([0.5, 0.0]),
    ])
    X = np.array([[1.0, 2.0], [-1.0, 1.0]])
    y = np.array([0, 1])

    trace = model.forward_trace(X)
    np.testing.assert_allclose(trace[0].pre, [[2, 1.5], [-0.5, 2.5]])
    np.testing.assert_allclose(trace[0].post, [[2, 1.5], [0, 2.5]])
    np.testing.assert_allclose(trace[1].pre, [[1, -0.5], [-2, 2.5]])

    def sigmoid(t: float) -> float:
        return 1.0 / (1.0 + math.exp(-t))

    np.testing.assert_allclose(trace[1].post[:, 0], [sigmoid(1.5), sigmoid(-4.5)])
    loss, gW, gb = model.loss_and_gradients(X, y)
    assert loss == pytest.approx((math.log(1 + math.exp(-1.5)) + math.log(1 + math.exp(-4.5))) / 2, rel=1e-12)
    assert loss == pytest.approx(0.1062305, abs=1e-7)

    s1, s2 = sigmoid(-1.5) / 2, sigmoid(-4.5) / 2
    assert (s1, s2) == (pytest.approx(0.0912128, abs=1e-7), pytest.approx(0.0054935, abs=1e-7))
    np.testing.assert_allclose(gW[1], [[-2 * s1, 2 * s1], [-1.5 * s1 + 2.5 * s2, 1.5 * s1 - 2.5 * s2]], rtol=1e-12)
    np.testing.assert_allclose(gb[1], [s2 - s1, s1 - s2], rtol=1e-12)
    np.testing.assert_allclose(gW[0], [[-2 * s1, 2 * s1 + 2 * s2], [-4 * s1, 4 * s1 - 2 * s2]], rtol=1e-12)
    np.testing.assert_allclose(gb[0], [-2 * s1, 2 * s1 - 2 * s2], rtol=1e-12)
