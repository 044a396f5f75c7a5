"""The "why" figures: titled, labelled, and showing the numbers they are given."""

from __future__ import annotations

import numpy as np

from figures.ablation import confusion_change_figure, flipped_captions, per_class_change_figure
from figures.calibration import reliability_figure, reliability_title
from figures.palette import DIGIT_COLORS
from nn.explain.calibration import reliability


def test_the_reliability_diagram_shows_each_bins_accuracy_confidence_and_count() -> None:
    proba = np.array([[0.95, 0.05], [0.9, 0.1], [0.6, 0.4], [0.55, 0.45]])
    r = reliability(proba, np.array([0, 1, 0, 0]), n_bins=4)
    fig = reliability_figure(r, reliability_title(r))
    assert fig.layout.title.text.startswith("Before temperature scaling: ECE ")
    assert fig.layout.xaxis.title.text and fig.layout.yaxis.title.text and fig.layout.yaxis2.title.text
    bars, diamonds, _, counts = fig.data
    np.testing.assert_allclose(bars.y, [0, 0, 1.0, 0.5])
    np.testing.assert_allclose(diamonds.y, [0.575, 0.925])
    assert list(counts.text) == ["0", "0", "2", "2"]
    assert reliability_title(r, 1.5).startswith("After dividing the scores by T = 1.50")


def test_the_ablation_figures_show_the_changes_they_are_given() -> None:
    intact, ablated = np.linspace(0.9, 1.0, 10), np.linspace(0.5, 0.6, 10)
    fig = per_class_change_figure(intact, ablated)
    assert fig.layout.title.text and fig.layout.xaxis.title.text and fig.layout.yaxis.title.text
    np.testing.assert_allclose(fig.data[0].y, intact)
    np.testing.assert_allclose(fig.data[1].y, ablated)
    assert list(fig.data[1].marker.color) == list(DIGIT_COLORS)
    delta = np.zeros((10, 10), int)
    delta[7, 7], delta[7, 1] = -3, 3
    heat = confusion_change_figure(delta).data[0]
    assert heat.zmid == 0 and heat.zmin == -3 and heat.zmax == 3 and heat.colorscale is not None
    assert heat.text[7][7] == "-3" and heat.text[7][1] == "+3" and heat.text[0][0] == ""
    captions = flipped_captions(np.array([1]), np.array([3, 7]), np.array([0, 7]), np.array([0, 1]))
    assert captions == ["#1 · true 7<br>7 → 1"]
