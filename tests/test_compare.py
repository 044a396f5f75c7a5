"""Paired A/B runs: one knob changed, the same batches and augmentation; what the change did on the test set."""

from __future__ import annotations

import numpy as np
import pytest

from figures.compare import confusion_diff_figure, recall_change_figure, unit_pair_figure
from figures.palette import DIGIT_COLORS
from lab.compare import change_text, compare, one_change
from lab.evaluation import evaluate, to_test_data
from nn.config import AugmentConfig, ModelConfig, TrainConfig
from nn.trainer import Trainer
from tests.test_timeline import IMAGES, LABELS, TEST_IMAGES, TEST_LABELS

BASE = TrainConfig(model=ModelConfig(hidden=(32,)), epochs=2, batch_size=50, val_size=100, lr=2e-3, seed=7)


def test_one_change_changes_that_knob_only_and_keeps_the_seed() -> None:
    b = one_change(BASE, "lr", 0.1)
    assert b == BASE.replace(lr=0.1) and b.seed == BASE.seed
    assert change_text(BASE, "lr", 0.1) == "learning rate 0.002 → 0.1"
    assert one_change(BASE, "hidden", (64, 32)).model == BASE.model.__class__(hidden=(64, 32))
    assert change_text(BASE, "hidden", ()) == "hidden layers 32 → none"
    for knob, value, words in (("seed", 3, "cannot be changed"), ("val_size", 10, "cannot be changed"),
                               ("lr", 2e-3, "already 0.002"), ("dropout", 5.0, "dropout")):
        with pytest.raises(ValueError, match=words):
            one_change(BASE, knob, value)
    odd = BASE.replace(model=ModelConfig(hidden=(32, 16), activation=("relu", "tanh")))
    with pytest.raises(ValueError, match="beyond the Train page"):
        one_change(odd, "lr", 0.1)


@pytest.mark.parametrize("config", [
    BASE,
    BASE.replace(model=ModelConfig(hidden=(32,), dropout=0.3), augment=AugmentConfig(shift=2, rotate=10, noise=0.1),
                 optimizer="momentum", lr=0.05),
], ids=["plain", "dropout+augmentation"])
def test_a_pair_that_changes_the_learning_rate_shares_its_batches_and_augmentation(config) -> None:
    a = Trainer(config, IMAGES, LABELS, threads=1)
    b = Trainer(one_change(config, "lr", config.lr * 5), IMAGES, LABELS, threads=1)
    a.run()
    b.run()
    np.testing.assert_array_equal(a.train_idx, b.train_idx)
    np.testing.assert_array_equal(a.val_idx, b.val_idx)
    # the first forward pass sees the same batch, augmented the same way, with the same dropout masks
    assert a.batch_losses[0] == b.batch_losses[0]
    assert a.batch_losses[1] != b.batch_losses[1]  # then the step sizes differ
    # a different seed is not a pair: its first batch differs
    c = Trainer(config.replace(seed=config.seed + 1), IMAGES, LABELS, threads=1)
    c.run()
    assert c.batch_losses[0] != a.batch_losses[0]


def test_the_comparison_counts_what_flipped_and_how_each_digit_changed() -> None:
    test = to_test_data(TEST_IMAGES, TEST_LABELS)
    a = Trainer(BASE.replace(epochs=1, lr=3e-4), IMAGES, LABELS)
    b = Trainer(BASE, IMAGES, LABELS)
    a.run()
    b.run()
    ev_a, ev_b = evaluate(a.model, test), evaluate(b.model, test)
    result = compare(ev_a, ev_b, test.labels)
    np.testing.assert_array_equal(result.confusion_diff, ev_b.confusion - ev_a.confusion)
    right_a, right_b = ev_a.predicted == test.labels, ev_b.predicted == test.labels
    assert set(result.fixed) == set(np.flatnonzero(~right_a & right_b))
    assert set(result.broken) == set(np.flatnonzero(right_a & ~right_b))
    assert np.all(np.diff(ev_b.confidence[result.fixed]) <= 0)  # B's surest first
    assert len(result.fixed) - len(result.broken) == right_b.sum() - right_a.sum()
    digit = 3
    rows = test.labels == digit
    expected = (ev_b.predicted[rows] == digit).mean() - (ev_a.predicted[rows] == digit).mean()
    assert result.recall_change[digit] == pytest.approx(expected)
    assert result.accuracy_b - result.accuracy_a == pytest.approx(right_b.mean() - right_a.mean())


def test_the_comparison_figures() -> None:
    diff = np.zeros((10, 10), np.int64)
    diff[3, 3], diff[3, 5] = 4, -4
    cm = confusion_diff_figure(diff, "Run 1", "Run 2")
    heat = cm.data[0]
    assert heat.zmid == 0 and heat.zmin == -4 and heat.zmax == 4 and heat.colorscale[0][1] == "rgb(103,0,31)"
    assert heat.text[3][3] == "+4" and heat.text[3][5] == "-4" and heat.text[0][0] == "0"
    assert cm.layout.title.text == "Confusion matrix of Run 2 minus Run 1"
    bars = recall_change_figure(np.linspace(-0.02, 0.02, 10)).data[0]
    assert list(bars.marker.color) == list(DIGIT_COLORS) and bars.y[0] == pytest.approx(-2.0)
    rng = np.random.default_rng(0)
    pair = unit_pair_figure(rng.normal(size=784), 3 * rng.normal(size=784), 5)
    assert pair.data[0].zmin == pair.data[1].zmin and pair.data[0].zmax == -pair.data[0].zmin
    with pytest.raises(ValueError):
        confusion_diff_figure(np.zeros((3, 4)))


def test_run_b_proposes_the_next_notch_of_the_changed_setting() -> None:
    from dashboard.compare_view import OPTIONS, _next_index

    lrs = OPTIONS["lr"]
    for current in lrs:
        options = [o for o in lrs if o != current]
        proposed = options[_next_index(lrs, current)]
        position = lrs.index(current)
        assert proposed == (lrs[position + 1] if position + 1 < len(lrs) else lrs[position - 1])
    assert _next_index(lrs, 0.123) == 0  # a value off the ladder: the first option
