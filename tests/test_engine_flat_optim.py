"""The engine's fused optimizers (nn/engine/flat_optim.py): one flat buffer, or one slice of it at a time.

The textbook rules are checked against closed forms in tests/test_optim.py and the fused ones against the
textbook in tests/test_engine_equals_textbook.py; these tests check the fast paths against each other
bit for bit (the same fused arithmetic on one buffer, per array, or slice by slice by a team).
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from nn.config import ModelConfig, TrainConfig
from nn.engine.flat_optim import FlatOptimizer, make_flat_optimizer
from nn.engine.step import Engine
from nn.engine.threads import Team
from nn.model import MLP
from nn.optim import SGD


def _assert_same_three_steps(model: MLP, on_model, on_copies, copies: list[np.ndarray], X, y) -> None:
    engine = Engine(model)
    """Three steps of ``on_model`` (over the model's params) and ``on_copies`` (over ``copies``) from the
    same gradients must leave bit-identical parameters."""
    for _ in range(3):
        engine.train_step_gradients(X, y)
        grads = [g.copy() for g in engine.gradients()]
        on_model.step(engine.gradients())
        on_copies.step(grads)
    for a, b in zip(model.parameters(), copies):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adam", "adamw"])
def test_flat_fast_path_is_bit_identical_to_the_per_array_loop(name: str) -> None:
    config = TrainConfig(model=ModelConfig(hidden=(8, 6), input_size=12, n_classes=3), optimizer=name,
                         lr=0.05, weight_decay=0.001)
    model = MLP(config.model, np.random.default_rng(0))
    copies = [p.copy() for p in model.parameters()]  # separate arrays: no shared buffer
    fast, slow = make_flat_optimizer(config, model.parameters()), make_flat_optimizer(config, copies)
    assert len(fast._groups) == 1 and len(slow._groups) == 6  # really two different code paths
    X = np.random.default_rng(1).uniform(0, 1, (10, 12)).astype(np.float32)
    y = np.random.default_rng(2).integers(0, 3, 10)
    _assert_same_three_steps(model, fast, slow, copies, X, y)


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adam", "adamw"])
@pytest.mark.parametrize("threads", [2, 3])
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_slice_by_slice_updates_by_a_team_are_bit_identical_to_step(name: str, threads: int,
                                                                    weight_decay: float) -> None:
    config = TrainConfig(model=ModelConfig(hidden=(400, 6)), optimizer=name, lr=0.01, weight_decay=weight_decay)
    sliced_model, stepped_model, plain_model = (MLP(config.model, np.random.default_rng(0)) for _ in range(3))
    sliced, stepped, plain = (make_flat_optimizer(config, m.parameters()) for m in (sliced_model, stepped_model, plain_model))
    sliced_e, stepped_e, plain_e = (Engine(m) for m in (sliced_model, stepped_model, plain_model))
    rng = np.random.default_rng(1)
    X, y = rng.random((64, 784), dtype=np.float32), rng.integers(0, 10, 64)
    calls: list[tuple[int, int, int]] = []
    lock = threading.Lock()

    def update(start: int, stop: int) -> None:
        with lock:
            calls.append((threading.get_ident(), start, stop))
        sliced.update_slice(sliced_e.gradients(), start, stop)

    team = Team(threads)
    try:
        for step in range(3):
            calls.clear()
            loss = sliced_e.train_forward_loss(X, y, team=team)
            sliced.begin_step()
            team.run(sliced_e.weight_share, team.size, 64, update)  # each member updates its slice
            assert stepped_e.train_forward_loss(X, y, team=team) == loss
            stepped_e.train_backward()  # the same shares of the same products: the same gradients
            stepped.step(stepped_e.gradients())  # then one update of everything
            plain_loss = plain_e.train_forward_loss(X, y)  # one thread, no team
            assert loss == pytest.approx(plain_loss, rel=1e-4)  # products of 32 rows round differently
            plain_e.train_backward()
            plain.step(plain_e.gradients())
            assert len({thread for thread, _, _ in calls}) == threads  # every member updated its own slice
            cuts = sorted((start, stop) for _, start, stop in calls)
            assert cuts[0][0] == 0 and cuts[-1][1] == sliced_model._params.size  # the slices tile the buffer
            assert all(a[1] == b[0] for a, b in zip(cuts, cuts[1:]))
        for a, b in zip(sliced_model.parameters(), stepped_model.parameters()):
            np.testing.assert_array_equal(a, b)  # the same arithmetic, one slice at a time
    finally:
        team.close()


def test_update_slice_needs_one_flat_buffer_and_a_slice_inside_it() -> None:
    model = MLP(ModelConfig(hidden=(4,), input_size=3, n_classes=2), np.random.default_rng(0))
    flat = FlatOptimizer(SGD(model.parameters(), lr=1.0))
    with pytest.raises(ValueError, match=r"\[0, 999\)"):
        flat.update_slice(Engine(model).gradients(), 0, 999)
    separate = FlatOptimizer(SGD([p.copy() for p in model.parameters()], lr=1.0))
    with pytest.raises(ValueError, match="flat buffer"):
        separate.update_slice(Engine(model).gradients(), 0, 4)


def test_gradients_in_another_layout_are_gathered() -> None:
    model = MLP(ModelConfig(hidden=(4,), input_size=3, n_classes=2), np.random.default_rng(0))
    opt = FlatOptimizer(SGD(model.parameters(), lr=1.0))
    before = model.get_params()
    grads = [np.asfortranarray(np.ones_like(p)) for p in model.parameters()]  # separate, strided arrays
    opt.step(grads)
    opt.step([np.ones_like(p) for p in model.parameters()])  # new arrays each step: gathered afresh
    for p, b in zip(model.parameters(), before):
        np.testing.assert_array_equal(p, (b - np.float32(1)) - np.float32(1))


