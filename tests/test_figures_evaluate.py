"""Evaluate-page figures: the numbers land in the right cells, digits the right way up."""

from __future__ import annotations

import numpy as np
import pytest

from figures import evaluate as fe
from figures.tiles import FRAME_VALUE, tile_images
from nn import metrics


def labelled_predictions(n: int = 500, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels and softmax probabilities of a noisy classifier (about 80% right)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    logits = rng.normal(0, 1, (n, 10))
    logits[np.arange(n), y] += 2.5
    proba = np.exp(logits)
    return y, proba / proba.sum(axis=1, keepdims=True)


def heatmap(fig):
    return next(t for t in fig.data if t.type == "heatmap")


def targets(fig):
    return next(t for t in fig.data if t.type == "scatter" and t.mode == "markers")


def test_confusion_counts_sum_to_the_test_set_and_the_diagonal_to_the_correct_ones() -> None:
    y, proba = labelled_predictions()
    pred = proba.argmax(axis=1)
    cm = metrics.confusion_matrix(y, pred)
    z = np.asarray(heatmap(fe.confusion_figure(cm)).z)

    assert z.shape == (10, 10)
    assert z.sum() == len(y)
    assert np.trace(z) == np.count_nonzero(pred == y)
    # Row t, column p holds the digits of class t predicted as p.
    t, p = 3, 5
    assert z[t, p] == np.count_nonzero((y == t) & (pred == p))


def test_row_normalised_view_sums_to_one_per_row_and_keeps_zero_rows_zero() -> None:
    cm = np.array([[8, 2, 0], [0, 0, 0], [1, 1, 2]])
    z = np.asarray(heatmap(fe.confusion_figure(cm, normalised=True)).z)
    np.testing.assert_allclose(z.sum(axis=1), [1.0, 0.0, 1.0])
    np.testing.assert_allclose(z[0], [0.8, 0.2, 0.0])


def test_each_cell_has_a_clickable_point_with_its_true_predicted_and_count() -> None:
    cm = np.arange(100).reshape(10, 10)
    fig = fe.confusion_figure(cm, selected=(7, 2))
    pts = targets(fig)
    custom = np.asarray(pts.customdata)
    assert custom.shape == (100, 3)
    for (x, y, (t, p, count)) in zip(pts.x, pts.y, custom):
        assert (x, y) == (p, t)  # columns are predictions, rows true labels
        assert count == cm[t, p]
    assert pts.marker.opacity == 0  # invisible: the heatmap is what you see
    (shape,) = fig.layout.shapes
    assert (shape.x0 + shape.x1) / 2 == 2 and (shape.y0 + shape.y1) / 2 == 7


def test_colour_scale_is_capped_at_the_largest_mistake_and_rows_run_top_down() -> None:
    cm = np.diag([100] * 4) + np.array([[0, 3, 0, 0], [0, 0, 7, 0], [1, 0, 0, 0], [0, 0, 0, 0]])
    fig = fe.confusion_figure(cm)
    assert heatmap(fig).zmax == 7
    assert fe.confusion_figure(cm, errors_only_scale=False).data[0].zmax == 100
    assert fig.layout.yaxis.range[0] > fig.layout.yaxis.range[1]  # true digit 0 at the top
    assert fig.layout.title.text and fig.layout.xaxis.title.text and fig.layout.yaxis.title.text


def test_top_k_text_never_rounds_to_a_false_certainty() -> None:
    assert fe.top_k_text(np.array([5, 3, 8]), np.array([0.82, 0.12, 0.031])) == "5 82% · 3 12% · 8 3%"
    assert fe.top_k_text(np.array([4, 7]), np.array([0.9996, 0.0003])) == "4 >99.9% · 7 <0.1%"  # as on every page (lab/format.py)
    assert fe.top_k_text(np.array([1, 2]), np.array([1.0, 0.0])) == "1 100% · 2 0%"


def test_gallery_places_each_digit_upright_with_its_customdata() -> None:
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (7, 28, 28)).astype(np.uint8)
    images[:, 0, :] = 255  # a bar along the top row of every digit
    images[:, 1:, :] = np.minimum(images[:, 1:, :], 200)
    ids = np.arange(100, 107)
    fig = fe.digit_gallery_figure(images, [f"#{i}" for i in ids], ids, title="Gallery", cols=3)

    z = np.asarray(heatmap(fig).z, dtype=float)
    pts = targets(fig)
    assert list(pts.customdata) == list(ids)
    for k, (cx, cy) in enumerate(zip(pts.x, pts.y)):
        r0, c0 = int(round(cy - 13.5)), int(round(cx - 13.5))
        np.testing.assert_array_equal(z[r0:r0 + 28, c0:c0 + 28], images[k])
    # Row 0 of the mosaic is drawn at the top, and pixels are square.
    assert fig.layout.yaxis.range[0] > fig.layout.yaxis.range[1]
    assert fig.layout.xaxis.scaleanchor == "y"
    assert heatmap(fig).zmin == 0 and heatmap(fig).zmax == 255
    captions = next(t for t in fig.data if t.type == "scatter" and t.mode == "text")
    assert list(captions.text) == [f"#{i}" for i in ids]


def test_gallery_refuses_mismatched_captions() -> None:
    with pytest.raises(ValueError, match="3 images"):
        fe.digit_gallery_figure(np.zeros((3, 28, 28), np.uint8), ["a"], np.arange(3), title="x")


def test_tiles_are_framed_and_separated() -> None:
    mosaic = tile_images(np.full((2, 4, 4), 9.0), cols=2, gap=3, frame=FRAME_VALUE)
    cx, cy = mosaic.centers[1]
    r0, c0 = int(cy - 1.5), int(cx - 1.5)
    assert (mosaic.z[r0:r0 + 4, c0:c0 + 4] == 9).all()
    assert mosaic.z[r0 - 1, c0] == FRAME_VALUE and mosaic.z[r0, c0 - 1] == FRAME_VALUE
    assert np.isnan(mosaic.z[r0, c0 - 2])  # the gap between tiles is transparent


def test_abstention_figure_draws_the_metrics_curve_and_the_chosen_threshold() -> None:
    y, proba = labelled_predictions()
    curve = metrics.abstention_curve(proba, y, np.linspace(0.1, 1.0, 10))
    fig = fe.abstention_figure(curve.thresholds, curve.coverage, curve.accuracy, threshold=0.4)
    acc, cov = fig.data
    np.testing.assert_allclose(acc.y, curve.accuracy)
    np.testing.assert_allclose(cov.y, curve.coverage)
    assert cov.y[0] == 1.0  # the top probability among 10 classes is never below 0.1
    assert {s.x0 for s in fig.layout.shapes} == {0.4}
    assert fig.layout.yaxis.title.text and fig.layout.yaxis2.title.text and fig.layout.xaxis.title.text


def test_per_class_bars_carry_the_report_values() -> None:
    y, proba = labelled_predictions()
    report = metrics.per_class_report(y, proba.argmax(axis=1))
    fig = fe.per_class_figure(report)
    names = [t.name for t in fig.data]
    assert names == ["precision", "recall", "F1"]
    np.testing.assert_allclose(fig.data[1].y, report["recall"].to_numpy())
    assert list(fig.data[0].x) == [str(c) for c in range(10)]
    assert fig.layout.yaxis.range[0] <= report[["precision", "recall", "f1"]].to_numpy().min()
