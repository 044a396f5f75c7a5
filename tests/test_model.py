"""The MLP's behaviour: construction, determinism, inference, introspection, the training fast path."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nn.config import ModelConfig, TrainConfig
from nn.model import MLP, memory_estimate, param_count
from nn.optim import make_optimizer

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


def test_same_seed_gives_bit_identical_weights_and_training() -> None:
    def train(seed: int) -> list[np.ndarray]:
        config = TrainConfig(model=ModelConfig(hidden=(20, 10), dropout=0.3))
        model = MLP(config.model, np.random.default_rng(seed))
        opt = make_optimizer(config, model.parameters())
        drop = np.random.default_rng(seed + 1)
        for _ in range(5):
            model.train_step_gradients(X, Y, drop)
            opt.step(model.gradients())
        return model.get_params()

    a, b, c = train(3), train(3), train(4)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0])


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
    with pytest.raises(ValueError, match="rng"):
        model.forward(x, train=True)
    # inverted dropout: half the units are zeroed, the rest doubled, so the mean activation stays the same
    ws = model._new_workspace(1)
    model._prepare_pass(ws, x, np.random.default_rng(0))
    model._train_forward(ws)
    kept = ws.dropped[0] != 0
    assert 0.45 < kept.mean() < 0.55
    np.testing.assert_allclose(ws.dropped[0][kept], 2 * ws.acts[0][kept], rtol=1e-6)


def test_train_step_matches_loss_and_gradients_and_counts_correct_predictions() -> None:
    model = build(hidden=(16,))
    loss, gW, gb = model.loss_and_gradients(X, Y)
    assert model.train_step_gradients(X, Y) == loss
    for a, b in zip(gW + gb, model.grad_W + model.grad_b):
        np.testing.assert_array_equal(a, b)
    assert model.last_batch_correct == int((model.predict(X) == Y).sum())


def test_alternating_batch_sizes_reuse_buffers_without_mixing_them() -> None:
    model = build(hidden=(16, 8))
    fresh = build(hidden=(16, 8))
    for n in (50, 7, 50, 3, 7, 1, 2, 50):
        assert model.train_step_gradients(X[:n], Y[:n]) == fresh.loss_and_gradients(X[:n], Y[:n])[0]
        np.testing.assert_array_equal(model.grad_W[0], fresh.grad_W[0])


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


def test_memory_estimate_counts_params_optimizer_state_and_batch_buffers() -> None:
    config = ModelConfig(hidden=(100,))
    params = param_count(config)
    sgd = memory_estimate(config, 1, "sgd")
    adam = memory_estimate(config, 1, "adam")
    assert adam - sgd == 2 * params * 4  # Adam keeps two moments per parameter
    assert memory_estimate(config, 129, "adam") - adam == 128 * (784 + 2 * 10 + 3 * 100) * 4
    assert memory_estimate(ModelConfig(hidden=(100,), dtype="float64"), 1, "adam") == 2 * adam
    assert memory_estimate(ModelConfig(hidden=(100,), dropout=0.5), 1, "adam") > adam
    huge = ModelConfig(hidden=(4096,) * 6)
    assert memory_estimate(huge, 128) > 1e9  # a UI can warn before building this
    with pytest.raises(ValueError, match="'rmsprop'"):
        memory_estimate(config, 1, "rmsprop")
    with pytest.raises(ValueError, match="0"):
        memory_estimate(config, 0)


def test_constructor_refuses_wrong_argument_types() -> None:
    with pytest.raises(ValueError, match="ModelConfig"):
        MLP({"hidden": (4,)}, np.random.default_rng(0))
    with pytest.raises(ValueError, match="Generator"):
        MLP(ModelConfig(), 0)


def test_a_short_run_learns_a_separable_problem() -> None:
    rng = np.random.default_rng(5)
    Xs = rng.random((512, 20), dtype=np.float32)
    ys = (Xs[:, :10] @ np.arange(10) > 22.5).astype(int)  # a linear rule on ten of the inputs
    config = TrainConfig(model=ModelConfig(hidden=(32,), input_size=20, n_classes=2), lr=3e-3)
    model = MLP(config.model, np.random.default_rng(0))
    opt = make_optimizer(config, model.parameters())
    first = model.train_step_gradients(Xs, ys)
    for _ in range(200):
        model.train_step_gradients(Xs, ys)
        opt.step(model.gradients())
    assert model.train_step_gradients(Xs, ys) < 0.2 * first
    assert (model.predict(Xs) == ys).mean() > 0.95


def test_backward_needs_a_forward_pass_first_and_runs_once_per_forward() -> None:
    model = MLP(ModelConfig(hidden=(4,), input_size=3, n_classes=2), np.random.default_rng(0))
    with pytest.raises(ValueError, match="train_forward_loss"):
        model.train_backward()
    X, y = np.ones((2, 3), np.float32), np.array([0, 1])
    model.train_forward_loss(X, y)
    model.train_backward()
    with pytest.raises(ValueError, match="train_forward_loss"):
        model.train_backward()  # the logits buffer already holds consumed gradients


@pytest.mark.parametrize("hidden", [(), (1,), (16,), (800,), (256, 128), (3, 3, 3)])
@pytest.mark.parametrize("parts", [1, 2, 3])
def test_param_slices_tile_the_buffer_in_near_equal_slices_cut_between_rows(hidden, parts) -> None:
    model = build(hidden=hidden)
    slices = model.param_slices(parts)
    total = model._params.size
    assert len(slices) == parts and slices[0][0] == 0 and slices[-1][1] == total
    assert all(a[1] == b[0] for a, b in zip(slices, slices[1:]))
    row_starts = {0, total}  # every place a cut may fall: the start of a row of some W, or the end
    for W, at in zip(model.weights, model._offsets):
        row_starts.update(range(at, at + W.size + 1, W.shape[1]))  # ... + W.size: where b_l starts
    widest = max(W.shape[1] + b.size for W, b in zip(model.weights, model.biases))
    for start, stop in slices:
        assert start in row_starts
        assert abs((stop - start) - total / parts) <= widest  # equal work, up to a row and a bias


@pytest.mark.parametrize("threads", [1, 2])
def test_a_batch_drawn_from_the_batch_source_is_the_converted_batch(threads: int) -> None:
    from nn.data import to_float
    from nn.parallel import Team

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (300, 784), dtype=np.uint8)
    idx, y = rng.permutation(300)[:64], rng.integers(0, 10, 64)
    drawn, given = build(hidden=(32,)), build(hidden=(32,))
    drawn.set_batch_source(images)
    team = Team(threads)
    try:
        loss_drawn = drawn.train_forward_loss_from(idx, y, team=team)
        drawn.train_backward()
        loss_given = given.train_forward_loss(to_float(images[idx]), y, team=team)
        given.train_backward()
    finally:
        team.close()
    assert loss_drawn == loss_given  # the same numbers as nn.data.to_float, each member its own rows
    for a, b in zip(drawn.gradients(), given.gradients()):
        np.testing.assert_array_equal(a, b)


def test_a_staged_batch_run_as_one_phased_job_gives_the_loss_and_gradients_of_the_two_calls() -> None:
    from nn.data import to_float
    from nn.parallel import Team

    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, (300, 784), dtype=np.uint8)
    idx, y = rng.permutation(300)[:64], rng.integers(0, 10, 64)
    phased, two_calls = build(hidden=(32,)), build(hidden=(32,))
    phased.set_batch_source(images)
    team = Team(2)
    try:
        n = phased.stage_batch(y, idx=idx)
        # What the trainer runs: each member's rows forward and back, a barrier, each member's slice of dW.
        results = team.run((lambda k: phased.forward_share(k, 2, n, False, True),
                            lambda k: phased.weight_share(k, 2, n)))
        loss_phased = phased.team_loss(results)
        loss_two = two_calls.train_forward_loss(to_float(images[idx]), y, team=team)
        two_calls.train_backward()
    finally:
        team.close()
    assert loss_phased == loss_two and phased.last_batch_correct == two_calls.last_batch_correct
    for a, b in zip(phased.gradients(), two_calls.gradients()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="either X or idx"):
        phased.stage_batch(y)
    with pytest.raises(ValueError, match="either X or idx"):
        phased.stage_batch(y, X=to_float(images[idx]), idx=idx)


def test_the_batch_source_must_be_uint8_images_of_the_input_size() -> None:
    model = build(hidden=(8,))
    with pytest.raises(ValueError, match="set_batch_source"):
        model.train_forward_loss_from(np.arange(4), np.zeros(4, int))
    for bad in (np.zeros((5, 784), np.float32), np.zeros((5, 28, 28), np.uint8), np.zeros((5, 10), np.uint8)):
        with pytest.raises(ValueError, match="uint8 images of shape"):
            model.set_batch_source(bad)


def test_forward_from_the_batch_source_is_forward_on_the_converted_images() -> None:
    from nn.data import to_float

    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (5000, 784), dtype=np.uint8)
    idx = rng.permutation(5000)[:4500]  # more than one block of rows
    model = build(hidden=(16,))
    model.set_batch_source(images)
    np.testing.assert_array_equal(model.forward_from(idx), model.forward(to_float(images[idx])))
