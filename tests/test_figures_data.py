"""Dataset figures and the Data page's statistics (lab/dataset_stats.py), called directly on small arrays."""

from __future__ import annotations

import numpy as np
import pytest

from figures.data import (augmentation_figure, average_digits_figure, class_counts_figure, pixel_histogram_figure,
                          sample_grid_figure, tile)
from figures.palette import DIGIT_COLORS, PIXEL_SCALE, diverging_kwargs
from lab.dataset_stats import class_means, data_stats, pick_per_class, pixel_counts


def test_tile_places_each_image_with_transparent_gaps() -> None:
    images = np.arange(2 * 3 * 2 * 2, dtype=np.float32).reshape(2, 3, 2, 2)
    out = tile(images, gap=1)
    assert out.shape == (2 * 3 - 1, 3 * 3 - 1)
    np.testing.assert_array_equal(out[3:5, 6:8], images[1, 2])
    np.testing.assert_array_equal(out[0:2, 3:5], images[0, 1])
    assert np.isnan(out[2]).all() and np.isnan(out[:, 2]).all()
    with pytest.raises(ValueError, match="shape"):
        tile(np.zeros((3, 28, 28)))


def test_pick_per_class_gives_distinct_examples_of_each_digit() -> None:
    labels = np.repeat(np.arange(10), 7)
    idx = pick_per_class(labels, 5, np.random.default_rng(0))
    assert idx.shape == (10, 5)
    for digit in range(10):
        assert (labels[idx[digit]] == digit).all() and len(set(idx[digit])) == 5
    with pytest.raises(ValueError, match="digit 0"):
        pick_per_class(labels, 8, np.random.default_rng(0))


def test_sample_grid_draws_raw_pixels_on_the_fixed_grey_scale() -> None:
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (10, 3, 28, 28), dtype=np.uint8)
    fig = sample_grid_figure(images)
    heat = fig.data[0]
    z = np.asarray(heat.z, dtype=np.float32)
    np.testing.assert_array_equal(z[30 * 4: 30 * 4 + 28, 30: 58], images[4, 1])  # digit 4, second example
    assert (heat.zmin, heat.zmax) == (0, 255)  # never stretched to the image's own range
    assert heat.showscale is False
    assert fig.layout.yaxis.autorange == "reversed" and fig.layout.yaxis.scaleanchor == "x"  # upright, square
    assert list(fig.layout.yaxis.ticktext) == [str(d) for d in range(10)]
    assert list(fig.data[1].marker.color) == list(DIGIT_COLORS)
    with pytest.raises(ValueError, match="10, n, 28, 28"):
        sample_grid_figure(images[:9])


def test_class_counts_are_bincounts_in_digit_colours() -> None:
    y_train = np.array([0, 0, 1, 9, 9, 9])
    y_test = np.array([3])
    fig = class_counts_figure(y_train, y_test)
    train, test = fig.data
    assert list(train.y) == [2, 1, 0, 0, 0, 0, 0, 0, 0, 3]
    assert list(test.y) == [0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
    assert list(train.marker.color) == list(DIGIT_COLORS)
    assert fig.layout.xaxis.title.text == "digit" and fig.layout.yaxis.title.text


def test_class_means_and_their_figure() -> None:
    images = np.zeros((4, 28, 28), np.uint8)
    images[0, 0, 0] = 200
    images[1, 0, 0] = 100
    images[2] = 255
    labels = np.array([3, 3, 7, 1])
    means = class_means(images, labels)
    np.testing.assert_array_equal(class_means(images, labels, chunk=1), means)  # chunked sums add up
    assert means.shape == (10, 28, 28)
    assert means[3, 0, 0] == 150 and means[3, 1, 1] == 0
    assert (means[7] == 255).all() and (means[1] == 0).all() and (means[0] == 0).all()  # no 0s: all zero
    fig = average_digits_figure(means)
    z = np.asarray(fig.data[0].z, dtype=np.float32)
    np.testing.assert_array_equal(z[:, 7 * 31: 7 * 31 + 28], means[7])  # gap 3 between tiles
    assert (fig.data[0].zmin, fig.data[0].zmax) == (0, 255)


def test_pixel_histogram_counts_every_pixel() -> None:
    images = np.array([[0, 0, 255], [3, 0, 255]], np.uint8)
    counts = pixel_counts(images)
    assert counts.shape == (256,) and counts.sum() == 6
    np.testing.assert_array_equal(pixel_counts(images, chunk=4), counts)  # chunked counting adds up
    assert counts[0] == 3 and counts[255] == 2 and counts[3] == 1
    fig = pixel_histogram_figure(counts)
    assert list(fig.data[0].y[:4]) == [3, 0, 0, 1]
    assert fig.layout.yaxis.type == "log"
    with pytest.raises(ValueError, match="uint8"):
        pixel_counts(images.astype(np.float32))
    with pytest.raises(ValueError, match="256"):
        pixel_histogram_figure(counts[:10])



def test_data_stats_are_the_two_statistics_shared_read_only() -> None:
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (50, 28, 28)).astype(np.uint8)
    labels = np.arange(50) % 10
    stats = data_stats(images, labels)
    np.testing.assert_array_equal(stats.means, class_means(images, labels))
    np.testing.assert_array_equal(stats.pixel_counts, pixel_counts(images))
    with pytest.raises(ValueError, match="read-only"):
        stats.means[0, 0, 0] = 1  # one copy serves every session: nobody may change it


def test_augmentation_preview_puts_the_original_first_on_the_same_scale() -> None:
    originals = np.full((2, 28, 28), 255, np.uint8)
    variants = np.full((2, 3, 28, 28), 0.5, np.float32)
    fig = augmentation_figure(originals, variants, labels=[4, 7])
    z = np.asarray(fig.data[0].z, dtype=np.float32)
    assert z.shape == (2 * 30 - 2, 4 * 30 - 2)
    assert (z[:28, :28] == 255).all()  # the original, untouched
    assert (z[:28, 30:58] == 127.5).all()  # a variant in [0, 1] drawn on the 0..255 scale
    assert list(fig.layout.yaxis.ticktext) == ["4", "7"]
    assert list(fig.data[1].marker.color) == [DIGIT_COLORS[4], DIGIT_COLORS[7]]
    with pytest.raises(ValueError, match="k, v, 28, 28"):
        augmentation_figure(originals, variants[:1])


def test_palette_is_one_colour_per_digit_and_zero_centred_for_signed_values() -> None:
    assert len(set(DIGIT_COLORS)) == 10
    kw = diverging_kwargs(np.array([-0.2, 0.5, 0.1]))
    assert kw["zmid"] == 0 and kw["zmin"] == -0.5 and kw["zmax"] == 0.5
    assert diverging_kwargs(np.zeros(3))["zmax"] > 0  # all-zero weights still get a usable scale
    assert PIXEL_SCALE == "Greys"
