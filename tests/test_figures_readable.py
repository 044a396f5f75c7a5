"""Inspect's and Evaluate's charts read as a learner reads them: output digits named, the true digit visible,
log ticks written out, histogram panels whose tick labels keep apart, titles clear of plotly's toolbar."""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from figures import inspect as fi
from figures import output_layer as fo
from figures.style import inner_ticks, spaced_ticktext, tick_text


def test_the_output_tab_speaks_of_digits_not_units() -> None:
    logits = np.array([0.1, -2.0, 5.0, 1.0, 0.0, -1.0, 3.0, 0.5, -0.5, 2.0])
    proba = np.exp(logits) / np.exp(logits).sum()
    fig = fo.output_scores_figure(logits, proba)
    assert "unit" not in fig.layout.title.text and "z > 0" not in fig.layout.title.text
    assert "2" in fig.layout.title.text  # the answer
    assert fig.layout.xaxis.title.text == "digit" and fig.layout.xaxis.type == "category"
    assert list(fig.data[0].x) == [str(d) for d in range(10)]  # every digit labelled, 0..9
    assert fig.data[0].marker.color == fig.data[1].marker.color == fo.DIGIT_COLORS[:10]
    np.testing.assert_allclose(fig.data[1].y, proba)


def test_the_true_digit_is_marked_above_its_bar_even_at_a_tiny_probability() -> None:
    proba = np.full(10, 1e-5)
    proba[3] = 1 - 9e-5
    fig = fo.probability_figure(proba, true_label=7)
    mark = [t for t in fig.data if t.name == "true digit"]
    assert len(mark) == 1 and list(mark[0].x) == ["7"] and mark[0].y[0] >= fo.TRUE_MARK_GAP
    assert mark[0].marker.symbol == "triangle-down" and "true" in mark[0].text
    assert fig.layout.yaxis.range[1] >= 1 + fo.TRUE_MARK_GAP  # still on the chart above a bar near 100%
    assert len(fo.probability_figure(proba).data) == 1  # no true digit known: no mark


def test_titles_of_narrow_charts_sit_below_the_toolbar_row() -> None:
    for fig in (fi.digit_figure(np.zeros((28, 28), np.uint8), "Test digit #12"),
                fo.probability_figure(np.full(10, 0.1), true_label=1)):
        assert fig.layout.title.yref == "paper" and fig.layout.title.yanchor == "bottom"
        assert fig.layout.margin.t >= 70  # room above the title for plotly's toolbar


def test_gradient_norms_on_a_log_axis_have_written_out_ticks() -> None:
    norms = np.array([[0.004, 0.2], [0.01, 0.5], [0.03, 0.9]])
    fig = fi.per_layer_lines_figure([1, 2, 3], norms, title="Gradient norm per layer", y_title="‖dL/dW‖",
                                    log_y=True)
    assert fig.layout.yaxis.type == "log"
    shown = [t for v, t in zip(fig.layout.yaxis.tickvals, fig.layout.yaxis.ticktext) if 0.004 <= v <= 0.9]
    assert shown == ["0.005", "0.01", "0.02", "0.05", "0.1", "0.2", "0.5"]


def test_histogram_panels_keep_their_tick_labels_away_from_their_neighbours() -> None:
    rng = np.random.default_rng(0)
    arrays = [rng.normal(0, s, 5000) for s in (0.03, 0.1, 0.4)] + [rng.uniform(0.2, 0.9, 100)]
    fig = fi.histograms_figure(arrays, ["hidden 1", "hidden 2", "hidden 3", "output"], title="Weights",
                               x_title="weight")
    for j in range(4):
        axis = fig.layout[f"xaxis{'' if j == 0 else j + 1}"]
        centres = np.asarray(fig.data[j].x)
        low, high = centres.min(), centres.max()
        assert 1 <= len(axis.tickvals) <= 3
        for v in axis.tickvals:  # every tick well inside its own panel, none at an edge
            assert low + 0.15 * (high - low) <= v <= high - 0.15 * (high - low)
        assert all(t in (tick_text(v), "") for v, t in zip(axis.tickvals, axis.ticktext)) and axis.ticktext[0]
    domains = [fig.layout[f"xaxis{'' if j == 0 else j + 1}"].domain for j in range(4)]
    assert all(b[0] - a[1] >= 0.07 for a, b in pairwise(domains))  # a gap between panels


def test_long_tick_labels_in_a_narrow_panel_leave_every_other_one_blank() -> None:
    """Seen in chromium: Inspect's gradient panels read "-0.0020 0.002" (labels -0.002, 0 and 0.002 touching)."""
    rng = np.random.default_rng(0)
    gradients = [rng.normal(0, s, 5000) for s in (0.0015, 0.0025, 0.008)]
    fig = fi.histograms_figure(gradients, ["hidden 1", "hidden 2", "output"], title="Gradients", x_title="dL/dW")
    for j in range(2):
        axis = fig.layout[f"xaxis{'' if j == 0 else j + 1}"]
        assert len(axis.tickvals) == 3 and axis.ticktext[1] == "", axis.ticktext
        assert axis.ticktext[0] == tick_text(axis.tickvals[0]) and axis.ticktext[2] == tick_text(axis.tickvals[2])
    assert list(fig.layout.xaxis3.ticktext) == ["-0.02", "0"]  # two ticks far enough apart keep both labels
    assert spaced_ticktext([-0.5, 0.0, 0.5], -1.0, 1.0, room_chars=40) == ["-0.5", "0", "0.5"]  # room enough
    assert spaced_ticktext([-0.002, 0.0, 0.002], -0.006, 0.006, room_chars=16) == ["-0.002", "", "0.002"]


def test_inner_ticks_are_round_and_at_most_three() -> None:
    assert inner_ticks(-0.5, 0.5) == [-0.2, 0.0, 0.2]
    assert inner_ticks(-0.081, 0.079) == [-0.05, 0.0, 0.05]
    assert inner_ticks(0.0, 0.0) == [0.0]
    assert inner_ticks(float("nan"), 1.0) == []


def test_inner_ticks_find_two_or_three_for_any_range() -> None:
    rng = np.random.default_rng(0)
    for _ in range(5000):
        low = rng.uniform(-1, 0.5)
        high = low + 10 ** rng.uniform(-4, 1)
        ticks = inner_ticks(low, high)
        margin = 0.18 * (high - low)
        assert 2 <= len(ticks) <= 3, (low, high, ticks)
        assert all(low + margin - 1e-12 <= t <= high - margin + 1e-12 for t in ticks), (low, high, ticks)
