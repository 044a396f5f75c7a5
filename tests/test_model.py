"""The textbook MLP's behaviour: construction, inference, introspection, dropout, parameters."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nn.config import ModelConfig
from nn.model import MLP, param_count

RNG = np.random.default_rng(0)
X = RNG.random((50, 784), dtype=np.float32)
Y = RNG.integers(0, 10, 50)


def build(seed: int = 0, **kw) -> MLP:
    return MLP(ModelConfig(**kw), np.random.default_rng(seed))


def test_shapes_dtypes_and_zero_biases() -> None:
    model = build(hidden=(32, 16))
    assert [W.shape for W in model.weights] == [(784, 32), (32, 16), (16, 10)]
    assert [b.shape for b in model.biases] == [(32,), (16,), (10,)]
    assert all(W.dtype == np.float32 for W in model.weights)
    assert all(not b.any() for b in model.biases)
    assert model.forward(X).shape == (50, 10) and model.forward(X).dtype == np.float32


@pytest.mark.parametrize("init, expected_std", [("he", math.sqrt(2 / 784)), ("xavier", math.sqrt(2 / (784 + 512))),
                                                ("normal", 0.05)])
def test_initial_weight_scale_follows_the_scheme(init: str, expected_std: float) -> None:
    W = build(hidden=(512,), init=init, init_scale=0.05).weights[0]
    assert W.std() == pytest.approx(expected_std, rel=0.02)
    assert abs(W.mean()) < 0.1 * expected_std


def test_float32_and_float64_models_start_from_the_same_numbers() -> None:
    w32 = build(hidden=(8,)).weights[0]
    w64 = build(hidden=(8,), dtype="float64").weights[0]
    np.testing.assert_array_equal(w32, w64.astype(np.float32))


def test_predict_proba_rows_sum_to_one_and_predict_is_its_argmax() -> None:
    model = build(hidden=(16,), activation="sigmoid")
    p = model.predict_proba(X)
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-6)
    assert (p >= 0).all()
    np.testing.assert_array_equal(model.predict(X), p.argmax(axis=1))


def test_forward_accepts_images_and_refuses_bad_inputs() -> None:
    model = build(hidden=(8,))
    np.testing.assert_array_equal(model.forward(X.reshape(50, 28, 28)), model.forward(X))
    with pytest.raises(ValueError, match=r"\(50, 783\)"):
        model.forward(X[:, :783])
    with pytest.raises(ValueError, match="uint8"):
        model.forward((X * 255).astype(np.uint8))
    with pytest.raises(ValueError, match="labels"):
        model.loss_and_gradients(X, np.full(50, 10))
    with pytest.raises(ValueError, match="integer labels"):
        model.loss_and_gradients(X, Y[:10])


def test_large_inputs_are_processed_in_chunks_with_the_same_result() -> None:
    model = build(hidden=(8,), input_size=3)
    big = np.random.default_rng(1).random((10_000, 3), dtype=np.float32)
    chunked = model.forward(big)
    direct = np.maximum(big @ model.weights[0] + model.biases[0], 0) @ model.weights[1] + model.biases[1]
    np.testing.assert_allclose(chunked, direct, rtol=1e-5, atol=1e-6)  # float32 summation order may differ


def test_forward_trace_matches_forward_and_layer_definitions() -> None:
    model = build(hidden=(12, 6), activation=("tanh", "relu"))
    traces = model.forward_trace(X[:5])
    assert [t.pre.shape for t in traces] == [(5, 12), (5, 6), (5, 10)]
    np.testing.assert_allclose(traces[0].post, np.tanh(traces[0].pre))
    np.testing.assert_allclose(traces[1].post, np.maximum(traces[1].pre, 0))
    np.testing.assert_allclose(traces[-1].pre, model.forward(X[:5]), rtol=1e-6)
    np.testing.assert_allclose(traces[-1].post, model.predict_proba(X[:5]), rtol=1e-6)


def test_input_gradient_of_softmax_regression_is_the_weight_column() -> None:
    model = build(hidden=())
    grad = model.input_gradient(X[:3], 7)  # d(x W + b)_7 / dx = W[:, 7] for every example
    np.testing.assert_array_equal(grad, np.tile(model.weights[0][:, 7], (3, 1)))
    with pytest.raises(ValueError, match="10"):
        model.input_gradient(X[:3], 10)


def test_dropout_only_when_training_and_it_keeps_the_expected_activation() -> None:
    model = build(hidden=(2000,), dropout=0.5, input_size=4, activation="sigmoid")  # never exactly 0
    x = np.ones((1, 4), np.float32)
    assert np.array_equal(model.forward(x), model.forward(x))  # evaluation: no dropout
    np.testing.assert_array_equal(model.forward_cached(x)[0], model.forward(x))  # no rng: no dropout either
    # inverted dropout: half the units are zeroed, the rest doubled, so the mean activation stays the same
    _, cache = model.forward_cached(x, np.random.default_rng(0))
    H, A = cache.inputs[1], cache.acts[0]
    kept = H != 0
    assert 0.45 < kept.mean() < 0.55
    np.testing.assert_allclose(H[kept], 2 * A[kept], rtol=1e-6)


def test_parameters_are_views_of_one_buffer_and_set_params_keeps_references() -> None:
    model = build(hidden=(8,))
    held = model.weights[0]
    saved = model.get_params()
    model.weights[0] += 1.0
    assert not np.array_equal(held, saved[0])
    model.set_params(saved)
    assert held is model.weights[0]
    np.testing.assert_array_equal(held, saved[0])
    saved[0][0, 0] = 123.0  # get_params returned copies
    assert model.weights[0][0, 0] != 123.0
    with pytest.raises(ValueError, match=r"\(8, 784\)"):
        model.set_params([saved[0].T] + saved[1:])
    with pytest.raises(ValueError, match="got 3"):
        model.set_params(saved[:3])


def test_all_finite_spots_nan_and_inf_in_any_array() -> None:
    for dtype in ("float32", "float64"):
        model = build(hidden=(8,), dtype=dtype)
        assert model.all_finite()
        model.biases[1][3] = np.inf
        assert not model.all_finite()
        model.biases[1][3] = 0
        model.weights[0][5, 5] = np.nan
        assert not model.all_finite()
        model.weights[0][5, 5] = np.finfo(dtype).max  # huge but finite
        assert model.all_finite()


def test_param_count_by_formula() -> None:
    assert param_count(ModelConfig(hidden=())) == 784 * 10 + 10
    assert param_count(ModelConfig(hidden=(128, 64))) == 784 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10
    assert param_count(ModelConfig(hidden=(128, 64))) == sum(p.size for p in build(hidden=(128, 64)).parameters())


def test_constructor_refuses_wrong_argument_types() -> None:
    with pytest.raises(ValueError, match="ModelConfig"):
        MLP({"hidden": (4,)}, np.random.default_rng(0))
    with pytest.raises(ValueError, match="Generator"):
        MLP(ModelConfig(), 0)
