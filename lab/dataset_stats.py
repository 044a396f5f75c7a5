"""Dataset statistics for the Data page: example picks, the mean digit per class, the pixel histogram.

Computed chunk by chunk, so the 47 MB training set is never widened to floats or 64-bit integers at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SIDE = 28


@dataclass(frozen=True)
class DataStats:
    means: np.ndarray  # (10, 28, 28) float32, mean training image per digit
    pixel_counts: np.ndarray  # (256,) over every training pixel


def data_stats(images: np.ndarray, labels: np.ndarray) -> DataStats:
    """The Data page's statistics of a training set, as read-only arrays (shared between sessions)."""
    means = class_means(images, labels)
    counts = pixel_counts(images)
    for a in (means, counts):
        a.flags.writeable = False
    return DataStats(means=means, pixel_counts=counts)


def pick_per_class(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """(10, per_class) indices: ``per_class`` random examples of each digit, without repeats."""
    labels = np.asarray(labels)
    out = np.empty((10, per_class), dtype=np.int64)
    for digit in range(10):
        where = np.flatnonzero(labels == digit)
        if where.size < per_class:
            raise ValueError(f"only {where.size} images of digit {digit}, need {per_class}")
        out[digit] = rng.choice(where, size=per_class, replace=False)
    return out


def class_means(images: np.ndarray, labels: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """(10, 28, 28) float32: the mean image of each class. images (n, 28, 28) or (n, 784) uint8.

    Sums are taken chunk by chunk as one small matrix product (one-hot labels times pixels), so the
    whole 60,000-image set is never converted to floats at once.
    """
    images = np.asarray(images).reshape(len(images), SIDE * SIDE)
    labels = np.asarray(labels, dtype=np.int64)
    sums = np.zeros((10, SIDE * SIDE), dtype=np.float64)
    for start in range(0, len(images), chunk):
        y = labels[start: start + chunk]
        onehot = (y[None, :] == np.arange(10)[:, None]).astype(np.float32)  # (10, c)
        sums += onehot @ images[start: start + chunk].astype(np.float32)
    counts = np.bincount(labels, minlength=10)[:10].astype(np.float64)
    means = sums / np.maximum(counts, 1.0)[:, None]
    return means.reshape(10, SIDE, SIDE).astype(np.float32)


def pixel_counts(images: np.ndarray, chunk: int = 4_000_000) -> np.ndarray:
    """(256,) how many pixels have each intensity 0..255. images: uint8, any shape.

    Counted in chunks: ``np.bincount`` widens its input to 64-bit integers, 8x the size of the pixels.
    """
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise ValueError(f"pixel_counts expects uint8 pixels, got {images.dtype}")
    flat = images.reshape(-1)
    counts = np.zeros(256, dtype=np.int64)
    for start in range(0, flat.size, chunk):
        counts += np.bincount(flat[start: start + chunk], minlength=256)
    return counts
