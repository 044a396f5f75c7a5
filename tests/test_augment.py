"""Augmentation: what each distortion does to an image, checked by its geometry and statistics."""

from __future__ import annotations

import numpy as np
import pytest

from nn.augment import Augmenter, affine, augment_batch, preview, shift
from nn.config import AugmentConfig


def _blob_images(n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 784) float32 images: a random bright rectangle well inside the frame."""
    X = np.zeros((n, 28, 28), np.float32)
    for i in range(n):
        r, c = rng.integers(9, 14, size=2)
        h, w = rng.integers(3, 6, size=2)
        X[i, r : r + h, c : c + w] = rng.uniform(0.5, 1.0)
    return X.reshape(n, 784)


def _centre_of_mass(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    imgs = X.reshape(-1, 28, 28)
    mass = imgs.sum(axis=(1, 2))
    rows = (imgs.sum(axis=2) * np.arange(28)).sum(axis=1) / mass
    cols = (imgs.sum(axis=1) * np.arange(28)).sum(axis=1) / mass
    return rows, cols


def test_shift_moves_centre_of_mass_by_the_shift() -> None:
    rng = np.random.default_rng(0)
    X = _blob_images(20, rng)
    dx = rng.integers(-4, 5, size=20)
    dy = rng.integers(-4, 5, size=20)
    rows0, cols0 = _centre_of_mass(X)
    for moved in (shift(X, dx, dy), affine(X, np.zeros(20), dx, dy)):
        rows1, cols1 = _centre_of_mass(moved)
        np.testing.assert_allclose(cols1 - cols0, dx, atol=1e-4)
        np.testing.assert_allclose(rows1 - rows0, dy, atol=1e-4)
        np.testing.assert_allclose(moved.sum(axis=1), X.sum(axis=1), rtol=1e-5)  # nothing fell off


def test_shift_off_the_edge_brings_in_zeros() -> None:
    X = np.ones((1, 784), np.float32)
    out = shift(X, np.array([3]), np.array([-2])).reshape(28, 28)
    assert np.all(out[:, :3] == 0) and np.all(out[-2:, :] == 0)
    assert np.all(out[:-2, 3:] == 1)


def test_rotate_by_90_equals_rot90() -> None:
    rng = np.random.default_rng(1)
    X = rng.random((5, 784), dtype=np.float32)
    out = affine(X, np.full(5, 90.0), np.zeros(5), np.zeros(5))
    expected = np.rot90(X.reshape(5, 28, 28), k=1, axes=(1, 2)).reshape(5, 784)
    np.testing.assert_allclose(out, expected, atol=1e-5)
    back = affine(X, np.full(5, -90.0), np.zeros(5), np.zeros(5))
    np.testing.assert_allclose(back, np.rot90(X.reshape(5, 28, 28), k=-1, axes=(1, 2)).reshape(5, 784), atol=1e-5)


def test_small_rotation_turns_a_bar_anticlockwise() -> None:
    # A horizontal bar through the centre, turned +30 degrees: its right end rises (row index falls).
    img = np.zeros((28, 28), np.float32)
    img[13:15, 4:24] = 1.0
    out = affine(img.reshape(1, 784), np.array([30.0]), np.zeros(1), np.zeros(1)).reshape(28, 28)
    right, left = out[:, 20:24], out[:, 4:8]
    rows = np.arange(28)[:, None]
    right_row = (right * rows).sum() / right.sum()
    left_row = (left * rows).sum() / left.sum()
    assert right_row < 12 and left_row > 15  # the bar sits on rows 13-14 before turning
    assert out.sum() == pytest.approx(img.sum(), rel=0.05)  # bilinear keeps the ink roughly constant


def test_zero_config_is_identity() -> None:
    X = np.random.default_rng(2).random((4, 784), dtype=np.float32)
    rng = np.random.default_rng(3)
    state = rng.bit_generator.state
    assert augment_batch(X, AugmentConfig(), rng) is X
    assert rng.bit_generator.state == state  # no random numbers used
    assert Augmenter(AugmentConfig(), 4)(X, rng) is X


def test_noise_statistics_and_clipping() -> None:
    rng = np.random.default_rng(4)
    X = np.full((200, 784), 0.5, np.float32)
    out = augment_batch(X, AugmentConfig(noise=0.1), rng)
    diff = out - X
    assert abs(diff.mean()) < 2e-3
    assert diff.std() == pytest.approx(0.1, rel=0.02)
    wide = augment_batch(X, AugmentConfig(noise=1.0), rng)
    assert wide.min() == 0.0 and wide.max() == 1.0  # clipped, and the clip is reached
    assert out.dtype == np.float32


def test_random_augmentation_respects_its_ranges() -> None:
    rng = np.random.default_rng(5)
    X = _blob_images(300, rng)
    out = augment_batch(X, AugmentConfig(shift=2), rng)
    rows0, cols0 = _centre_of_mass(X)
    rows1, cols1 = _centre_of_mass(out)
    moves = np.round(np.stack([cols1 - cols0, rows1 - rows0]))
    assert moves.min() == -2 and moves.max() == 2  # the whole range is used, and no more
    assert set(np.unique(moves)) == {-2, -1, 0, 1, 2}


def test_same_seed_same_result_and_buffers_reused() -> None:
    X = np.random.default_rng(6).random((16, 784), dtype=np.float32)
    cfg = AugmentConfig(shift=2, rotate=15, noise=0.05)
    a = Augmenter(cfg, 16)(X, np.random.default_rng(7)).copy()
    b = augment_batch(X, cfg, np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    aug = Augmenter(cfg, 32)
    first = aug(X, np.random.default_rng(8))
    second = aug(X[:10], np.random.default_rng(8))
    assert second.shape == (10, 784) and np.shares_memory(first, second)
    with pytest.raises(ValueError, match="capacity"):
        aug(np.zeros((33, 784), np.float32), np.random.default_rng(0))


def test_float64_stays_float64() -> None:
    X = np.random.default_rng(9).random((3, 784))
    out = augment_batch(X, AugmentConfig(shift=1, rotate=10, noise=0.01), np.random.default_rng(0))
    assert out.dtype == np.float64 and out.shape == (3, 784)
    assert 0.0 <= out.min() and out.max() <= 1.0


def test_preview_shapes_and_uint8_input() -> None:
    images = np.zeros((2, 28, 28), np.uint8)
    images[:, 10:18, 12:16] = 255
    out = preview(images, AugmentConfig(shift=3, rotate=20), np.random.default_rng(0), n_variants=5)
    assert out.shape == (2, 5, 28, 28) and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    assert not np.allclose(out[0, 0], out[0, 1])  # variants differ
    plain = preview(images, AugmentConfig(), np.random.default_rng(0), n_variants=2)
    np.testing.assert_array_equal(plain[:, 0], images / 255.0)


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="784"):
        augment_batch(np.zeros((2, 28, 28), np.float32), AugmentConfig(shift=1), np.random.default_rng(0))
    with pytest.raises(ValueError, match="n_variants"):
        preview(np.zeros((1, 784)), AugmentConfig(), np.random.default_rng(0), n_variants=0)
    with pytest.raises(ValueError, match="one value per image"):
        affine(np.zeros((2, 784)), np.zeros(3), np.zeros(2), np.zeros(2))
    with pytest.raises(ValueError, match="integer"):
        shift(np.zeros((1, 784)), np.array([0.5]), np.array([0]))
