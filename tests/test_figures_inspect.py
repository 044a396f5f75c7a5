"""Inspect-page figures, on tiny models and hand-made arrays (the analyses behind them: test_lab_analyses.py)."""

from __future__ import annotations

import numpy as np
import pytest

from figures import inspect as fi
from figures import output_layer as fo
from nn.config import ModelConfig
from nn.model import MLP


def tiny_model(hidden=(6, 5), activation="tanh", seed=0) -> MLP:
    return MLP(ModelConfig(hidden=hidden, activation=activation, dtype="float64"), np.random.default_rng(seed))


def heatmap(fig):
    return next(t for t in fig.data if t.type == "heatmap")


def test_filter_grid_shows_each_units_weights_as_an_upright_28x28_tile() -> None:
    rng = np.random.default_rng(0)
    W1 = rng.normal(0, 0.1, (784, 20))
    units = [7, 2, 19]
    fig = fi.filter_grid_figure(W1, units, cols=2)
    z = np.asarray(heatmap(fig).z, dtype=float)
    pts = next(t for t in fig.data if t.type == "scatter")
    assert list(pts.customdata) == units
    for unit, cx, cy in zip(units, pts.x, pts.y):
        r0, c0 = int(round(cy - 13.5)), int(round(cx - 13.5))
        # Pixel (row, column) of the image is weight row*28 + column: the filter is not transposed.
        np.testing.assert_allclose(z[r0:r0 + 28, c0:c0 + 28], W1[:, unit].reshape(28, 28), rtol=1e-6)
    hm = heatmap(fig)
    assert hm.zmid == 0 and hm.zmin == -hm.zmax  # diverging, centred on zero
    assert fig.layout.yaxis.range[0] > fig.layout.yaxis.range[1]
    assert fig.layout.xaxis.scaleanchor == "y"


def test_per_filter_scale_stretches_every_filter_to_its_own_peak() -> None:
    W1 = np.zeros((784, 3))
    W1[10, 0], W1[20, 1], W1[30, 2] = 0.5, -0.01, 3.0
    fig = fi.filter_grid_figure(W1, [0, 1, 2], shared_scale=False, cols=3)
    z = np.asarray(heatmap(fig).z, dtype=float)
    assert np.nanmax(np.abs(z)) == pytest.approx(1.0)
    assert np.nanmin(z) == pytest.approx(-1.0)  # the faint negative filter is as visible as the strong one
    shared = fi.filter_grid_figure(W1, [0, 1, 2], cols=3, zrange=(-4.0, 4.0))
    assert heatmap(shared).zmax == 4.0


def test_filter_grid_refuses_bad_units() -> None:
    with pytest.raises(ValueError, match="units must be in"):
        fi.filter_grid_figure(np.zeros((784, 4)), [4])
    with pytest.raises(ValueError, match="784"):
        fi.filter_grid_figure(np.zeros((100, 4)), [0])


def test_class_effect_bars_are_relative_to_the_mean() -> None:
    fig = fi.class_effect_figure(np.array([1.0, 2.0, 3.0, 6.0]), unit=5)
    np.testing.assert_allclose(fig.data[0].y, [-2.0, -1.0, 0.0, 3.0])
    assert "unit 5" in fig.layout.title.text


def test_digit_figure_is_upright_square_and_on_the_fixed_pixel_range() -> None:
    image = np.zeros((28, 28), np.uint8)
    image[0, :] = 255  # the top row
    fig = fi.digit_figure(image, "A digit")
    hm = heatmap(fig)
    np.testing.assert_array_equal(np.asarray(hm.z)[0], 255)
    assert fig.layout.yaxis.autorange == "reversed"
    assert fig.layout.xaxis.scaleanchor == "y"
    assert (hm.zmin, hm.zmax) == (0, 255)


def test_layer_activity_and_probabilities() -> None:
    pre = np.array([-1.0, 0.5, 2.0])
    fig = fi.layer_activity_figure(pre, np.maximum(pre, 0), "hidden 1", "relu")
    np.testing.assert_allclose(fig.data[0].y, pre)
    np.testing.assert_allclose(fig.data[1].y, [0.0, 0.5, 2.0])
    assert "2 of 3" in fig.layout.title.text

    proba = np.array([0.1, 0.7, 0.2])
    fig = fo.probability_figure(proba, true_label=2)
    assert list(fig.data[0].marker.line.width) == [0, 0, 3]  # the true class is outlined
    assert "predicts 1" in fig.layout.title.text


def test_probability_labels_read_as_on_the_draw_and_evaluate_pages() -> None:
    from figures import draw as fd
    from figures import evaluate as fe

    proba = np.array([0.9996, 0.00004, 0.00036])
    labels = list(fo.probability_figure(proba).data[0].text)
    assert labels == [">99.9%", "<0.1%", "<0.1%"]  # never a rounded 100% or 0%
    assert labels[0] == fd.percent(proba[0])
    assert fe.top_k_text(np.arange(3), proba) == " · ".join(f"{k} {text}" for k, text in enumerate(labels))


def test_pca_map_has_every_digit_once_and_marks_exactly_the_mistakes() -> None:
    rng = np.random.default_rng(4)
    n = 60
    labels = rng.integers(0, 10, n)
    predicted = labels.copy()
    predicted[:7] = (labels[:7] + 1) % 10
    indices = np.arange(1000, 1000 + n)
    fig = fi.pca_map_figure(rng.normal(size=(n, 2)), labels, predicted, indices, layer="hidden 2",
                            explained=[0.4, 0.2], selected=1003)
    points = [t for t in fig.data if t.name != "selected"]
    shown = np.concatenate([np.asarray(t.customdata) for t in points])
    assert sorted(shown) == list(indices)
    mistakes = next(t for t in fig.data if t.name == "mistake")
    assert sorted(mistakes.customdata) == list(indices[:7])
    assert "40%" in fig.layout.xaxis.title.text and "20%" in fig.layout.yaxis.title.text
    assert any(t.name == "selected" for t in fig.data)


def test_lines_histograms_and_snapshots() -> None:
    fig = fi.per_layer_lines_figure([1, 2, 3], np.array([[1, 2], [2, 3], [3, 4.0]]), title="Norms",
                                    y_title="‖W‖", names=["hidden 1", "output"])
    assert [t.name for t in fig.data] == ["hidden 1", "output"]
    with pytest.raises(ValueError, match="epochs=3"):
        fi.per_layer_lines_figure([1, 2, 3], np.zeros((2, 2)), title="x", y_title="y")

    model = tiny_model()
    fig = fi.histograms_figure(model.weights, ["h1", "h2", "out"], title="Weights", x_title="weight")
    assert len(fig.data) == 3 and fig.data[2].xaxis == "x3"

    snaps = [(0, model.weights[0] * 0.5), (1, model.weights[0]), (2, model.weights[0] * 2)]
    fig = fi.snapshot_distribution_figure(snaps)
    assert list(fig.data[0].x) == [0, 1, 2]
    assert np.asarray(fig.data[0].z).shape[1] == 3
    with pytest.raises(ValueError):
        fi.snapshot_distribution_figure([])


def test_filter_stats() -> None:
    W1 = np.zeros((784, 2))
    W1[0, 1], W1[1, 1] = 3.0, -4.0
    frame = fi.filter_stats_frame(W1, np.array([0.0, 0.25]), np.array([0.0, 0.5]), unit=1)
    values = dict(zip(frame["statistic"], frame["value"]))
    assert values["weight norm ‖w‖"] == "5.000"
    assert values["largest negative weight"] == "-4.000"
    assert values["active on (share of sampled test digits)"] == "50.0%"
