"""The "why" figures: titled, labelled, and showing the numbers they are given."""

from __future__ import annotations

import numpy as np

from figures.calibration import reliability_figure, reliability_title
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
