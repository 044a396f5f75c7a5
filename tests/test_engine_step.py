"""The engine's step (nn/engine/step.py): buffers reused across batch sizes, the batch source, teams' shares.

That its numbers are the textbook's is tests/test_engine_equals_textbook.py; these tests cover its machinery.
"""

from __future__ import annotations

import numpy as np
import pytest

from nn.config import ModelConfig, TrainConfig
from nn.engine.buffers import memory_estimate
from nn.engine.flat_optim import make_flat_optimizer
from nn.engine.step import Engine
from nn.model import MLP, param_count

RNG = np.random.default_rng(0)
X = RNG.random((50, 784), dtype=np.float32)
Y = RNG.integers(0, 10, 50)


def build(seed: int = 0, **kw) -> Engine:
    return Engine(MLP(ModelConfig(**kw), np.random.default_rng(seed)))


def test_same_seed_gives_bit_identical_weights_and_training() -> None:
    def train(seed: int) -> list[np.ndarray]:
        config = TrainConfig(model=ModelConfig(hidden=(20, 10), dropout=0.3))
        model = Engine(MLP(config.model, np.random.default_rng(seed)))
        opt = make_flat_optimizer(config, model.model.parameters())
        drop = np.random.default_rng(seed + 1)
        for _ in range(5):
            model.train_step_gradients(X, Y, drop)
            opt.step(model.gradients())
        return model.model.get_params()

    a, b, c = train(3), train(3), train(4)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0])


def test_train_step_matches_loss_and_gradients_and_counts_correct_predictions() -> None:
    model = build(hidden=(16,))
    loss, gW, gb = model.loss_and_gradients(X, Y)
    assert model.train_step_gradients(X, Y) == loss
    for a, b in zip(gW + gb, model.grad_W + model.grad_b):
        np.testing.assert_array_equal(a, b)
    assert model.last_batch_correct == int((model.model.predict(X) == Y).sum())


def test_alternating_batch_sizes_reuse_buffers_without_mixing_them() -> None:
    model = build(hidden=(16, 8))
    fresh = build(hidden=(16, 8))
    for n in (50, 7, 50, 3, 7, 1, 2, 50):
        assert model.train_step_gradients(X[:n], Y[:n]) == fresh.loss_and_gradients(X[:n], Y[:n])[0]
        np.testing.assert_array_equal(model.grad_W[0], fresh.grad_W[0])


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


def test_a_short_run_learns_a_separable_problem() -> None:
    rng = np.random.default_rng(5)
    Xs = rng.random((512, 20), dtype=np.float32)
    ys = (Xs[:, :10] @ np.arange(10) > 22.5).astype(int)  # a linear rule on ten of the inputs
    config = TrainConfig(model=ModelConfig(hidden=(32,), input_size=20, n_classes=2), lr=3e-3)
    model = Engine(MLP(config.model, np.random.default_rng(0)))
    opt = make_flat_optimizer(config, model.model.parameters())
    first = model.train_step_gradients(Xs, ys)
    for _ in range(200):
        model.train_step_gradients(Xs, ys)
        opt.step(model.gradients())
    assert model.train_step_gradients(Xs, ys) < 0.2 * first
    assert (model.model.predict(Xs) == ys).mean() > 0.95


def test_backward_needs_a_forward_pass_first_and_runs_once_per_forward() -> None:
    model = Engine(MLP(ModelConfig(hidden=(4,), input_size=3, n_classes=2), np.random.default_rng(0)))
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
    total = model.model._params.size
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
    from nn.engine.threads import Team

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
    from nn.engine.threads import Team

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
