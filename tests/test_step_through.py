"""The Step-through page's numbers (lab/step_through.py, lab/step_update.py) against the textbook model."""

from __future__ import annotations

import numpy as np
import pytest

from lab.step_through import Batch, float64_copy, full_pass, output_step, unit_backward, unit_forward
from lab.step_update import error_by_eps, gradient_check, preview_update, random_checks, take_step
from nn.config import ModelConfig, TrainConfig
from nn.model import MLP
from nn.optim import make_optimizer


def network(hidden=(12, 8), activation="relu", dtype="float32") -> MLP:
    model = MLP(ModelConfig(hidden=hidden, activation=activation, dtype=dtype), np.random.default_rng(0))
    for b in model.biases:
        b[...] = np.random.default_rng(1).normal(size=b.shape) * 0.1
    return model


def digits(n: int = 4) -> Batch:
    rng = np.random.default_rng(2)
    return Batch(rng.random((n, 784)), rng.integers(0, 10, n))


def test_the_copy_is_float64_and_the_learners_model_is_never_touched() -> None:
    model = network()
    before = model.get_params()
    copy = float64_copy(model)
    assert copy.dtype == np.float64 and copy.config.hidden == model.config.hidden
    opt = make_optimizer(TrainConfig(optimizer="adam", lr=0.1), copy.parameters())
    take_step(copy, opt, digits())
    for a, b in zip(model.parameters(), before):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(copy.weights[0], before[0].astype(np.float64))


@pytest.mark.parametrize("layer, unit", [(1, 3), (2, 5), (3, 7)])
def test_the_forward_terms_add_up_to_z_and_h(layer: int, unit: int) -> None:
    model, batch = float64_copy(network(activation="tanh")), digits()
    p = full_pass(model, batch)
    for row in range(2):
        f = unit_forward(model, p, row, layer, unit)
        assert f.total + f.bias == pytest.approx(f.z, rel=1e-12)
        np.testing.assert_allclose(f.products, f.inputs * f.weights)
        trace = model.forward_trace(batch.X)[layer - 1]
        assert f.z == pytest.approx(trace.pre[row, unit], rel=1e-12)
        if layer < model.n_layers:
            assert f.h == pytest.approx(np.tanh(f.z), rel=1e-12) and f.activation == "tanh"
        assert np.all(np.diff(np.abs(f.products[f.top])) <= 0)  # largest terms first


def test_the_output_step_is_softmax_and_the_loss_of_each_digit() -> None:
    model, batch = float64_copy(network()), digits()
    p = full_pass(model, batch)
    probs = model.predict_proba(batch.X)
    losses = [output_step(p, batch, row).loss for row in range(4)]
    for row in range(4):
        out = output_step(p, batch, row)
        np.testing.assert_allclose(out.probs, probs[row], rtol=1e-12)
        np.testing.assert_allclose(out.exps / out.exp_sum, out.probs)
        assert out.loss == pytest.approx(-np.log(probs[row, batch.y[row]]), rel=1e-12)
    assert np.mean(losses) == pytest.approx(p.loss, rel=1e-12)  # the batch's loss is their mean


@pytest.mark.parametrize("layer, unit", [(1, 2), (2, 4), (3, 9)])
def test_the_backward_numbers_are_the_gradients_of_loss_and_gradients(layer: int, unit: int) -> None:
    model, batch = float64_copy(network(activation="sigmoid")), digits()
    p = full_pass(model, batch)
    loss, dW, db = model.loss_and_gradients(batch.X, batch.y)
    assert p.loss == loss
    b = unit_backward(model, p, 1, layer, unit)
    np.testing.assert_allclose(b.dW_column, dW[layer - 1][:, unit], rtol=1e-12)
    assert b.db == pytest.approx(db[layer - 1][unit], rel=1e-12)
    assert b.delta == pytest.approx(b.dH * b.fprime, rel=1e-12)
    # dL/dW_ij = sum over the batch of h_i * delta_j
    column = sum(p.cache.inputs[layer - 1][r] * p.deltas[layer - 1][r, unit] for r in range(4))
    np.testing.assert_allclose(b.dW_column, column, rtol=1e-10)
    if layer == model.n_layers:  # at the output: (p - onehot) / n
        onehot = float(batch.y[1] == unit)
        assert b.delta == pytest.approx((model.predict_proba(batch.X)[1, unit] - onehot) / 4, rel=1e-12)
    else:
        assert b.dH == pytest.approx(b.from_above.sum()) and b.from_above.size == model.weights[layer].shape[1]


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adam", "adamw"])
def test_the_previewed_update_is_the_step_the_optimizer_takes(name: str) -> None:
    model, batch = float64_copy(network()), digits()
    opt = make_optimizer(TrainConfig(optimizer=name, lr=0.05, weight_decay=0.01), model.parameters())
    for _ in range(3):  # some state first: velocities and moments that are not zero
        take_step(model, opt, batch)
    layer, i, j = 2, 4, 6
    grad = full_pass(model, batch).dW[layer - 1][i, j]
    preview = preview_update(opt, model, layer, i, j, grad)
    assert preview.weight == model.weights[layer - 1][i, j] and preview.t == opt.t + 1
    state_before = {k: v.copy() for k, v in opt.state[2].items()}
    take_step(model, opt, batch)
    assert preview.weight_after == pytest.approx(model.weights[layer - 1][i, j], rel=1e-12)
    for key, value in preview.state_after.items():
        assert value == pytest.approx(opt.state[2][key][i, j], rel=1e-12)
        assert preview.state_before[key] == state_before[key][i, j]
    if name.startswith("adam"):
        assert preview.corrected["m_hat"] == pytest.approx(preview.state_after["m"] / (1 - 0.9**opt.t))


def test_ten_steps_walk_the_loss_down_and_each_is_the_optimizers_step() -> None:
    model, batch = float64_copy(network()), digits()
    twin = float64_copy(network())
    opt = make_optimizer(TrainConfig(optimizer="adam", lr=0.01), model.parameters())
    twin_opt = make_optimizer(TrainConfig(optimizer="adam", lr=0.01), twin.parameters())
    results = []
    for _ in range(10):
        results.append(take_step(model, opt, batch))
        _, dW, db = twin.loss_and_gradients(batch.X, batch.y)
        twin_opt.step([g for pair in zip(dW, db) for g in pair])
    for a, b in zip(model.parameters(), twin.parameters()):
        np.testing.assert_array_equal(a, b)
    assert results[-1].loss_after < results[0].loss_before
    assert all(r.loss_after == pytest.approx(n.loss_before) for r, n in zip(results, results[1:]))


def test_the_gradient_check_agrees_for_a_well_conditioned_weight_and_explains_eps() -> None:
    model, batch = float64_copy(network(activation="tanh")), digits()
    check = gradient_check(model, batch, 2, 3, 4)
    assert abs(check.analytic) > 1e-6  # a weight that matters, so agreement means something
    assert check.rel_error < 1e-6
    before = model.get_params()
    eps, errors = error_by_eps(model, batch, 2, 3, 4)
    for a, b in zip(model.parameters(), before):
        np.testing.assert_array_equal(a, b)  # every perturbation was undone
    best = errors[np.argmin(np.abs(np.log10(eps) + 5))]
    assert errors[-1] > 100 * best  # eps = 0.1: truncation error
    assert errors[0] > 100 * best  # eps = 1e-12: rounding error
    checks = random_checks(model, batch, np.random.default_rng(0), count=20)
    assert len(checks) == 20 and {c.layer for c in checks} == {1, 2, 3}  # every layer in turn
    assert all(abs(c.analytic) > 1e-12 for c in checks)  # only weights that matter on these digits
    assert all(c.rel_error < 1e-4 for c in checks)
    with pytest.raises(ValueError, match="eps"):
        gradient_check(model, batch, 1, 0, 0, eps=0.0)


def test_a_step_session_steps_its_copy_with_the_runs_optimizer_and_never_the_model() -> None:
    from lab.step_session import StepSession

    model, batch = network(), digits()
    before = model.get_params()
    session = StepSession.start("v1", model, TrainConfig(optimizer="momentum", lr=0.05))
    assert type(session.optimizer).__name__ == "Momentum" and session.optimizer.lr == 0.05
    for _ in range(3):
        session.step(batch)
    assert len(session.steps) == 3 and session.optimizer.t == 3
    for a, b in zip(model.parameters(), before):
        np.testing.assert_array_equal(a, b)


def test_digit_numbers_are_parsed_or_refused_with_the_reason() -> None:
    from lab.step_session import parse_digits, train_config_for

    assert parse_digits("12, 345 7 12", 10_000) == [12, 345, 7]
    for bad, reason in [("", "type the numbers"), ("a1", "not a test digit"), ("10000", "past the end"),
                        ("1 2 3 4 5 6 7 8 9", "at most 8"), ("-3", "not a test digit"), ("9" * 400, "not a test")]:
        with pytest.raises(ValueError, match=reason):
            parse_digits(bad, 10_000)
    fallback = TrainConfig(optimizer="sgd")
    assert train_config_for({}, fallback) is fallback
    assert train_config_for({"train_config": {"optimizer": "bogus"}}, fallback) is fallback
    assert train_config_for({"train_config": TrainConfig(optimizer="adamw").to_dict()}, fallback).optimizer == "adamw"
