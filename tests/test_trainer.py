"""The trainer on small synthetic data: controls from another thread, safety nets, determinism."""

from __future__ import annotations

import math
import threading
import time

import numpy as np
import pytest

from nn.config import AugmentConfig, ModelConfig, TrainConfig
from nn.events import BatchEvent, EpochEvent, RunState, StateEvent
from nn.losses import cross_entropy
from nn.model import MLP
from nn.trainer import Trainer


def _digits(n: int = 600, seed: int = 0, noise: float = 60.0) -> tuple[np.ndarray, np.ndarray]:
    """Ten random 'prototype' images plus pixel noise: learnable, MNIST-shaped, uint8."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    prototypes = rng.integers(0, 256, (10, 28, 28))
    images = np.clip(prototypes[labels] + rng.normal(0, noise, (n, 28, 28)), 0, 255).astype(np.uint8)
    images.flags.writeable = False  # as load_mnist hands them out
    return images, labels


IMAGES, LABELS = _digits()
SMALL = TrainConfig(model=ModelConfig(hidden=(16,)), lr=3e-3, epochs=3, batch_size=50, val_size=100, seed=1)


def _wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the trainer")
        time.sleep(0.002)


def _start(trainer: Trainer) -> threading.Thread:
    thread = threading.Thread(target=trainer.run, daemon=True)
    thread.start()
    return thread


def test_a_run_learns_and_reports_everything() -> None:
    events = []
    trainer = Trainer(SMALL, IMAGES, LABELS, callback=events.append)
    result = trainer.run()
    assert result.state == RunState.FINISHED and result.reason == "" and result.epochs_done == 3
    bpe = trainer.batches_per_epoch
    assert bpe == math.ceil(500 / 50)
    assert isinstance(events[0], StateEvent) and events[0].state == RunState.RUNNING
    assert isinstance(events[-1], StateEvent) and events[-1].state == RunState.FINISHED
    batches = [e for e in events if isinstance(e, BatchEvent)]
    epochs = [e for e in events if isinstance(e, EpochEvent)]
    assert [b.step for b in batches] == list(range(1, 3 * bpe + 1))
    assert [e.epoch for e in epochs] == [1, 2, 3]
    last = epochs[-1]
    assert last.val_acc > 0.9 and last.val_loss < epochs[0].val_loss
    assert len(last.weight_norms) == 2 and len(last.grad_norms) == 2 and len(last.dead_fraction) == 1
    assert 0.0 <= last.dead_fraction[0] <= 1.0 and last.samples_per_sec > 0 and last.seconds > 0
    np.testing.assert_allclose(trainer.batch_losses, [b.loss for b in batches], rtol=1e-6)
    history = trainer.history()
    assert list(history["epoch"]) == [1, 2, 3]
    assert {"train_loss", "val_acc", "lr", "weight_norm_1", "grad_norm_2", "dead_fraction_1"} <= set(history.columns)
    assert result.history == history.to_dict("records")
    assert trainer.state == RunState.FINISHED
    with pytest.raises(RuntimeError, match="already run"):
        trainer.run()


def test_without_layer_statistics_a_run_learns_the_same_and_leaves_them_out() -> None:
    with_stats = Trainer(SMALL, IMAGES, LABELS)
    without = Trainer(SMALL, IMAGES, LABELS, layer_statistics=False)
    assert list(without.history().columns) == ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr",
                                               "seconds", "samples_per_sec"]  # before the first epoch too
    with_stats.run()
    without.run()
    last = without.epoch_events[-1]
    assert last.weight_norms == last.grad_norms == last.dead_fraction == last.weight_quantiles == ()
    assert with_stats.epoch_events[-1].dead_fraction != ()
    timing = ["seconds", "samples_per_sec"]
    full = with_stats.history()
    assert without.history().drop(columns=timing).equals(full[without.history().columns].drop(columns=timing))
    for a, b in zip(with_stats.model.parameters(), without.model.parameters()):
        np.testing.assert_array_equal(a, b)  # statistics only look: the run is the same


def test_validation_numbers_match_an_independent_computation() -> None:
    trainer = Trainer(SMALL, IMAGES, LABELS)
    trainer.run()
    X = IMAGES[trainer.val_idx].reshape(-1, 784).astype(np.float32) / 255
    y = LABELS[trainer.val_idx]
    logits = trainer.model.forward(X)
    last = trainer.epoch_events[-1]
    assert last.val_loss == pytest.approx(cross_entropy(logits, y), rel=1e-5)
    assert last.val_acc == pytest.approx(np.mean(logits.argmax(axis=1) == y))


def test_events_generator_is_the_same_run() -> None:
    seen = []
    trainer = Trainer(SMALL, IMAGES, LABELS, callback=seen.append)
    yielded = list(trainer.events())
    assert yielded == seen and trainer.result is not None and trainer.result.state == RunState.FINISHED


def test_same_seed_bit_identical_different_seed_differs() -> None:
    cfg = SMALL.replace(model=ModelConfig(hidden=(16, 8), dropout=0.2), augment=AugmentConfig(shift=1, rotate=5, noise=0.05),
                        schedule="cosine", warmup_epochs=0.5, train_subset=200, epochs=2)
    a, b = Trainer(cfg, IMAGES, LABELS), Trainer(cfg, IMAGES, LABELS)
    a.run()
    b.run()
    for wa, wb in zip(a.model.parameters(), b.model.parameters()):
        np.testing.assert_array_equal(wa, wb)
    timing = ["seconds", "samples_per_sec"]
    ha, hb = a.history().drop(columns=timing), b.history().drop(columns=timing)
    assert ha.equals(hb)
    np.testing.assert_array_equal(a.batch_losses, b.batch_losses)
    c = Trainer(cfg.replace(seed=2), IMAGES, LABELS)
    c.run()
    assert not np.array_equal(a.model.weights[0], c.model.weights[0])


def test_pause_step_batch_step_epoch_set_lr_resume_from_another_thread() -> None:
    cfg = SMALL.replace(epochs=2)
    events = []
    trainer = Trainer(cfg, IMAGES, LABELS, callback=events.append)
    bpe = trainer.batches_per_epoch
    trainer.pause()  # before the run: it starts paused
    thread = _start(trainer)
    _wait_for(lambda: trainer.state == RunState.PAUSED)
    time.sleep(0.05)
    assert trainer.step == 0

    trainer.step_batch()
    _wait_for(lambda: trainer.step == 1 and trainer.state == RunState.PAUSED)
    trainer.step_batch()
    _wait_for(lambda: trainer.step == 2 and trainer.state == RunState.PAUSED)
    time.sleep(0.05)
    assert trainer.step == 2  # still paused: nothing more ran

    trainer.step_epoch()  # finishes the current epoch, then pauses
    _wait_for(lambda: len(trainer.epoch_events) == 1 and trainer.state == RunState.PAUSED)
    assert trainer.step == bpe

    trainer.set_lr(0.0123)
    trainer.step_batch()
    _wait_for(lambda: trainer.step == bpe + 1 and trainer.state == RunState.PAUSED)
    batches = [e for e in events if isinstance(e, BatchEvent)]
    assert batches[-1].lr == pytest.approx(0.0123) and batches[-2].lr == pytest.approx(cfg.lr)
    assert [(c.step, c.epoch, c.lr) for c in trainer.lr_changes] == [(bpe, 2, 0.0123)]

    trainer.resume()
    thread.join(20)
    assert not thread.is_alive()
    assert trainer.state == RunState.FINISHED and trainer.step == 2 * bpe
    assert all(e.lr == pytest.approx(0.0123) for e in events if isinstance(e, BatchEvent) and e.step > bpe)
    states = [e.state for e in events if isinstance(e, StateEvent)]
    assert states[0] == RunState.PAUSED and states[-1] == RunState.FINISHED
    assert states.count(RunState.PAUSED) == 5  # start, after 2 single batches, after the epoch, after 1 batch


def test_pause_while_running_then_resume() -> None:
    trainer = Trainer(SMALL.replace(epochs=40), IMAGES, LABELS)
    thread = _start(trainer)
    _wait_for(lambda: trainer.step >= 3)
    trainer.pause()
    _wait_for(lambda: trainer.state == RunState.PAUSED)
    paused_at = trainer.step
    time.sleep(0.1)
    assert trainer.step == paused_at
    trainer.resume()
    _wait_for(lambda: trainer.step > paused_at)
    trainer.stop()
    thread.join(20)
    assert trainer.state == RunState.STOPPED


def test_stop_takes_effect_within_one_batch() -> None:
    reached = threading.Event()
    release = threading.Event()

    def callback(event) -> None:
        if isinstance(event, BatchEvent) and event.step == 5:
            reached.set()
            release.wait(10)  # hold the training thread mid-run while the other thread says stop

    trainer = Trainer(SMALL.replace(epochs=20), IMAGES, LABELS, callback=callback)
    thread = _start(trainer)
    assert reached.wait(20)
    trainer.stop()
    release.set()
    thread.join(20)
    assert trainer.state == RunState.STOPPED and trainer.step == 5
    assert "Stopped" in trainer.reason and trainer.result.steps == 5
    assert len(trainer.batch_losses) == 5


def test_stop_while_paused_and_before_start() -> None:
    trainer = Trainer(SMALL, IMAGES, LABELS)
    trainer.pause()
    thread = _start(trainer)
    _wait_for(lambda: trainer.state == RunState.PAUSED)
    trainer.stop()
    thread.join(20)
    assert trainer.state == RunState.STOPPED and trainer.step == 0

    early = Trainer(SMALL, IMAGES, LABELS)
    early.stop()
    assert early.run().state == RunState.STOPPED and early.step == 0


def test_set_lr_rebases_the_schedule() -> None:
    cfg = SMALL.replace(schedule="cosine", epochs=4)
    lrs = []
    trainer = Trainer(cfg, IMAGES, LABELS, callback=lambda e: lrs.append(e.lr) if isinstance(e, BatchEvent) else None)
    bpe = trainer.batches_per_epoch
    trainer.pause()
    thread = _start(trainer)
    trainer.step_epoch()
    _wait_for(lambda: trainer.step == bpe and trainer.state == RunState.PAUSED)
    trainer.set_lr(0.01)
    trainer.resume()
    thread.join(20)
    assert lrs[bpe] == pytest.approx(0.01)  # the first step after the change uses it exactly
    after = np.array(lrs[bpe:])
    assert np.all(np.diff(after) <= 1e-12) and after[-1] < 0.01 / 10  # then the cosine carries on down
    assert trainer.history()["lr"].iloc[-1] == pytest.approx(lrs[-1])
    with pytest.raises(ValueError, match="-1"):
        trainer.set_lr(-1)


def test_divergence_stops_with_reason_and_last_good_weights() -> None:
    cfg = SMALL.replace(optimizer="sgd", lr=50.0, epochs=5)
    trainer = Trainer(cfg, IMAGES, LABELS)
    initial = [p.copy() for p in trainer.model.parameters()]
    result = trainer.run()
    assert result.state == RunState.DIVERGED
    assert "learning rate 50" in result.reason and "Lower the learning rate" in result.reason
    assert result.epochs_done < 5
    assert trainer.model.all_finite()
    # It blew up within the first checkpoint interval, so the last good weights are the initial ones.
    assert trainer.step < 50
    for p, q in zip(trainer.model.parameters(), initial):
        np.testing.assert_array_equal(p, q)
    assert trainer.model.predict(IMAGES[:5].reshape(5, 784) / 255.0).shape == (5,)


def test_nan_weights_are_refused_up_front() -> None:
    model = MLP(SMALL.model, np.random.default_rng(0))
    model.weights[0][0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        Trainer(SMALL, IMAGES, LABELS, model=model)


def test_early_stopping_restores_the_best_weights() -> None:
    # Random labels on few examples: the network memorises, and validation loss soon climbs.
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 10, len(IMAGES)).astype(np.uint8)
    cfg = SMALL.replace(model=ModelConfig(hidden=(64,)), epochs=60, early_stopping_patience=2, lr=0.01,
                        train_subset=100, batch_size=25)
    trainer = Trainer(cfg, IMAGES, labels)
    result = trainer.run()
    assert result.state == RunState.EARLY_STOPPED and "restored" in result.reason
    history = trainer.history()
    best = int(history["val_loss"].idxmin()) + 1
    assert result.best_epoch == best and len(history) == best + 2
    X = IMAGES[trainer.val_idx].reshape(-1, 784) / np.float32(255)
    val_loss = cross_entropy(trainer.model.forward(X.astype(np.float32)), labels[trainer.val_idx])
    assert val_loss == pytest.approx(history["val_loss"].min(), rel=1e-5)


def test_snapshots_stay_within_budget() -> None:
    w_bytes = 784 * 16 * 4
    cfg = SMALL.replace(epochs=10, snapshot_budget_bytes=int(3.5 * w_bytes), train_subset=100)
    trainer = Trainer(cfg, IMAGES, LABELS)
    trainer.run()
    snaps = trainer.snapshots
    epochs = [e for e, _ in snaps]
    assert sum(w.nbytes for _, w in snaps) <= cfg.snapshot_budget_bytes
    assert epochs[0] == 0 and epochs[-1] == 10 and epochs == sorted(epochs)
    stride = epochs[1]
    assert len(snaps) == 3 and epochs[:-1] == [0, stride]  # evenly thinned; the final epoch kept
    np.testing.assert_array_equal(snaps[-1][1], trainer.model.weights[0])
    assert not np.shares_memory(snaps[-1][1], trainer.model.weights[0])  # copies, not live views
    assert not np.array_equal(snaps[0][1], snaps[-1][1])

    unlimited = Trainer(SMALL.replace(epochs=4, train_subset=100), IMAGES, LABELS)
    unlimited.run()
    assert [e for e, _ in unlimited.snapshots] == [0, 1, 2, 3, 4]
    none = Trainer(SMALL.replace(snapshot_budget_bytes=0, train_subset=100), IMAGES, LABELS)
    none.run()
    assert none.snapshots == []


def test_split_subset_and_no_validation() -> None:
    trainer = Trainer(SMALL.replace(train_subset=123), IMAGES, LABELS)
    assert trainer.train_idx.size == 123 and trainer.val_idx.size == 100
    assert not set(trainer.train_idx) & set(trainer.val_idx)
    assert trainer.batches_per_epoch == 3  # 50 + 50 + 23: the last, smaller batch is kept

    no_val = Trainer(SMALL.replace(epochs=1), IMAGES, LABELS, train_idx=np.arange(200))
    result = no_val.run()
    assert result.state == RunState.FINISHED and math.isnan(no_val.epoch_events[0].val_loss)
    flat = Trainer(SMALL.replace(epochs=1), IMAGES.reshape(-1, 784), LABELS, val_idx=np.arange(50))
    assert flat.train_idx.size == len(IMAGES) - 50
    assert np.shares_memory(flat._images, IMAGES)  # the images are never copied


@pytest.mark.parametrize(
    "images, labels, kwargs, match",
    [
        (IMAGES.astype(np.float32), LABELS, {}, "uint8"),
        (IMAGES, LABELS[:-1], {}, "labels"),
        (IMAGES, LABELS, {"train_idx": np.array([0, 10_000])}, "10000"),
        (IMAGES, LABELS, {"train_idx": np.array([], dtype=int)}, "no training examples"),
    ],
)
def test_bad_inputs_raise_clear_errors(images, labels, kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        Trainer(SMALL, images, labels, **kwargs)


def test_early_stopping_needs_validation() -> None:
    with pytest.raises(ValueError, match="validation"):
        Trainer(SMALL.replace(early_stopping_patience=2), IMAGES, LABELS, train_idx=np.arange(100))


def test_a_paused_run_takes_a_step_on_a_learners_digits_with_its_own_optimizer() -> None:
    from nn.data import to_float
    from nn.optim import make_optimizer

    config = SMALL.replace(model=ModelConfig(hidden=(16,), dtype="float64"), optimizer="adam")
    trainer = Trainer(config, IMAGES, LABELS, threads=1)
    X, y = to_float(IMAGES[:4]).astype(np.float64), LABELS[:4].astype(np.int64)
    with pytest.raises(ValueError, match="paused run"):
        trainer.train_on(X, y)  # not paused (not even started)
    trainer.pause()
    thread = _start(trainer)
    trainer.step_batch()
    _wait_for(lambda: trainer.step == 1 and trainer.state == RunState.PAUSED)
    # What the step should be: the textbook optimizer continuing the run's own state, on these digits.
    twin = MLP(config.model, np.random.default_rng(0))
    twin.set_params(trainer.model.get_params())
    t, state = trainer.optimizer_state()
    assert t == 1 and set(state[0]) == {"m", "v"}
    rule = make_optimizer(config, twin.parameters())
    rule.t, rule.state = t, state
    expected_loss, dW, db = twin.loss_and_gradients(X, y)
    rule.step([g for pair in zip(dW, db) for g in pair])
    loss = trainer.train_on(X, y)
    assert loss == pytest.approx(expected_loss, rel=1e-12)
    for a, b in zip(trainer.model.parameters(), twin.parameters()):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-15)
    assert trainer.optimizer_state()[0] == 2
    trainer.resume()
    thread.join(timeout=30)
    assert trainer.result.state == RunState.FINISHED  # the run carried on from the learner's step


def test_the_divergence_reason_gives_the_rate_to_three_digits() -> None:
    """adam at lr 1 with a cosine schedule explodes at batch 2, where the rate is 0.999999: say 1."""
    from nn.trainer.guard import DivergenceGuard

    guard = DivergenceGuard(MLP(SMALL.model, np.random.default_rng(0)), "adam")
    reason = guard.restore("The loss exploded to 7.49e+05", 0.9999990463)
    assert "(learning rate 1)" in reason and "try 0.001 for Adam" in reason
    assert "(learning rate 0.00123)" in guard.restore("The loss became NaN", 0.0012345)
