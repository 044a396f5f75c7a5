"""The "why" figures: titled, labelled, and showing the numbers they are given."""

from __future__ import annotations

import dataclasses

import numpy as np

from figures.ablation import confusion_change_figure, flipped_captions, per_class_change_figure
from figures.calibration import reliability_figure, reliability_title
from figures.contrast import attribution_figure, change_figure, new_image_figure
from figures.neighbours import neighbours_figure
from figures.palette import DIGIT_COLORS
from figures.prototypes import prototypes_figure, score_rise_figure, unit_prototype_figure
from lab.contrast import contrast
from lab.neighbours import Found
from nn.config import ModelConfig
from nn.model import MLP
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
    many = dataclasses.replace(r, counts=np.array([0, 8, 300, 6384]))
    counts_axis = reliability_figure(many, "counts").layout.yaxis2
    assert counts_axis.type == "log" and [t for t, v in zip(counts_axis.ticktext, counts_axis.tickvals)
                                          if 8 <= v <= 6384] == ["10", "100", "1,000"]  # not "10k, 1000, 100"


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


def test_the_contrast_figures_draw_the_map_the_change_and_the_new_image() -> None:
    model = MLP(ModelConfig(hidden=(32,), dtype="float64"), np.random.default_rng(0))
    x = np.zeros(784)
    x[300:320] = x[400:420] = 1.0
    order = np.argsort(-model.forward(x[None])[0])
    predicted, other = int(order[0]), int(order[1])
    c = contrast(model, x, predicted, other)
    assert c.success
    image = (x * 255).reshape(28, 28)
    fig = attribution_figure(c, image)
    assert fig.layout.title.text.startswith(f"Why {predicted} and not {other}")
    np.testing.assert_allclose(fig.data[0].z, c.attribution)
    assert fig.data[0].zmid == 0
    change = change_figure(c, image)
    assert change.layout.title.text == f"The change that makes it a {other}:<br>L2 {c.l2:.2f}"
    np.testing.assert_allclose(change.data[0].z, c.change)
    assert change.data[0].zmid == 0
    new = new_image_figure(c)
    assert new.layout.title.text.startswith(f"The new picture:<br>the network says {other}")
    np.testing.assert_allclose(new.data[0].z, np.round(c.new_image * 255))
    assert new.data[0].zmin == 0 and new.data[0].zmax == 255


def test_the_prototype_figures_show_both_rows_and_one_line_per_digit() -> None:
    images = np.linspace(0, 1, 10 * 784).reshape(10, 784)
    means = np.full((10, 28, 28), 100.0)
    fig = prototypes_figure(images, means)
    z = np.asarray(fig.data[0].z, dtype=float)
    np.testing.assert_allclose(z[0:28, 0:28], images[0].reshape(28, 28) * 255, rtol=1e-6)
    assert np.nanmax(z[40:, :]) == 100.0  # the bottom row: the averages
    assert list(fig.data[1].text[:2]) == ["perfect 0", "perfect 1"] and fig.data[1].text[10] == "average 0"
    rise = score_rise_figure(np.cumsum(np.ones((5, 10)), axis=0))
    assert len(rise.data) == 10 and [t.line.color for t in rise.data] == list(DIGIT_COLORS)
    assert rise.layout.xaxis.title.text and rise.layout.yaxis.title.text
    unit = unit_prototype_figure(images[3], 17)
    assert unit.layout.title.text == "What excites unit 17 most" and unit.data[0].zmax == 255


def test_the_neighbours_figure_names_the_majority_and_captions_each_digit() -> None:
    found = Found(space="hidden 2", indices=np.array([5, 9, 2]), similarity=np.array([0.99, 0.95, 0.9]),
                  labels=np.array([4, 4, 9]))
    fig = neighbours_figure(found, np.zeros((3, 28, 28), np.uint8))
    assert fig.layout.title.text == "In hidden 2 it looks like these 4s: 2 of the 3 nearest training digits"
    assert list(fig.data[1].text) == ["4 · 0.990", "4 · 0.950", "9 · 0.900"]
    assert list(fig.data[2].customdata) == [5, 9, 2]
