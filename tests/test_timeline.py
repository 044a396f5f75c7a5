"""One timeline: whole-network checkpoints at the documented points, within the budget, and rewinding exactly.

Rewinding to a checkpoint is checked against a run of the same config and seed stopped at that point:
the rebuilt network holds bit-identical weights, so every metric of the Evaluate page is identical too.
"""

from __future__ import annotations

import numpy as np
import pytest

from lab.evaluation import evaluate, to_test_data
from lab.timeline import describe, label, model_at, nearest, parse_position, url_value
from nn.config import ModelConfig, TrainConfig
from nn.events import BatchEvent, EpochEvent, RunState
from nn.model import param_count
from nn.trainer import Trainer
from nn.trainer.telemetry import INNER_MIN_COPIES, Checkpoint, inner_batches


def _digits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Ten random prototypes plus noise: learnable, MNIST-shaped uint8."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    prototypes = rng.integers(0, 256, (10, 28, 28))
    images = np.clip(prototypes[labels] + rng.normal(0, 70, (n, 28, 28)), 0, 255).astype(np.uint8)
    return images, labels


IMAGES, LABELS = _digits(900, 0)
TEST_IMAGES, TEST_LABELS = _digits(300, 1)
TEST = to_test_data(TEST_IMAGES, TEST_LABELS)
CONFIG = TrainConfig(model=ModelConfig(hidden=(24, 12)), lr=3e-3, epochs=4, batch_size=50, val_size=100,
                     schedule="cosine", seed=3)
COPY = param_count(CONFIG.model) * 4  # bytes of one float32 checkpoint
BPE = 16  # 800 training images in batches of 50


def _run(config: TrainConfig = CONFIG, stop_at_step: int | None = None, stop_after_epoch: int | None = None):
    trainer: Trainer

    def callback(event) -> None:
        if isinstance(event, BatchEvent) and event.step == stop_at_step:
            trainer.stop()
        if isinstance(event, EpochEvent) and event.epoch == stop_after_epoch:
            trainer.stop()

    trainer = Trainer(config, IMAGES, LABELS, callback=callback, threads=1)
    trainer.run()
    return trainer


@pytest.fixture(scope="module")
def full():
    return _run()


def test_checkpoints_at_the_start_inside_epoch_one_and_every_epoch_end(full) -> None:
    assert inner_batches(BPE) == {1, 2, 4, 8}
    assert inner_batches(430) == {27, 54, 108, 215}  # the default preset: 1/16, 1/8, 1/4, 1/2 of epoch 1
    steps = [c.step for c in full.timeline]
    kinds = [c.kind for c in full.timeline]
    assert steps == [0, 1, 2, 4, 8, 16, 32, 48, 64]
    assert kinds == ["start"] + ["inside"] * 4 + ["epoch"] * 4
    assert [c.position for c in full.timeline] == [0, 1 / 16, 1 / 8, 1 / 4, 1 / 2, 1, 2, 3, 4]
    last = full.timeline[-1]
    np.testing.assert_array_equal(last.params, np.concatenate([p.ravel() for p in full.model.parameters()]))
    assert not last.params.flags.writeable  # shared by every page that rewinds to it
    assert full.snapshots and [e for e, _ in full.snapshots] == [0, 1, 2, 3, 4]  # W_1's API as before


@pytest.mark.parametrize("stop", [{"stop_at_step": 4}, {"stop_at_step": 8}, {"stop_after_epoch": 1},
                                  {"stop_after_epoch": 3}])
def test_rewinding_gives_exactly_the_model_and_metrics_of_a_run_stopped_there(full, stop) -> None:
    stopped = _run(**stop)
    assert stopped.state == RunState.STOPPED
    step = stop.get("stop_at_step") or stop["stop_after_epoch"] * BPE
    checkpoint = next(c for c in full.timeline if c.step == step)
    rewound = model_at(CONFIG.model, checkpoint)
    for a, b in zip(rewound.parameters(), stopped.model.parameters()):
        np.testing.assert_array_equal(a, b)
    at, there = evaluate(rewound, TEST), evaluate(stopped.model, TEST)
    assert at.accuracy == there.accuracy and at.loss == there.loss
    np.testing.assert_array_equal(at.confusion, there.confusion)
    np.testing.assert_array_equal(at.proba, there.proba)
    assert at.mistakes["index"].tolist() == there.mistakes["index"].tolist()
    # and the stopped run's own timeline ends where it stopped
    assert stopped.timeline[-1].step == step


def test_the_history_row_of_an_epoch_is_the_rewound_models_validation_accuracy(full) -> None:
    val = to_test_data(IMAGES[full.val_idx], LABELS[full.val_idx])
    for checkpoint, row in zip([c for c in full.timeline if c.kind == "epoch"], full.history().itertuples()):
        assert evaluate(model_at(CONFIG.model, checkpoint), val).accuracy == row.val_acc


def test_the_timeline_stays_within_its_budget_thinning_epoch_ends_on_a_doubling_stride() -> None:
    config = CONFIG.replace(epochs=12, snapshot_budget_bytes=10 * COPY)
    trainer = _run(config)
    timeline = trainer.timeline
    assert sum(c.nbytes for c in timeline) <= config.snapshot_budget_bytes
    epoch_ends = [round(c.position) for c in timeline if c.kind == "epoch"]
    # start + 4 inner points stay; epoch ends thinned to a stride of 2, then 4: 4, 8, 12
    assert [c.kind for c in timeline[:5]] == ["start"] + ["inside"] * 4
    assert epoch_ends == [4, 8, 12]
    assert timeline[-1].step == 12 * BPE


def test_a_small_budget_drops_the_inner_points_and_keeps_the_end() -> None:
    config = CONFIG.replace(epochs=6, snapshot_budget_bytes=(INNER_MIN_COPIES - 1) * COPY)
    timeline = _run(config).timeline
    assert "inside" not in {c.kind for c in timeline}
    assert sum(c.nbytes for c in timeline) <= config.snapshot_budget_bytes and timeline[-1].step == 6 * BPE
    assert _run(CONFIG.replace(snapshot_budget_bytes=COPY - 1)).timeline == []


def test_the_end_of_an_early_stopped_run_is_its_restored_best_weights() -> None:
    # a learning rate that overfits quickly on 800 noisy images, and a patience of 1
    config = CONFIG.replace(epochs=30, lr=3e-2, schedule="constant", early_stopping_patience=1)
    trainer = _run(config)
    assert trainer.state == RunState.EARLY_STOPPED
    end = trainer.timeline[-1]
    assert end.kind == "end"
    for a, b in zip(model_at(config.model, end).parameters(), trainer.model.parameters()):
        np.testing.assert_array_equal(a, b)


def test_names_and_url_values() -> None:
    def cp(step: int, kind: str) -> Checkpoint:
        return Checkpoint(step=step, batches_per_epoch=430, kind=kind, params=np.zeros(1, np.float32))

    assert label(cp(0, "start")) == "start"
    assert label(cp(27, "inside")) == "epoch 1 · batch 27/430"
    assert label(cp(1290, "epoch")) == "epoch 3"
    assert label(cp(1302, "end")) == "end (epoch 4 · batch 12/430)"
    assert describe(cp(1290, "epoch"), 8, live=True) == "epoch 3 of 8 (live)"
    assert describe(cp(27, "inside"), 8) == "epoch 1 of 8, after batch 27 of 430"
    assert url_value(cp(1290, "epoch")) == "3" and url_value(cp(27, "inside")) == "0.0628"
    points = [cp(s, "epoch") for s in (0, 27, 430, 860)]
    assert nearest(points, parse_position("0.0628")) == 1 and nearest(points, parse_position("1.6")) == 3
    assert nearest(points, 1e9) == 3


@pytest.mark.parametrize("text", ["", "nan", "inf", "-1", "1e400", "x" * 17, "3; drop", None, "0x10"])
def test_a_hostile_url_position_is_refused(text) -> None:
    assert parse_position(text) is None
