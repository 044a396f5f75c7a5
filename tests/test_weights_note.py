"""Evaluate and Inspect during a run say which weights they show, and offer the newest ones."""

from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from lab import reaper
from lab.limiter import RunLimiter
from lab.training_run import TrainingRun
from lab.weights_label import CopyPoint, weights_label
from nn.config import ModelConfig, TrainConfig
from nn.events import RunState
from tests.test_app_pages import app, session, start_tiny_run, wait_until  # noqa: F401 (app is a fixture)

PAUSED = RunState.PAUSED.value


@pytest.mark.parametrize("point, phase, expected", [
    (CopyPoint(2, 469, 469, 40), "running", "weights at the end of epoch 2 of 40 (live: training goes on)"),
    (CopyPoint(0, 0, 0, 40), "running", "the initial random weights, before any training (live: training goes on)"),
    (CopyPoint(3, 17, 469, 8), "paused", "weights after batch 17 of 469 in epoch 4 of 8 (paused)"),
    (CopyPoint(8, 469, 469, 8), "finished", "weights at the end of epoch 8 of 8"),
    (CopyPoint(1, 3, 469, 8), "diverged", "the last good weights before the run diverged"),
    (CopyPoint(5, 469, 469, 8), "early_stopped", "the weights of the best epoch (the run stopped early)"),
])
def test_weights_label(point, phase, expected) -> None:
    assert weights_label(point, phase) == expected


def test_a_run_describes_the_copy_it_hands_out() -> None:
    rng = np.random.default_rng(0)
    labels = (np.arange(400) % 10).astype(np.uint8)
    images = rng.integers(0, 255, (400, 28, 28)).astype(np.uint8)
    config = TrainConfig(model=ModelConfig(hidden=(16,)), batch_size=25, epochs=3, val_size=100)
    run = TrainingRun(config, images, labels, limiter=RunLimiter(1), start_paused=True).start()
    try:
        run.step_epoch()
        wait_until(lambda: run.phase == PAUSED and run.snapshot().epochs_done == 1, "the first epoch")
        assert run.described_model_copy()[2] == "weights at the end of epoch 1 of 3 (paused)"
        run.step_batch()
        wait_until(lambda: run.phase == PAUSED and run.snapshot().step == 13, "one more batch")
        assert run.described_model_copy()[2] == "weights after batch 1 of 12 in epoch 2 of 3 (paused)"
        run.resume()
        assert run.join(timeout=20)
        assert run.described_model_copy()[2] == "weights at the end of epoch 3 of 3"
    finally:
        reaper.stop_all()


def test_evaluate_during_a_run_says_which_weights_it_shows(app) -> None:  # noqa: F811
    at = app().run()
    start_tiny_run(at, epochs=100)
    run = session(at).run
    # the epoch's model copy is taken just after the epoch counts as done: wait for the copy itself
    wait_until(lambda: "end of epoch" in run.described_model_copy()[2], "the first epoch's weights")
    at.switch_page("app_pages/evaluate.py").run()
    assert not at.exception, at.exception
    captions = " ".join(c.value for c in at.caption)
    assert "Showing the run in progress: weights at the end of epoch" in captions, captions
    assert "of 100 (live: training goes on)" in captions
    # the tiny run's epochs are quicker than the page: by the note's turn there may be newer weights
    assert "These are the newest weights" in captions or "Newer weights are ready" in captions
    at.switch_page("app_pages/inspect.py").run()
    assert "Showing the run in progress: weights at the end of epoch" in " ".join(c.value for c in at.caption)
    run.stop()


def _stale_note() -> None:
    from dashboard.weights_note import _note

    _note("a version the page showed earlier")


def test_the_note_offers_newer_weights_when_the_run_moved_on() -> None:
    from dashboard.session import SessionData

    rng = np.random.default_rng(0)
    labels = (np.arange(300) % 10).astype(np.uint8)
    images = rng.integers(0, 255, (300, 28, 28)).astype(np.uint8)
    config = TrainConfig(model=ModelConfig(hidden=(8,)), batch_size=50, epochs=3, val_size=50)
    run = TrainingRun(config, images, labels, limiter=RunLimiter(1), start_paused=True).start()
    try:
        run.step_epoch()
        wait_until(lambda: run.phase == PAUSED and run.snapshot().epochs_done == 1, "the first epoch")
        at = AppTest.from_function(_stale_note)
        at.session_state["_mnist_session"] = SessionData(run=run)
        at.run()
        assert not at.exception, at.exception
        assert "Newer weights are ready: weights at the end of epoch 1 of 3 (paused)" in at.caption[0].value
        assert at.button(key="refresh_weights").label == "Show the newest weights"
        at.session_state["timeline_position"] = 0.5  # the epoch slider had been moved back
        at.button(key="refresh_weights").click().run()
        assert not at.exception, at.exception
        assert at.session_state["timeline_position"] is None  # the button returns to the newest weights
    finally:
        reaper.stop_all()
