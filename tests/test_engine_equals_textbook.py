"""The fast engine (nn/engine/) computes what the textbook (nn/model.py, nn/optim.py, nn/fit.py) computes.

In float64, so that a difference is a bug and not rounding:
* the engine's fused in-place loss equals nn/losses.py's, also for a team member's share of the rows;
* the engine's loss and every gradient equal the textbook's ``backward`` (depths 0-3, every activation,
  with and without dropout: the same masks from the same random stream);
* teams of 1-3 threads, and of 1-3 processes, give the single engine step's numbers;
* every optimizer's fused flat-buffer update, and its slice-by-slice update, equals the textbook's
  per-array rule after 1, 3 and 10 steps;
* a short whole run of the trainer equals the plain loop of nn/fit.py (same seed, same batch order),
  with dropout, augmentation and a schedule.
The finite-difference tests (tests/test_gradients.py) tie the textbook itself to the calculus.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from nn.config import AugmentConfig, ModelConfig, TrainConfig
from nn.engine.flat_optim import FlatOptimizer
from nn.engine.loss import softmax_cross_entropy_counted
from nn.engine.step import Engine
from nn.engine.threads import Team
from nn.fit import fit
from nn.losses import softmax_cross_entropy
from nn.model import MLP
from nn.optim import make_optimizer
from nn.trainer import Trainer

ROOT = Path(__file__).resolve().parents[1]
RTOL = 1e-12
OPTIMIZERS = ["sgd", "momentum", "nesterov", "adam", "adamw"]


def assert_close(a, b, rtol: float = RTOL) -> None:
    """Equal to ``rtol`` relative to the array's scale (entries near 0 compare at the scale of the rest)."""
    a, b = np.asarray(a), np.asarray(b)
    scale = max(float(np.max(np.abs(b))), 1e-300)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * scale)


def model64(hidden, activation="relu", dropout=0.0, input_size=784, seed=0) -> MLP:
    config = ModelConfig(hidden=hidden, activation=activation, dropout=dropout, input_size=input_size,
                         dtype="float64", leaky_slope=0.1)
    model = MLP(config, np.random.default_rng(seed))
    for b in model.biases:  # non-zero biases, so their gradients are generic
        b[...] = np.random.default_rng(seed + 1).normal(size=b.shape) * 0.1
    return model


def batch(n: int = 32, input_size: int = 784, seed: int = 3):
    rng = np.random.default_rng(seed)
    return rng.random((n, input_size)), rng.integers(0, 10, n)


@pytest.mark.parametrize("share", [None, slice(0, 3), slice(3, 7)])
def test_the_fused_in_place_loss_equals_the_textbook_loss(share) -> None:
    rng = np.random.default_rng(5)
    logits, y = rng.normal(size=(7, 10)) * 4, rng.integers(0, 10, 7)
    loss, dZ = softmax_cross_entropy(logits, y)
    rows = slice(None) if share is None else share
    buffer = logits[rows].copy()
    fused, grad, correct = softmax_cross_entropy_counted(buffer, y[rows], out=buffer,
                                                         batch_size=None if share is None else 7)
    assert grad is buffer  # in place: the logits' own buffer holds dL/dz
    assert_close(grad, dZ[rows])
    assert correct == int(np.sum(np.argmax(logits[rows], axis=1) == y[rows]))
    if share is None:
        assert fused == pytest.approx(loss, rel=RTOL)
    else:  # a share's part of the batch's mean: the rows' losses over the whole batch's n
        log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        assert fused == pytest.approx(-log_p[np.arange(7), y][rows].sum() / 7, rel=RTOL)


DEPTHS = [(), (24,), (24, 16), (24, 16, 12)]
ACTIVATIONS = ["relu", "leaky_relu", "sigmoid", "tanh"]
# Dropout needs a hidden layer to drop units of.
NETWORKS = [(h, a, d) for h in DEPTHS for a in ACTIVATIONS for d in ((0.0, 0.3) if h else (0.0,))]


@pytest.mark.parametrize("hidden, activation, dropout", NETWORKS)
def test_engine_loss_and_gradients_equal_the_textbook_backward(hidden, activation, dropout) -> None:
    model = model64(hidden, activation, dropout)
    X, y = batch()
    masks = (lambda: np.random.default_rng(11)) if dropout else (lambda: None)
    loss, dW, db = model.loss_and_gradients(X, y, rng=masks())
    engine_loss, engine_dW, engine_db = Engine(model).loss_and_gradients(X, y, masks())
    assert engine_loss == pytest.approx(loss, rel=RTOL)
    for l, (a, b) in enumerate(zip(engine_dW + engine_db, dW + db)):
        assert_close(a, b)
    if dropout:  # guard: the masks really dropped units, and the same ones
        _, cache = model.forward_cached(X, masks())
        assert 0.15 < np.mean(cache.masks[0] == 0) < 0.45


@pytest.mark.parametrize("size", [1, 2, 3])
def test_a_thread_team_gives_the_single_engine_step(size: int) -> None:
    model, alone = model64((300, 40), "tanh"), model64((300, 40), "tanh")
    X, y = batch(64)
    team = Team(size)
    try:
        shared, single = Engine(model), Engine(alone)
        loss = shared.train_forward_loss(X, y, team=team)
        shared.train_backward()
        assert loss == pytest.approx(single.train_step_gradients(X, y), rel=RTOL)
        for a, b in zip(shared.gradients(), single.gradients()):
            assert_close(a, b)
    finally:
        team.close()


def test_a_process_team_gives_the_single_engine_step_for_sizes_1_to_3() -> None:
    # A fork is safe only from a single-threaded process: run the team in a fresh interpreter.
    script = textwrap.dedent("""
        import json
        import numpy as np
        from nn.config import ModelConfig, TrainConfig
        from nn.engine.buffers import share_parameters
        from nn.engine.flat_optim import make_flat_optimizer
        from nn.engine.processes import ProcessTeam
        from nn.engine.step import Engine
        from nn.model import MLP

        config = TrainConfig(model=ModelConfig(hidden=(300, 40), dtype="float64"), optimizer="adam")
        rng = np.random.default_rng(3)
        images = rng.integers(0, 256, (256, 784), dtype=np.uint8)
        labels = rng.integers(0, 10, 256)
        out = {}
        for size in (1, 2, 3):
            engines = []
            for shared in (True, False):
                model = MLP(config.model, np.random.default_rng(0))
                if shared:
                    share_parameters(model)
                engine = Engine(model, make_flat_optimizer(config, model.parameters()))
                engine.set_batch_source(images)
                engines.append(engine)
            team_engine, single = engines
            team_engine.prepare_shared([64])
            team = ProcessTeam(size, [team_engine.step_phases, team_engine.eval_share])
            losses = []
            try:
                for step in range(3):
                    idx = np.arange(step * 64, step * 64 + 64)
                    y = labels[idx]
                    losses.append((team_engine.train_batch(y, idx=idx, team=team), single.train_batch(y, idx=idx)))
            finally:
                team.close()
            worst = max(float(np.max(np.abs(a - b)) / np.max(np.abs(b)))
                        for a, b in zip(team_engine.model.parameters(), single.model.parameters()))
            out[size] = {"losses": losses, "worst": worst}
        print(json.dumps(out))
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(out) == {"1", "2", "3"}
    for size, found in out.items():
        for team_loss, single_loss in found["losses"]:
            assert team_loss == pytest.approx(single_loss, rel=RTOL), size
        assert found["worst"] < 1e-12, size


def _gradient_stream(model: MLP, steps: int) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(5)
    return [[rng.normal(size=p.shape) for p in model.parameters()] for _ in range(steps)]


@pytest.mark.parametrize("name", OPTIMIZERS)
@pytest.mark.parametrize("steps", [1, 3, 10])
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
@pytest.mark.parametrize("how", ["flat", "slices"])
def test_every_fused_update_equals_the_textbook_rule(name: str, steps: int, weight_decay: float, how: str) -> None:
    config = TrainConfig(optimizer=name, lr=0.01, weight_decay=weight_decay)
    textbook_model, engine_model = model64((20, 10)), model64((20, 10))
    textbook = make_optimizer(config, textbook_model.parameters())
    fused = FlatOptimizer(make_optimizer(config, engine_model.parameters()))
    engine = Engine(engine_model)
    slices = engine.param_slices(3)
    for grads in _gradient_stream(textbook_model, steps):
        textbook.step([g.copy() for g in grads])
        for live, g in zip(engine.gradients(), grads):
            live[...] = g
        if how == "flat":
            fused.step(engine.gradients())
        else:
            fused.begin_step()
            for start, stop in slices:
                fused.update_slice(engine.gradients(), start, stop)
    assert fused.t == textbook.t == steps
    for a, b in zip(engine_model.parameters(), textbook_model.parameters()):
        assert_close(a, b)


@pytest.mark.parametrize("variant", ["plain", "dropout+augment+cosine", "subset+sgd+decay"])
def test_a_short_trainer_run_equals_the_plain_loop(variant: str) -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (700, 784), dtype=np.uint8)
    labels = rng.integers(0, 10, 700)
    config = TrainConfig(model=ModelConfig(hidden=(32, 16), dtype="float64"), epochs=2, batch_size=64,
                         val_size=100, seed=4)
    if variant == "dropout+augment+cosine":
        config = config.replace(model=ModelConfig(hidden=(32, 16), dropout=0.2, dtype="float64"),
                                augment=AugmentConfig(shift=2, rotate=10, noise=0.05), schedule="cosine")
    elif variant == "subset+sgd+decay":
        config = config.replace(optimizer="sgd", lr=0.05, weight_decay=0.01, train_subset=300)
    plain = fit(config, images, labels)
    trainer = Trainer(config, images, labels, threads=1)
    result = trainer.run()
    assert result.epochs_done == len(plain.epochs) == 2
    # The trainer keeps its batch losses in float32 (a chart's data); the epoch means are float64.
    np.testing.assert_allclose(trainer.batch_losses, np.float32(plain.batch_losses), rtol=1e-7)
    for row, epoch in zip(result.history, plain.epochs):
        assert row["train_loss"] == pytest.approx(epoch.train_loss, rel=1e-10)
        assert row["val_loss"] == pytest.approx(epoch.val_loss, rel=1e-10)
        assert row["val_acc"] == epoch.val_acc
    for a, b in zip(trainer.model.parameters(), plain.model.parameters()):
        assert_close(a, b, rtol=1e-10)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_the_fused_state_read_back_is_the_textbook_state(name: str) -> None:
    config = TrainConfig(optimizer=name, lr=0.01, weight_decay=0.01)
    textbook_model, engine_model = model64((20, 10)), model64((20, 10))
    textbook = make_optimizer(config, textbook_model.parameters())
    fused = FlatOptimizer(make_optimizer(config, engine_model.parameters()))
    engine = Engine(engine_model)
    for grads in _gradient_stream(textbook_model, 4):
        textbook.step([g.copy() for g in grads])
        for live, g in zip(engine.gradients(), grads):
            live[...] = g
        fused.step(engine.gradients())
    state = fused.textbook_state()
    assert [sorted(s) for s in state] == [sorted(s) for s in textbook.state]
    for read, kept in zip(state, textbook.state):
        for key in kept:
            assert_close(read[key], kept[key])
