"""Background training runs: the server-wide limit, controls from another thread, model copies, orphans."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pytest

from lab import reaper, settings
from lab.cores import share_cores
from lab.limiter import RunLimiter
from lab.memory import memory_budget_bytes, run_memory_bytes
from lab.settings import max_trainings_setting
from lab.snapshot import FAILED, WAITING
from lab.training_run import TrainingRun
from nn.config import ModelConfig, TrainConfig
from nn.events import RunState


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    """300 tiny learnable 'digits': class k lights up row 2k+3 of the image."""
    rng = np.random.default_rng(0)
    labels = np.arange(300) % 10
    images = rng.integers(0, 40, (300, 28, 28)).astype(np.uint8)
    for i, k in enumerate(labels):
        images[i, 2 * k + 3, 4:24] = 255
    images.flags.writeable = False
    return images, labels.astype(np.uint8)


def tiny(epochs: int = 3, **changes) -> TrainConfig:
    return TrainConfig(model=ModelConfig(hidden=(16,)), batch_size=25, epochs=epochs, val_size=50, lr=0.01,
                       **changes)


@pytest.fixture(autouse=True)
def stop_threads():
    yield
    reaper.stop_all()


def wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


def test_a_run_trains_in_the_background_and_reports_progress(data) -> None:
    run = TrainingRun(tiny(), *data, limiter=RunLimiter(2)).start()
    assert run.join(timeout=30)
    snap = run.snapshot()
    assert snap.phase == RunState.FINISHED.value
    assert snap.epochs_done == 3 and snap.batches_per_epoch == 10 and snap.step == 30
    assert snap.progress == 1.0 and not snap.is_active
    assert snap.batch_losses.shape == (30,) and np.isfinite(snap.batch_losses).all()
    assert snap.batch_losses[-5:].mean() < snap.batch_losses[:5].mean()  # it learned something
    assert snap.batch_lrs.shape == (30,) and (snap.batch_lrs == np.float32(0.01)).all()
    assert 0 <= snap.val_acc <= 1 and snap.elapsed_seconds > 0
    assert reaper.live_runs() == []  # a finished run leaves the registry


def test_the_limit_queues_runs_in_a_visible_waiting_state(data) -> None:
    limiter = RunLimiter(1)
    first = TrainingRun(tiny(), *data, limiter=limiter, start_paused=True).start()
    wait_until(lambda: first.phase == RunState.PAUSED.value)  # paused, but still holding the only slot
    second = TrainingRun(tiny(), *data, limiter=limiter).start()
    third = TrainingRun(tiny(), *data, limiter=limiter).start()
    wait_until(lambda: limiter.counts() == (1, 2))
    assert second.snapshot().phase == WAITING and second.snapshot().queue_position == 1
    assert third.snapshot().queue_position == 2
    third.stop()  # stopping a waiting run takes it out of the line at once
    assert third.join(timeout=5) and third.phase == RunState.STOPPED.value
    assert "waiting" in third.snapshot().reason
    first.stop()
    assert first.join(timeout=5)
    assert second.join(timeout=30) and second.phase == RunState.FINISHED.value
    assert limiter.counts() == (0, 0)


def test_controls_from_another_thread_step_pause_and_change_the_learning_rate(data) -> None:
    run = TrainingRun(tiny(epochs=4), *data, limiter=RunLimiter(1), start_paused=True).start()
    wait_until(lambda: run.phase == RunState.PAUSED.value)
    assert run.snapshot().step == 0
    run.step_batch()
    wait_until(lambda: run.snapshot().step == 1 and run.phase == RunState.PAUSED.value)
    run.step_epoch()  # to the end of the current epoch
    wait_until(lambda: run.snapshot().epochs_done == 1 and run.phase == RunState.PAUSED.value)
    assert run.snapshot().step == 10
    run.set_lr(0.002)
    run.resume()
    assert run.join(timeout=30)
    snap = run.snapshot()
    assert snap.phase == RunState.FINISHED.value and snap.step == 40
    assert snap.lr_changes == ((10, 0.002),)  # applied from step 11 on, and marked there
    assert (snap.batch_lrs[10:] == np.float32(0.002)).all() and (snap.batch_lrs[:10] == np.float32(0.01)).all()
    with pytest.raises(ValueError, match="-1"):
        run.set_lr(-1)


def test_stop_takes_effect_within_a_second(data) -> None:
    config = TrainConfig(model=ModelConfig(hidden=(64,)), batch_size=1, epochs=200, val_size=50)
    run = TrainingRun(config, *data, limiter=RunLimiter(1)).start()
    wait_until(lambda: run.snapshot().step > 5)
    asked = time.monotonic()
    run.stop()
    assert run.join(timeout=1.0), "still training one second after stop()"
    assert time.monotonic() - asked < 1.0
    assert run.phase == RunState.STOPPED.value


def test_model_copies_are_consistent_snapshots_with_changing_versions(data) -> None:
    run = TrainingRun(tiny(), *data, limiter=RunLimiter(1), start_paused=True).start()
    wait_until(lambda: run.phase == RunState.PAUSED.value)
    model0, version0 = run.model_copy()
    run.step_epoch()
    wait_until(lambda: run.snapshot().epochs_done == 1 and run.phase == RunState.PAUSED.value)
    model1, version1 = run.model_copy()
    assert version1 != version0
    assert run.model_copy()[0] is model1  # same version: the same copy, not a new one
    live = run.trainer.model
    assert model1 is not live
    for copied, original in zip(model1.weights, live.weights):
        assert not np.shares_memory(copied, original)
        np.testing.assert_array_equal(copied, original)  # paused: identical to the live weights
    assert not np.array_equal(model0.weights[0], model1.weights[0])  # training changed them


def test_a_crashing_trainer_fails_visibly_and_frees_its_slot(data) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("boom 42")

    limiter = RunLimiter(1)
    run = TrainingRun(tiny(), *data, limiter=limiter, trainer_factory=broken).start()
    assert run.join(timeout=5)
    snap = run.snapshot()
    assert snap.phase == FAILED and "boom 42" in snap.error
    assert limiter.counts() == (0, 0)


def test_runs_whose_tab_is_gone_are_stopped_and_released(data, monkeypatch) -> None:
    monkeypatch.setattr(settings, "TAB_GONE_GRACE_S", 5.0)
    run = TrainingRun(tiny(), *data, limiter=RunLimiter(1), start_paused=True).start()
    wait_until(lambda: run.phase == RunState.PAUSED.value)
    now = time.monotonic()
    assert reaper.reap_orphans(now) == []
    run.tab_gone()
    assert reaper.reap_orphans(time.monotonic() + 1.0) == []  # a reconnect within the grace period is fine
    run.heartbeat()  # ...and the tab did come back
    assert not run.is_orphan(time.monotonic() + 10.0)
    run.tab_gone()
    assert reaper.reap_orphans(time.monotonic() + 10.0) == [run.run_id]
    assert not run.alive and run.phase == RunState.STOPPED.value
    assert run.trainer is None and run.model_copy()[0] is None  # memory released


def test_a_silent_tab_is_an_orphan_after_the_heartbeat_timeout(data, monkeypatch) -> None:
    monkeypatch.setattr(settings, "HEARTBEAT_TIMEOUT_S", 60.0)
    run = TrainingRun(tiny(), *data, limiter=RunLimiter(1), start_paused=True)
    assert not run.is_orphan(time.monotonic() + 30.0)
    assert run.is_orphan(time.monotonic() + 61.0)


def test_the_reaper_thread_stops_an_orphan_by_itself(data, monkeypatch) -> None:
    monkeypatch.setattr(settings, "TAB_GONE_GRACE_S", 0.0)
    run = TrainingRun(tiny(), *data, limiter=RunLimiter(1), start_paused=True).start()
    wait_until(lambda: run.phase == RunState.PAUSED.value)
    run.tab_gone()
    assert run.join(timeout=5.0), "the reaper did not stop the orphaned run"
    assert run.phase == RunState.STOPPED.value


@pytest.mark.parametrize("raw, expected, complaint", [
    (None, 2, False), ("", 2, False), ("3", 3, False), ("1", 1, False), ("0", 2, True), ("abc", 2, True),
    ("-5", 2, True), ("1000", 2, True),
])
def test_max_trainings_setting(monkeypatch, raw, expected, complaint) -> None:
    if raw is None:
        monkeypatch.delenv("MNIST_MAX_TRAININGS", raising=False)
    else:
        monkeypatch.setenv("MNIST_MAX_TRAININGS", raw)
    value, message = max_trainings_setting()
    assert value == expected and (message is not None) == complaint
    if complaint:
        assert repr(raw) in message


def test_memory_budget_setting(monkeypatch) -> None:
    monkeypatch.setenv("MNIST_RUN_MEMORY_MB", "10")
    assert memory_budget_bytes() == 10 * 2**20
    monkeypatch.delenv("MNIST_RUN_MEMORY_MB")
    assert memory_budget_bytes() > 0


def test_a_runs_memory_is_the_engines_estimate_plus_evaluation_and_bounded_snapshots() -> None:
    from nn.trainer import memory_estimate

    short, long = tiny(epochs=1), tiny(epochs=50)
    engine = memory_estimate(short.model, short.batch_size, short.optimizer)
    assert run_memory_bytes(short) > engine
    w1 = 784 * 16 * 4
    net = (784 * 16 + 16 + 16 * 10 + 10) * 4  # the timeline keeps the whole network: 6 + epochs copies
    assert run_memory_bytes(long) - run_memory_bytes(short) == (
        min(long.snapshot_budget_bytes, 51 * w1) - 2 * w1 + min(long.snapshot_budget_bytes, 56 * net) - 7 * net)


def test_limiter_rejects_a_useless_capacity() -> None:
    with pytest.raises(ValueError, match="0"):
        RunLimiter(0)


class _StubTrainer:
    def __init__(self) -> None:
        self.allowed: list[bool] = []

    def allow_team(self, allowed: bool) -> None:
        self.allowed.append(allowed)


class _StubRun:
    def __init__(self, phase: str) -> None:
        self.phase = phase
        self.trainer = _StubTrainer()


def test_thread_teams_only_while_the_running_trainings_fit_on_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("nn.trainer.default_team_size", lambda: 2)
    first, second = _StubRun(RunState.RUNNING.value), _StubRun(RunState.RUNNING.value)
    paused = _StubRun(RunState.PAUSED.value)
    monkeypatch.setattr(reaper, "_RUNS", {"a": first, "p": paused})
    share_cores(cores=2)
    assert first.trainer.allowed == [True]  # alone on two cores: a team of two fits
    assert paused.trainer.allowed == []  # a paused run uses no core and is left alone
    monkeypatch.setattr(reaper, "_RUNS", {"a": first, "b": second, "p": paused})
    share_cores(cores=2)
    assert first.trainer.allowed[-1] is False and second.trainer.allowed == [False]
    share_cores(cores=4)
    assert first.trainer.allowed[-1] is True and second.trainer.allowed[-1] is True


def test_real_runs_share_the_cores_as_they_start_and_stop(data, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("nn.trainer.usable_cores", lambda: 2)
    monkeypatch.setattr("nn.trainer.default_team_size", lambda: 2)
    # 128 x 784 x 400 multiply-adds per batch: the trainer forms a team whatever BLAS's thread count
    config = TrainConfig(model=ModelConfig(hidden=(400,)), batch_size=128, epochs=200, val_size=50, lr=0.01)

    def allowed(run: TrainingRun) -> bool:
        return run.trainer is not None and run.trainer._team_allowed

    first = TrainingRun(config, *data, limiter=RunLimiter(2)).start()
    wait_until(lambda: first.phase == RunState.RUNNING.value)
    wait_until(lambda: allowed(first))
    second = TrainingRun(config, *data, limiter=RunLimiter(2)).start()
    wait_until(lambda: second.phase == RunState.RUNNING.value)
    wait_until(lambda: not allowed(first) and not allowed(second))  # two teams would not fit on 2 cores
    second.stop()
    assert second.join(timeout=10)
    wait_until(lambda: allowed(first))  # alone again: its team is back
    first.stop()
    assert first.join(timeout=10)
    assert first.snapshot().step > 0 and np.isfinite(first.snapshot().batch_losses).all()
