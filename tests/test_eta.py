"""Time left: from the mean epoch so far (validation included), steady while the speed of single batches swings."""

from __future__ import annotations

import math

import numpy as np

from lab.eta import time_left
from lab.snapshot import RunSnapshot, progress_line


def test_before_the_first_epoch_ends_the_mean_time_per_batch_since_the_start_counts() -> None:
    left = time_left([], [], epochs_planned=4, batch=25, batches_per_epoch=100, seconds_per_batch=0.02)
    assert left == (400 - 25) * 0.02
    assert math.isnan(time_left([], [], epochs_planned=4, batch=0, batches_per_epoch=100, seconds_per_batch=math.nan))


def test_after_some_epochs_the_mean_epoch_and_the_validation_still_to_come() -> None:
    # epochs of 10 s (8 s training + 2 s validation); 3 of 10 done, a quarter into the fourth
    left = time_left([9.0, 10.0, 11.0], [7.0, 8.0, 9.0], epochs_planned=10, batch=25, batches_per_epoch=100,
                     seconds_per_batch=0.1)
    assert left == 6 * 10.0 + 0.75 * 8.0 + 2.0
    between = time_left([10.0] * 3, [8.0] * 3, epochs_planned=10, batch=100, batches_per_epoch=100,
                        seconds_per_batch=0.1)
    assert between == 7 * 10.0  # between epochs: whole epochs only
    assert time_left([10.0] * 10, [8.0] * 10, epochs_planned=10, batch=100, batches_per_epoch=100,
                     seconds_per_batch=0.1) == 0.0


def test_the_estimate_falls_steadily_through_a_run_whose_epochs_vary() -> None:
    """The Best preset's epochs took 7 to 12 s on a shared server: the estimate must not jump back up."""
    rng = np.random.default_rng(0)
    seconds = rng.uniform(7.0, 12.0, 40)
    estimates = []
    for done in range(1, 40):
        for batch in (0, 100, 200, 300, 400):
            estimates.append(time_left(list(seconds[:done]), list(seconds[:done] * 0.9), epochs_planned=40,
                                       batch=batch, batches_per_epoch=430, seconds_per_batch=0.02))
    jumps = np.diff(estimates)
    # Each step moves down by about the time it took; up at most by the change of the mean, a few seconds.
    assert jumps.max() < 0.06 * estimates[0], (jumps.max(), estimates[0])
    assert estimates[-1] < estimates[0] / 10


# ----- where the time left is shown: on the progress bar's line ---------------------------------------------

def snapshot(phase: str, eta: float) -> RunSnapshot:
    return RunSnapshot(run_id="r1", phase=phase, reason="", error="", queue_position=None, epochs_planned=6,
                       epoch=3, epochs_done=2, batch=100, batches_per_epoch=313, step=726,
                       batch_losses=np.zeros(0, np.float32), batch_lrs=np.zeros(0, np.float32), lr_changes=(),
                       epochs=(), samples_per_sec=float("nan"), eta_seconds=eta, elapsed_seconds=1.0,
                       current_lr=0.001)


def test_the_progress_line_says_the_time_left_while_running_and_done_at_the_end() -> None:
    assert progress_line(snapshot("running", 42.4)) == "epoch 3 of 6, batch 100 of 313 · about 42 s left"
    assert progress_line(snapshot("running", 191.0)) == "epoch 3 of 6, batch 100 of 313 · about 3:11 left"
    assert progress_line(snapshot("running", float("nan"))) == "epoch 3 of 6, batch 100 of 313"
    assert progress_line(snapshot("paused", float("nan"))).endswith("· paused")
    ended = {"finished": "done", "stopped": "stopped", "diverged": "diverged", "early_stopped": "stopped early",
             "failed": "failed"}  # a diverged run's bar said "done" under its "diverged" status
    for phase, word in ended.items():
        assert progress_line(snapshot(phase, float("nan"))) == f"epoch 3 of 6, batch 100 of 313 · {word}"
