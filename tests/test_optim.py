"""Each optimizer against closed-form values after 1 and 3 steps.

With a constant gradient g every rule has a closed form:

    SGD        p_t = p_0 - t lr g
    Momentum   v_t = -lr g (1 + mu + ... + mu^(t-1));   p_t = p_0 + v_1 + ... + v_t
    Nesterov   p_t = p_{t-1} + mu v_t - lr g
    Adam       m_t = (1 - b1^t) g, v_t = (1 - b2^t) g^2, so m_hat = g and v_hat = g^2:
               every step moves lr g / (|g| + eps), whatever t is
    L2 (SGD)   p_t = a p_{t-1} - lr g with a = 1 - lr wd,  so p_t = a^t p_0 - lr g (1 + a + ... + a^(t-1))
    AdamW      p_t = a p_{t-1} - lr g / (|g| + eps)
"""

from __future__ import annotations

import numpy as np
import pytest

from nn.config import ModelConfig, TrainConfig
from nn.model import MLP
from nn.optim import SGD, Adam, AdamW, Momentum, Nesterov, Optimizer, make_optimizer

LR, MU, B1, B2, EPS, WD = 0.1, 0.9, 0.9, 0.999, 1e-8, 0.01
G_W = np.array([[0.5, -1.0], [2.0, 0.25]])
G_B = np.array([0.3, -0.2])
P_W = np.array([[1.0, -2.0], [0.5, 3.0]])
P_B = np.array([0.7, -0.4])


def run(optimizer_cls, steps: int, **kwargs) -> tuple[np.ndarray, np.ndarray]:
    W, b = P_W.copy(), P_B.copy()
    opt = optimizer_cls([W, b], lr=LR, **kwargs)
    for _ in range(steps):
        opt.step([G_W.copy(), G_B.copy()])
    return W, b


@pytest.mark.parametrize("t", [1, 3])
def test_sgd_closed_form(t: int) -> None:
    W, b = run(SGD, t)
    np.testing.assert_allclose(W, P_W - t * LR * G_W, rtol=1e-14)
    np.testing.assert_allclose(b, P_B - t * LR * G_B, rtol=1e-14)


@pytest.mark.parametrize("t", [1, 3])
def test_momentum_closed_form(t: int) -> None:
    W, _ = run(Momentum, t, momentum=MU)
    velocities = [-LR * G_W * sum(MU**k for k in range(s)) for s in range(1, t + 1)]
    np.testing.assert_allclose(W, P_W + sum(velocities), rtol=1e-14)
    if t == 3:  # written out: p_3 = p_0 - lr g (3 + 2 mu + mu^2)
        np.testing.assert_allclose(W, P_W - LR * G_W * (3 + 2 * MU + MU**2), rtol=1e-14)


@pytest.mark.parametrize("t", [1, 3])
def test_nesterov_closed_form(t: int) -> None:
    W, _ = run(Nesterov, t, momentum=MU)
    # v_s = -lr g (1 + ... + mu^(s-1)); each step adds mu v_s - lr g
    expected = P_W - LR * G_W * sum(1 + MU * sum(MU**k for k in range(s)) for s in range(1, t + 1))
    np.testing.assert_allclose(W, expected, rtol=1e-14)
    if t == 1:  # one look-ahead step moves lr g (1 + mu)
        np.testing.assert_allclose(W, P_W - LR * G_W * (1 + MU), rtol=1e-14)


@pytest.mark.parametrize("t", [1, 3])
def test_adam_closed_form(t: int) -> None:
    W, b = run(Adam, t, beta1=B1, beta2=B2, eps=EPS)
    np.testing.assert_allclose(W, P_W - t * LR * G_W / (np.abs(G_W) + EPS), rtol=1e-12)
    np.testing.assert_allclose(b, P_B - t * LR * G_B / (np.abs(G_B) + EPS), rtol=1e-12)


def test_adam_with_changing_gradients_matches_the_paper_algorithm() -> None:
    grads = [np.array([1.0, -2.0]), np.array([-0.5, 0.1]), np.array([3.0, 0.0])]
    p = np.array([0.2, 0.7])
    opt = Adam([p], lr=LR, beta1=B1, beta2=B2, eps=EPS)
    ref, m, v = np.array([0.2, 0.7]), np.zeros(2), np.zeros(2)
    for t, g in enumerate(grads, start=1):  # Algorithm 1 of Kingma & Ba, literally
        m = B1 * m + (1 - B1) * g
        v = B2 * v + (1 - B2) * g * g
        ref = ref - LR * (m / (1 - B1**t)) / (np.sqrt(v / (1 - B2**t)) + EPS)
        opt.step([g.copy()])
        np.testing.assert_allclose(p, ref, rtol=1e-12)


@pytest.mark.parametrize("t", [1, 3])
def test_sgd_l2_weight_decay_closed_form_and_biases_untouched(t: int) -> None:
    W, b = run(SGD, t, weight_decay=WD)
    a = 1 - LR * WD
    np.testing.assert_allclose(W, a**t * P_W - LR * G_W * sum(a**k for k in range(t)), rtol=1e-14)
    np.testing.assert_allclose(b, P_B - t * LR * G_B, rtol=1e-14)  # no decay on biases


def test_adam_l2_decay_is_added_to_the_gradient() -> None:
    W, b = run(Adam, 1, weight_decay=WD)
    g = G_W + WD * P_W
    np.testing.assert_allclose(W, P_W - LR * g / (np.abs(g) + EPS), rtol=1e-12)
    np.testing.assert_allclose(b, P_B - LR * G_B / (np.abs(G_B) + EPS), rtol=1e-12)


@pytest.mark.parametrize("t", [1, 3])
def test_adamw_decoupled_decay_closed_form(t: int) -> None:
    W, b = run(AdamW, t, weight_decay=WD)
    a, step = 1 - LR * WD, LR * G_W / (np.abs(G_W) + EPS)
    np.testing.assert_allclose(W, a**t * P_W - step * sum(a**k for k in range(t)), rtol=1e-12)
    np.testing.assert_allclose(b, P_B - t * LR * G_B / (np.abs(G_B) + EPS), rtol=1e-12)


def test_learning_rate_can_change_between_steps() -> None:
    p = np.array([1.0])
    opt = SGD([p], lr=0.1)
    opt.step([np.array([1.0])])
    opt.lr = 0.01
    opt.step([np.array([1.0])])
    assert p[0] == pytest.approx(1.0 - 0.1 - 0.01)
    with pytest.raises(ValueError, match="-1"):
        opt.lr = -1.0
    with pytest.raises(ValueError, match="nan"):
        opt.lr = float("nan")


def test_updates_are_in_place_into_the_callers_arrays() -> None:
    model = MLP(ModelConfig(hidden=(4,), input_size=3, n_classes=2), np.random.default_rng(0))
    held = model.weights[0]
    before = held.copy()
    opt = make_optimizer(TrainConfig(model=model.config), model.parameters())
    _, dW, db = model.loss_and_gradients(np.ones((2, 3), np.float32), np.array([0, 1]))
    opt.step([dW[0], db[0], dW[1], db[1]])
    assert held is model.weights[0] and not np.array_equal(held, before)


def test_make_optimizer_builds_the_named_rule_with_the_config_values() -> None:
    params = [np.zeros((2, 2)), np.zeros(2)]
    kinds = {"sgd": SGD, "momentum": Momentum, "nesterov": Nesterov, "adam": Adam, "adamw": AdamW}
    for name, cls in kinds.items():
        config = TrainConfig(optimizer=name, lr=0.02, momentum=0.8, beta1=0.85, beta2=0.99, eps=1e-7,
                             weight_decay=0.003)
        opt = make_optimizer(config, params)
        assert type(opt) is cls and opt.lr == 0.02 and opt.weight_decay == 0.003
        if name in ("momentum", "nesterov"):
            assert opt.momentum == 0.8
        if name.startswith("adam"):
            assert (opt.beta1, opt.beta2, opt.eps) == (0.85, 0.99, 1e-7)


def test_bad_hyperparameters_are_rejected_quoting_the_value() -> None:
    params = [np.zeros((2, 2))]
    with pytest.raises(ValueError, match="1.5"):
        Momentum(params, lr=0.1, momentum=1.5)
    with pytest.raises(ValueError, match="-0.1"):
        Adam(params, lr=0.1, beta1=-0.1)
    with pytest.raises(ValueError, match="0.0"):
        Adam(params, lr=0.1, eps=0.0)
    with pytest.raises(ValueError, match="2.0"):
        SGD(params, lr=0.1, weight_decay=2.0)
    with pytest.raises(ValueError, match="int"):
        SGD([np.zeros(3, int)], lr=0.1)
    with pytest.raises(ValueError, match=r"\(3,\)"):
        SGD(params, lr=0.1).step([np.zeros(3)])


def test_reset_state_forgets_the_velocity() -> None:
    p = np.array([0.0])
    opt = Momentum([p], lr=1.0, momentum=0.5)
    opt.step([np.array([1.0])])
    opt.reset_state()
    opt.step([np.array([0.0])])  # no velocity left: zero gradient, no move
    assert p[0] == -1.0 and opt.t == 1


def test_base_class_leaves_the_rule_to_subclasses() -> None:
    with pytest.raises(NotImplementedError):
        Optimizer([np.zeros(2)], lr=0.1).step([np.ones(2)])
