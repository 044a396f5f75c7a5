"""What a run records for its charts' marks: a burst of learning-rate changes as one, the batch that exploded."""

from __future__ import annotations

import time

import numpy as np

from lab import reaper
from lab.limiter import RunLimiter
from lab.lr_changes import COALESCE_S, coalesce
from lab.training_run import TrainingRun
from nn.config import ModelConfig, TrainConfig
from nn.events import BatchEvent, RunState, StateEvent
from nn.trainer import Trainer
from tests.test_app_pages import app, session, wait_until  # noqa: F401 (app is a fixture)


def test_changes_within_the_window_are_one_mark_at_the_first_step_with_the_last_rate() -> None:
    presses = [(100, 0.003, 10.0), (104, 0.005, 10.4), (109, 0.01, 10.9)]  # three arrow-key presses
    assert coalesce(presses) == ((100, 0.01),)
    later = presses + [(400, 0.001, 10.9 + COALESCE_S + 0.1)]
    assert coalesce(later) == ((100, 0.01), (400, 0.001))
    # a slow, steady hand: each press within the window of the one before still makes one burst
    assert coalesce([(10 * k, 0.1 / (k + 1), 0.8 * COALESCE_S * k) for k in range(5)]) == ((0, 0.02),)
    assert coalesce([]) == ()


def data(n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    labels = (np.arange(n) % 10).astype(np.uint8)
    images = rng.integers(0, 40, (n, 28, 28)).astype(np.uint8)
    images[np.arange(n), 2 * labels + 3, 4:24] = 255
    return images, labels


def test_a_burst_of_changes_on_a_running_run_is_one_mark() -> None:
    config = TrainConfig(model=ModelConfig(hidden=(16,)), batch_size=10, epochs=10_000, val_size=100, lr=0.01)
    run = TrainingRun(config, *data(), limiter=RunLimiter(1)).start()
    try:
        wait_until(lambda: run.snapshot().step > 5, "the run to train")
        for lr in (0.003, 0.005, 0.02):
            run.set_lr(lr)
            time.sleep(0.1)
        wait_until(lambda: len(run.trainer.lr_changes) >= 2 and run.snapshot().current_lr == 0.02, "the changes")
        wait_until(lambda: run.snapshot().batch_lrs[-1] == np.float32(0.02), "a batch at the last rate")
        marks = run.snapshot().lr_changes
        assert len(marks) == 1 and marks[0][1] == 0.02
        assert marks[0][0] == run.trainer.lr_changes[0].step  # where the burst began
        time.sleep(COALESCE_S + 0.3)  # a separate, later change
        run.set_lr(0.001)
        wait_until(lambda: len(run.snapshot().lr_changes) == 2, "the second mark")
        assert run.snapshot().lr_changes[1][1] == 0.001
    finally:
        run.stop()
        run.join(timeout=5)
        reaper.stop_all()


def test_the_trainer_reports_the_loss_and_rate_of_the_batch_that_exploded() -> None:
    config = TrainConfig(model=ModelConfig(hidden=(64, 64)), optimizer="sgd", lr=50.0, batch_size=20, epochs=2,
                         val_size=100)
    events = list(Trainer(config, *data()).events())
    end = events[-1]
    assert isinstance(end, StateEvent) and end.state == RunState.DIVERGED
    assert end.batch_lr == 50.0 and end.batch_loss is not None
    assert not np.isfinite(end.batch_loss) or end.batch_loss > 100  # what the guard calls exploded
    batches = [e for e in events if isinstance(e, BatchEvent)]
    assert f"epoch 1, batch {len(batches) + 1}" in end.reason  # the batch after the last one reported


def test_a_run_that_diverged_at_a_batch_keeps_it_for_the_charts() -> None:
    config = TrainConfig(model=ModelConfig(hidden=(64, 64)), optimizer="sgd", lr=50.0, batch_size=20, epochs=2,
                         val_size=100)
    run = TrainingRun(config, *data(), limiter=RunLimiter(1)).start()
    assert run.join(timeout=30)
    snap = run.snapshot()
    assert snap.phase == RunState.DIVERGED.value
    assert snap.diverged is not None and snap.diverged.step == snap.step + 1 and snap.diverged.lr == 50.0
    assert snap.batches_per_epoch == 15


def test_the_train_page_draws_a_diverged_run_on_all_three_charts(app) -> None:  # noqa: F811
    import plotly.io

    from tests.test_app_pages import live_chart_specs, run_until_done

    at = app()
    for key, value in {"optimizer": "adam", "lr": "1", "hidden": "512-512", "epochs": "3", "subset": "1000",
                       "val_size": "1000"}.items():
        at.query_params[key] = value
    at.run()
    at.switch_page("app_pages/train.py").run()
    at.button(key="btn_start").click().run()
    run_until_done(at)
    snap = session(at).run.snapshot()
    assert snap.phase == RunState.DIVERGED.value and snap.diverged is not None, snap.reason
    loss, epochs, lr = (plotly.io.from_json(s) for s in live_chart_specs(at))
    assert len(loss.data[0].y) == snap.step + (1 if np.isfinite(snap.diverged.loss) else 0)
    assert len(lr.data[0].y) == snap.step + 1  # the rate of every batch, the exploding one too
    marked = [a.text for f in (loss, epochs, lr) for a in f.layout.annotations]
    assert any("exploded" in t or "became" in t for t in marked), marked
    assert any(t == "diverged" for t in marked) and any(t.startswith("diverged at lr") for t in marked)
