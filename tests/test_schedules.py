"""Learning-rate schedules against their closed forms (S = steps per epoch)."""

from __future__ import annotations

import math

import pytest

from nn.config import TrainConfig
from nn.schedules import Schedule, lr_at

S = 10


def config(**kw) -> TrainConfig:
    return TrainConfig(lr=0.1, epochs=4, **kw)


def test_constant_is_the_base_rate_at_steps_0_1_and_3() -> None:
    for step in (0, 1, 3, 39):
        assert lr_at(config(), step, S) == 0.1


def test_step_schedule_multiplies_by_gamma_every_step_size_epochs() -> None:
    sched = Schedule(config(schedule="step", step_size=1, step_gamma=0.5), S)
    # epoch e = step // S, lr = 0.1 * 0.5^e
    assert [sched.lr(s) for s in (0, 9, 10, 25, 30)] == pytest.approx([0.1, 0.1, 0.05, 0.025, 0.0125])
    two = Schedule(config(schedule="step", step_size=2, step_gamma=0.1), S)
    assert [two.lr(s) for s in (0, 19, 20, 39)] == pytest.approx([0.1, 0.1, 0.01, 0.01])


def test_cosine_closed_form_at_steps_0_1_3_and_the_ends() -> None:
    sched = Schedule(config(schedule="cosine", min_lr_fraction=0.1), S)  # T = 40 steps
    for s in (0, 1, 3, 20, 40):
        expected = 0.1 * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * s / 40)))
        assert sched.lr(s) == pytest.approx(expected, rel=1e-12)
    assert sched.lr(0) == pytest.approx(0.1)
    assert sched.lr(20) == pytest.approx(0.1 * 0.55)  # half-way: the mean of start and floor
    assert sched.lr(40) == pytest.approx(0.01)  # ends at lr * min_lr_fraction
    assert sched.lr(1000) == pytest.approx(0.01)  # and stays there


def test_linear_warmup_then_constant() -> None:
    sched = Schedule(config(warmup_epochs=0.3), S)  # W = 3 steps: lr (s + 1) / 3
    assert [sched.lr(s) for s in (0, 1, 2, 3, 10)] == pytest.approx([0.1 / 3, 0.2 / 3, 0.1, 0.1, 0.1])


def test_warmup_composes_with_cosine_which_starts_after_it() -> None:
    sched = Schedule(config(schedule="cosine", warmup_epochs=1), S)  # W = 10, cosine over 30 steps
    assert sched.lr(0) == pytest.approx(0.01)
    assert sched.lr(9) == pytest.approx(0.1)
    assert sched.lr(10) == pytest.approx(0.1)
    assert sched.lr(13) == pytest.approx(0.1 * 0.5 * (1 + math.cos(math.pi * 3 / 30)))
    assert sched.lr(40) == pytest.approx(0.0, abs=1e-15)


def test_warmup_composes_with_step_decay() -> None:
    sched = Schedule(config(schedule="step", step_size=1, step_gamma=0.5, warmup_epochs=2), S)  # W = 20
    assert sched.lr(0) == pytest.approx(0.1 * 1 / 20)
    assert sched.lr(12) == pytest.approx(0.1 * 13 / 20 * 0.5)
    assert sched.lr(30) == pytest.approx(0.1 * 0.125)


def test_rebase_holds_the_new_value_and_scales_the_rest_of_a_cosine() -> None:
    sched = Schedule(config(schedule="cosine"), S)
    before = [sched.lr(s) for s in range(40)]
    sched.rebase(0.5, 12)
    assert sched.lr(12) == pytest.approx(0.5)
    for s in (13, 20, 39):
        assert sched.lr(s) == pytest.approx(0.5 * before[s] / before[12])
    assert [sched.lr(s) for s in range(12)] == before[:12]  # the past is unchanged


def test_rebase_during_warmup_ends_the_warmup() -> None:
    sched = Schedule(config(warmup_epochs=1), S)
    sched.rebase(0.02, 3)
    assert [sched.lr(s) for s in (3, 4, 9, 30)] == pytest.approx([0.02] * 4)
    assert sched.lr(2) == pytest.approx(0.1 * 3 / 10)


def test_rebase_on_a_step_schedule_keeps_the_later_drops() -> None:
    sched = Schedule(config(schedule="step", step_size=1, step_gamma=0.5), S)
    sched.rebase(0.2, 15)  # in epoch 1, where decay = 0.5
    assert sched.lr(15) == pytest.approx(0.2)
    assert sched.lr(20) == pytest.approx(0.1)  # the next drop halves the user's value


def test_rebase_after_a_cosine_reached_zero_holds_the_value() -> None:
    sched = Schedule(config(schedule="cosine"), S)
    sched.rebase(0.003, 45)
    assert sched.lr(45) == 0.003 and sched.lr(60) == 0.003


def test_a_later_rebase_replaces_an_earlier_one_from_its_step() -> None:
    sched = Schedule(config(), S)
    sched.rebase(0.5, 10)
    sched.rebase(0.2, 5)
    assert sched.lr(4) == 0.1 and sched.lr(5) == 0.2 and sched.lr(30) == 0.2


def test_bad_arguments_are_rejected_quoting_the_value() -> None:
    with pytest.raises(ValueError, match="0"):
        Schedule(config(), 0)
    sched = Schedule(config(), S)
    with pytest.raises(ValueError, match="-1"):
        sched.lr(-1)
    with pytest.raises(ValueError, match="inf"):
        sched.rebase(float("inf"), 3)
    with pytest.raises(ValueError, match="-0.5"):
        sched.rebase(-0.5, 3)
    with pytest.raises(ValueError, match="2.5"):
        sched.rebase(0.1, 2.5)
