"""Training figures, called directly on small arrays."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from figures.palette import LINE_COLORS
from figures.training import _thin, batch_loss_figure, epoch_metrics_figure, epochs_frame, lr_figure
from lab.curves import smooth
from nn.events import EpochEvent


def test_smooth_is_a_bias_corrected_moving_average() -> None:
    values = np.array([4.0, 2.0, 1.0])
    w = 0.5
    # TensorBoard-style: weighted mean of the past with weights w^k, normalised.
    expected = [4.0, (2.0 + w * 4.0) / (1 + w), (1.0 + w * 2.0 + w * w * 4.0) / (1 + w + w * w)]
    np.testing.assert_allclose(smooth(values, w), expected)
    np.testing.assert_allclose(smooth(values, 0.0), values)
    with pytest.raises(ValueError, match="1.0"):
        smooth(values, 1.0)


def test_thinning_keeps_the_ends_and_the_point_budget() -> None:
    idx = _thin(10_001, 1000)
    assert idx[0] == 0 and idx[-1] == 10_000 and len(idx) <= 1001
    assert np.all(np.diff(idx) > 0)
    np.testing.assert_array_equal(_thin(7, 1000), np.arange(7))


def test_batch_loss_plots_every_batch_in_epochs_with_its_trend() -> None:
    losses = np.array([2.3, 1.5, 1.0, 0.8, 0.7, 0.6])
    fig = batch_loss_figure(losses, batches_per_epoch=3, smoothing=0.5)
    raw, trend = fig.data
    np.testing.assert_allclose(raw.x, [1 / 3, 2 / 3, 1, 4 / 3, 5 / 3, 2], rtol=1e-6)
    np.testing.assert_allclose(raw.y, losses, rtol=1e-6)
    np.testing.assert_allclose(trend.y, smooth(losses, 0.5), rtol=1e-6)
    assert fig.layout.yaxis.type == "log"
    assert "0.5" in fig.layout.yaxis.ticktext and "2" in fig.layout.yaxis.ticktext  # readable 1-2-5 ticks
    assert fig.layout.title.text and fig.layout.xaxis.title.text == "epoch" and fig.layout.yaxis.title.text


def test_a_diverged_batch_is_a_gap_not_a_crash() -> None:
    fig = batch_loss_figure(np.array([1.0, np.inf, np.nan, 0.5]), batches_per_epoch=2)
    y = np.asarray(fig.data[0].y, dtype=float)
    assert np.isnan(y[1]) and np.isnan(y[2]) and y[0] == 1.0 and y[3] == 0.5


def test_user_lr_changes_are_marked_where_they_applied() -> None:
    fig = batch_loss_figure(np.ones(20), batches_per_epoch=10, lr_changes=[(5, 0.01), (15, 0.001)])
    xs = sorted(s.x0 for s in fig.layout.shapes)
    assert xs == [0.5, 1.5]
    texts = [a.text for a in fig.layout.annotations]
    assert any("0.01" in t for t in texts) and any("0.001" in t for t in texts)
    lr = lr_figure(np.r_[np.full(5, 0.1), np.full(10, 0.01), np.full(5, 0.001)], 10, lr_changes=[(5, 0.01)])
    assert [s.x0 for s in lr.layout.shapes] == [0.5]
    assert lr.layout.yaxis.type == "log"  # a 100x range is shown on a log axis
    assert lr_figure(np.full(10, 0.001), 10).layout.yaxis.type == "linear"


def test_empty_run_draws_a_placeholder() -> None:
    fig = batch_loss_figure(np.array([]), batches_per_epoch=0)
    assert len(fig.data[0].x) == 0
    assert any("waiting" in a.text for a in fig.layout.annotations)


def _event(epoch: int, val_acc: float, val_loss: float = 0.5) -> EpochEvent:
    return EpochEvent(epoch=epoch, epochs=5, train_loss=1.0 / epoch, train_acc=0.8 + 0.01 * epoch,
                      val_loss=val_loss, val_acc=val_acc, lr=1e-3, seconds=1.0, samples_per_sec=1000.0,
                      weight_norms=(1.0,), grad_norms=(0.1,), dead_fraction=())


def test_epoch_figure_shows_loss_left_and_accuracy_in_percent_right() -> None:
    history = epochs_frame([_event(1, 0.90), _event(2, 0.95), _event(3, 0.94)])
    assert list(history["epoch"]) == [1, 2, 3]
    fig = epoch_metrics_figure(history, epochs_planned=5)
    by = {(t.name, t.yaxis): t for t in fig.data}
    np.testing.assert_allclose(by[("validation", "y2")].y, [90.0, 95.0, 94.0])
    np.testing.assert_allclose(by[("train", "y")].y, [1.0, 0.5, 1 / 3])
    assert by[("validation", "y")].line.color == LINE_COLORS["val"]
    assert tuple(fig.layout.xaxis.range) == (0.5, 5.5)  # room for the planned epochs from the start
    best = [a for a in fig.layout.annotations if "best" in a.text]
    assert len(best) == 1 and best[0].x == 2 and "95.00%" in best[0].text
    assert fig.layout.yaxis.title.text and fig.layout.yaxis2.title.text


def test_epoch_figure_without_validation_shows_only_training() -> None:
    history = epochs_frame([_event(1, float("nan"), float("nan"))])
    fig = epoch_metrics_figure(history)
    assert {t.name for t in fig.data} == {"train"}
    assert not [a for a in fig.layout.annotations if "best" in a.text]
    assert len(epoch_metrics_figure(pd.DataFrame(columns=history.columns)).data) == 4  # empty: axes, no points
