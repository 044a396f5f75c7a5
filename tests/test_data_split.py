"""The helpers the trainer uses: seeded split, float conversion, batches."""

from __future__ import annotations

import numpy as np
import pytest

from nn.data import batches, split_indices, to_float


def test_split_is_disjoint_complete_and_seeded():
    train, val = split_indices(1000, 150, np.random.default_rng(3))
    assert len(train) == 850 and len(val) == 150
    assert np.array_equal(np.sort(np.concatenate([train, val])), np.arange(1000))
    again = split_indices(1000, 150, np.random.default_rng(3))
    assert np.array_equal(train, again[0]) and np.array_equal(val, again[1])
    other = split_indices(1000, 150, np.random.default_rng(4))
    assert not np.array_equal(val, other[1])
    # Held-out examples are spread over the whole range, not the last 150.
    assert val.min() < 200 and val.max() > 800


def test_split_default_holds_out_5000():
    train, val = split_indices(60000, rng=np.random.default_rng(0))
    assert len(val) == 5000 and len(train) == 55000


@pytest.mark.parametrize("n,val_size,rng,message", [
    (100, 10, None, "needs rng=np.random.Generator"),
    (100, 100, np.random.default_rng(0), r"val_size must be an integer in \[0, 100\) .* got 100"),
    (100, -1, np.random.default_rng(0), "got -1"),
    (0, 0, np.random.default_rng(0), "n must be a positive integer, got 0"),
])
def test_split_rejects_bad_arguments(n, val_size, rng, message):
    with pytest.raises(ValueError, match=message):
        split_indices(n, val_size, rng)


def test_to_float_scales_to_unit_interval():
    x = np.array([[[0, 255], [51, 102]]] * 1, dtype=np.uint8).repeat(14, axis=1).repeat(14, axis=2)
    out = to_float(x)
    assert out.dtype == np.float32 and out.shape == (1, 784)
    assert out.min() == 0.0 and out.max() == 1.0
    np.testing.assert_allclose(sorted(set(out.ravel().tolist())), [0, 0.2, 0.4, 1], rtol=1e-6)
    assert to_float(x[0]).shape == (1, 784)  # one image becomes a batch of one
    assert to_float(x.reshape(1, 784)).shape == (1, 784)


@pytest.mark.parametrize("x,message", [
    (np.zeros((2, 784), np.float32), "expects uint8 pixels 0-255, got dtype float32"),
    (np.zeros((2, 100), np.uint8), r"got shape \(2, 100\)"),
])
def test_to_float_rejects(x, message):
    with pytest.raises(ValueError, match=message):
        to_float(x)


def test_batches_cover_the_indices_once_in_float32():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (50, 28, 28), dtype=np.uint8)
    labels = np.arange(50, dtype=np.uint8) % 10
    idx = np.arange(5, 45)
    seen = []
    for X, y in batches(images, labels, 16, indices=idx, rng=np.random.default_rng(1)):
        assert X.dtype == np.float32 and X.shape[1] == 784 and y.dtype == np.int64
        rows = [int(np.flatnonzero((images.reshape(50, -1) == np.rint(x * 255)).all(1))[0]) for x in X]
        assert [labels[r] for r in rows] == y.tolist()
        seen += rows
    assert sorted(seen) == idx.tolist() and seen != idx.tolist()  # all of them, shuffled
    sizes = [len(y) for _, y in batches(images, labels, 16, indices=idx)]
    assert sizes == [16, 16, 8]
    assert [len(y) for _, y in batches(images, labels, 16, indices=idx, drop_last=True)] == [16, 16]
    first, _ = next(batches(images, labels, 4))
    np.testing.assert_array_equal(first, to_float(images[:4]))  # no rng: order kept


def test_batches_reject_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        next(batches(np.zeros((2, 784), np.uint8), np.zeros(2, np.uint8), 0))
