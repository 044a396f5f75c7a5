"""The Train page's run controls follow the run's phase: step, look, step works, and stale buttons are noticed.

The browser half (the live panel redrawing the page when the phase moves on) is in
tests/test_browser_app_edges.py; here are the rules, a real run stepped epoch by epoch, and the page
through AppTest.
"""

from __future__ import annotations

import numpy as np
import pytest

from lab import reaper
from lab.limiter import RunLimiter
from lab.run_controls import control_state
from lab.snapshot import STARTING, WAITING
from lab.training_run import TrainingRun
from nn.config import ModelConfig, TrainConfig
from nn.events import RunState
from tests.test_app_pages import app, session, start_tiny_run, wait_until  # noqa: F401 (app is a fixture)

PAUSED, RUNNING = RunState.PAUSED.value, RunState.RUNNING.value


def test_a_paused_run_offers_resume_and_the_steps_and_a_running_one_only_pause_and_stop() -> None:
    paused = control_state(PAUSED, can_start=True, has_model=True)
    assert paused.resume and paused.step and paused.stop and paused.download and not paused.pause
    assert not paused.start
    for phase in (WAITING, STARTING, RUNNING):
        busy = control_state(phase, can_start=True, has_model=True)
        assert busy.pause and busy.stop and not busy.step and not busy.resume and not busy.start, phase
        assert not busy.download, phase  # the weights are moving (or do not exist yet)


@pytest.mark.parametrize("ended", [RunState.FINISHED.value, RunState.DIVERGED.value, "failed"])
def test_an_ended_run_can_start_again_or_step_a_new_run_and_be_downloaded(ended: str) -> None:
    state = control_state(ended, can_start=True, has_model=True)
    assert state.start and state.step and state.download and state.reset
    assert not state.pause and not state.resume and not state.stop and not state.live_lr
    assert not control_state(ended, can_start=False, has_model=True).step  # knobs that do not fit


def test_an_uploaded_model_can_be_reset_and_downloaded_without_a_run() -> None:
    uploaded = control_state(None, can_start=True, has_model=True)
    assert uploaded.reset and uploaded.download and uploaded.start
    nothing = control_state(None, can_start=True, has_model=False)
    assert not nothing.reset and not nothing.download


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    labels = (np.arange(400) % 10).astype(np.uint8)
    images = rng.integers(0, 40, (400, 28, 28)).astype(np.uint8)
    images[np.arange(400), 2 * labels + 3, 4:24] = 255
    return images, labels


def test_stepping_epoch_by_epoch_pauses_after_each_with_the_controls_right(data) -> None:
    """The trainer's state machine under "+1 epoch" pressed three times: a pause after every epoch."""
    config = TrainConfig(model=ModelConfig(hidden=(16,)), batch_size=25, epochs=4, val_size=100, lr=0.01)
    run = TrainingRun(config, *data, limiter=RunLimiter(1), start_paused=True).start()
    try:
        for epoch in (1, 2, 3):
            run.step_epoch()
            wait_until(lambda done=epoch: run.snapshot().epochs_done == done and run.phase == PAUSED,
                       f"the pause after epoch {epoch}")
            snap = run.snapshot()
            assert snap.step == epoch * snap.batches_per_epoch  # exactly one more epoch, not a batch more
            state = control_state(run.phase, can_start=True, has_model=True)
            assert state.resume and state.step and not state.pause
        run.step_epoch()  # the last epoch ends the run
        assert run.join(timeout=20) and run.phase == RunState.FINISHED.value
    finally:
        run.stop()


def test_wait_for_phase_returns_once_the_pause_took_effect(data) -> None:
    config = TrainConfig(model=ModelConfig(hidden=(16,)), batch_size=25, epochs=200, val_size=100, lr=0.01)
    run = TrainingRun(config, *data, limiter=RunLimiter(1)).start()
    try:
        wait_until(lambda: run.snapshot().step > 0, "the first batch")
        run.pause()
        assert run.wait_for_phase({PAUSED}, timeout=5)
        assert not run.wait_for_phase({RUNNING}, timeout=0.05)  # nobody resumed it
    finally:
        run.stop()
        run.join(timeout=5)


def buttons(at) -> dict[str, bool]:
    """Label -> enabled, for the run controls on the page."""
    keys = ("btn_start", "btn_pause", "btn_resume", "btn_epoch", "btn_batch", "btn_stop", "btn_reset")
    found = {b.key: not b.disabled for b in at.button if b.key in keys}
    return found


def test_step_look_step_on_the_page(app) -> None:  # noqa: F811
    at = app().run()
    start_tiny_run(at, epochs=3)
    run = session(at).run
    wait_until(lambda: not run.is_active, "the tiny run to finish")
    at.run()
    for epoch in (1, 2):
        at.button(key="btn_epoch").click().run()  # a finished run: a new one, paused after its first epoch
        run = session(at).run
        wait_until(lambda r=run, done=epoch: r.phase == PAUSED and r.snapshot().epochs_done == done,
                   f"epoch {epoch}")
        at.run()  # what the live panel's redraw does once it sees the pause
        shown = buttons(at)
        assert shown["btn_resume"] and shown["btn_epoch"] and shown["btn_batch"] and "btn_pause" not in shown
        tiles = {m.label: m.value for m in at.metric}
        assert tiles["Epoch"] == f"{epoch} / 3"
        assert f"epoch {epoch}/3" in " ".join(c.value for c in at.sidebar.caption)
        assert "paused" in " ".join(m.value for m in at.sidebar.markdown)
        assert session(at).controls_drawn[1] == control_state(PAUSED, can_start=True, has_model=True)
    at.button(key="btn_stop").click().run()
    reaper.stop_all()


def test_the_page_notices_its_buttons_went_stale(app) -> None:  # noqa: F811
    from dashboard.train_view import controls_are_stale

    at = app().run()
    start_tiny_run(at, epochs=60)
    data = session(at)
    run = data.run
    wait_until(lambda: run.phase == RUNNING, "the run to train")
    at.run()
    assert not controls_are_stale(data, run.snapshot())
    run.pause()  # as another tab, or the end of a "+1 epoch", would: the drawn Pause button is now wrong
    wait_until(lambda: run.phase == PAUSED, "the pause")
    assert controls_are_stale(data, run.snapshot())
    at.run()
    assert not controls_are_stale(data, run.snapshot()) and buttons(at)["btn_resume"]
    run.stop()
