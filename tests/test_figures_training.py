"""Training figures, called directly on small arrays."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from figures.palette import LINE_COLORS
from figures.run_marks import CHAR_SHARE, LABEL_ROWS, lr_change_marks
from figures.style import log_axis, tick_text
from figures.training import _thin, batch_loss_figure, epoch_metrics_figure, epochs_frame, lr_figure
from lab.curves import smooth
from lab.snapshot import DivergedBatch
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
    # A schedule is a shape in time: a linear axis from zero, even across a 100x range.
    assert lr.layout.yaxis.type == "linear" and lr.layout.yaxis.range[0] == 0.0
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


@pytest.mark.parametrize("best_epoch, anchor", [(1, "left"), (3, "left"), (4, "right"), (6, "right")])
def test_the_best_validation_label_grows_away_from_the_nearer_edge(best_epoch: int, anchor: str) -> None:
    """Centred on epoch 1 of 6, the label ran over the accuracy axis's tick labels and title (seen in chromium)."""
    history = epochs_frame([_event(e, 0.95 if e == best_epoch else 0.90) for e in range(1, 7)])
    best = [a for a in epoch_metrics_figure(history, epochs_planned=6).layout.annotations if "best" in a.text]
    assert len(best) == 1 and best[0].x == best_epoch and best[0].xanchor == anchor


def test_epoch_figure_without_validation_shows_only_training() -> None:
    history = epochs_frame([_event(1, float("nan"), float("nan"))])
    fig = epoch_metrics_figure(history)
    assert {t.name for t in fig.data} == {"train"}
    assert not [a for a in fig.layout.annotations if "best" in a.text]
    assert len(epoch_metrics_figure(pd.DataFrame(columns=history.columns)).data) == 4  # empty: axes, no points


# ----- a diverged run, readable axes, learning-rate marks that never overlap ------------------------------


def test_a_run_that_exploded_at_its_second_batch_shows_the_explosion_on_every_chart() -> None:
    """adam at lr 1: one good batch, then a loss of 4.04e5 at batch 2; the run has no finished epoch."""
    gone = DivergedBatch(step=2, loss=4.04e5, lr=1.0)
    loss = batch_loss_figure(np.array([2.31]), batches_per_epoch=469, diverged=gone)
    raw = loss.data[0]
    np.testing.assert_allclose(raw.y, [2.31, 4.04e5], rtol=1e-6)  # the line runs up to the explosion
    assert "markers" in raw.mode  # two points are drawn, not an empty axis
    cross = [t for t in loss.data if t.name == "diverged"]
    assert len(cross) == 1 and cross[0].y[0] == np.float32(4.04e5) and cross[0].x[0] == 2 / 469
    label = [a for a in loss.layout.annotations if "exploded" in a.text]
    assert len(label) == 1 and "404,000" in label[0].text and "epoch 1, batch 2" in label[0].text
    assert label[0].y == pytest.approx(np.log10(4.04e5))  # plotly places it by log10 on a log axis
    assert loss.layout.yaxis.type == "log" and "100,000" in loss.layout.yaxis.ticktext

    epochs = epoch_metrics_figure(epochs_frame([]), 8, diverged=gone, batches_per_epoch=469)
    assert [s.x0 for s in epochs.layout.shapes] == [2 / 469, 2 / 469]  # on both panels
    assert epochs.layout.xaxis.range[0] < 2 / 469  # the line is on the axis, not left of it
    assert any("No epoch finished" in a.text and "epoch 1, batch 2" in a.text for a in epochs.layout.annotations)

    lr = lr_figure(np.array([1.0]), 469, diverged=gone)
    np.testing.assert_allclose(lr.data[0].y, [1.0, 1.0])
    assert "markers" in lr.data[0].mode
    assert any("diverged at lr 1" in a.text for a in lr.layout.annotations)


def test_a_nan_loss_is_marked_by_a_line_where_no_point_can_go() -> None:
    fig = batch_loss_figure(np.array([2.3, 2.0, 1.9]), 10, diverged=DivergedBatch(step=4, loss=float("nan"), lr=5.0))
    assert len(fig.data[0].y) == 3  # nothing to plot for NaN
    assert [s.x0 for s in fig.layout.shapes] == [0.4]
    assert any("became NaN at epoch 1, batch 4" in a.text for a in fig.layout.annotations)


@pytest.mark.parametrize("values, expected", [
    ([0.05, 2.3], ["0.05", "0.1", "0.2", "0.5", "1", "2"]),  # 1-2-5 within two decades
    ([2.3, 4e5], ["10", "100", "1,000", "10,000", "100,000"]),  # powers of ten over six
    ([3e-7, 0.2], ["1e-6", "1e-5", "0.0001", "0.001", "0.01", "0.1"]),
])
def test_log_axes_write_every_tick_in_full(values, expected) -> None:
    axis = log_axis(np.array(values))
    low, high = min(values), max(values)
    shown = [t for v, t in zip(axis["tickvals"], axis["ticktext"]) if low <= v <= high]
    assert shown == expected
    assert not any(t in ("2", "5") for t in shown) or "1" in shown  # never a bare "5, 2" between decades


def test_a_narrow_log_range_still_gets_labelled_ticks() -> None:
    axis = log_axis(np.array([1.1, 1.3]))
    inside = [v for v in axis["tickvals"] if 1.1 <= v <= 1.3]
    assert len(inside) >= 2 and all(t == tick_text(v) for v, t in zip(axis["tickvals"], axis["ticktext"]))


def test_tick_text_reads_like_a_number_not_plotlys_shorthand() -> None:
    assert [tick_text(v) for v in (0.001, 1e-4, 0.5, 1.0, 400000.0, 1e-5, 2e7, 1.01e6)] == [
        "0.001", "0.0001", "0.5", "1", "400,000", "1e-5", "2e7", "1.01e6"]


def _boxes(notes, span: float) -> list[tuple[float, float, float]]:
    """(left, right, row) of each label, in shares of the axis, from its anchor and text length."""
    out = []
    for a in notes:
        width, share = (len(a["text"]) + 1) * CHAR_SHARE, a["x"] / span
        left = share if a["xanchor"] == "left" else share - width
        out.append((left, left + width, a["y"]))
    return out


def test_learning_rate_labels_never_overlap() -> None:
    # Ten changes two batches apart, near the end of a long run: each line drawn, labels stacked in rows.
    changes = [(900 + 2 * k, 10.0 ** -(k % 4 + 1)) for k in range(10)]
    shapes, notes = lr_change_marks(changes, 100, 9.2)
    assert len(shapes) == 10 and 1 <= len(notes) <= LABEL_ROWS
    boxes = _boxes(notes, 9.2)
    for i, (l1, r1, row1) in enumerate(boxes):
        assert r1 <= 1.0 + 1e-9 and l1 >= -1e-9  # inside the plot: near the right edge it runs left
        for l2, r2, row2 in boxes[i + 1:]:
            assert row1 != row2 or r1 <= l2 or r2 <= l1
    # Far apart, every label fits in the first row.
    _, spread = lr_change_marks([(100, 0.1), (500, 0.01), (900, 0.001)], 100, 10.0)
    assert len(spread) == 3 and {a["y"] for a in spread} == {1}
