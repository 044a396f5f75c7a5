"""What the trainer needs from the data: a seeded split, float inputs, batches.

The uint8 images stay as they are (47 MB, shared); conversion to float32 in
[0, 1] happens one batch at a time, so no 188 MB float copy is ever made.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

DEFAULT_VAL_SIZE = 5000


def split_indices(n: int, val_size: int = DEFAULT_VAL_SIZE,
                  rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Hold ``val_size`` of ``n`` examples out for validation, chosen by ``rng``.

    Returns ``(train_idx, val_idx)``: disjoint, sorted int64 index arrays that
    together cover ``range(n)``. The same seed gives the same split.
    """
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"split_indices needs rng=np.random.Generator (e.g. np.random.default_rng(0)), "
                         f"got {rng!r}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if isinstance(val_size, bool) or not isinstance(val_size, (int, np.integer)) or not 0 <= val_size < n:
        raise ValueError(f"val_size must be an integer in [0, {n}) so some training data is left, "
                         f"got {val_size!r}")
    order = rng.permutation(n)
    return np.sort(order[val_size:]), np.sort(order[:val_size])


def to_float(x: np.ndarray) -> np.ndarray:
    """uint8 images ``(n, 28, 28)`` or ``(n, 784)`` (or one image) -> float32 ``(n, 784)`` in [0, 1]."""
    x = np.asarray(x)
    if x.dtype != np.uint8:
        raise ValueError(f"to_float expects uint8 pixels 0-255, got dtype {x.dtype}")
    if x.shape[-2:] == (28, 28) or x.shape[-1:] == (784,):
        flat = x.reshape(-1, 784)  # also turns one image into a batch of one
    else:
        raise ValueError(f"to_float expects images of 28x28 or 784 pixels, got shape {x.shape}")
    out = flat.astype(np.float32)
    out *= np.float32(1 / 255)
    return out


def batches(images: np.ndarray, labels: np.ndarray, batch_size: int, *,
            indices: np.ndarray | None = None, rng: np.random.Generator | None = None,
            drop_last: bool = False) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(X (b, 784) float32 in [0, 1], y (b,) int64)`` over ``indices`` (default: all).

    With ``rng`` the order is shuffled (a fresh permutation each call), otherwise
    kept. The last batch may be smaller unless ``drop_last``.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    order = np.arange(len(images)) if indices is None else np.asarray(indices)
    if rng is not None:
        order = rng.permutation(order)
    stop = len(order) - len(order) % batch_size if drop_last else len(order)
    for start in range(0, stop, batch_size):
        idx = order[start:start + batch_size]
        yield to_float(images[idx]), labels[idx].astype(np.int64)
