"""Data augmentation: random shifts, rotations and pixel noise for a training batch.

A network that has only ever seen centred, upright digits is thrown by a digit
written a little to the left or slanted. Showing it randomly moved copies of
the training images teaches it that those changes do not change the label.

Everything here works on the whole batch at once (no Python loop over images).
Rotation and shift are one affine map per image: for every *output* pixel we
compute where it comes from in the *source* image (the inverse map), for all
images at the same time, and read the source by bilinear interpolation with one
NumPy gather. Pixels that come from outside the image are 0 (blank paper).

Coordinates: x runs right along a row, y runs down the image, and the centre
of rotation is the image centre (13.5, 13.5). A positive angle turns the digit
anticlockwise as you look at it, the same direction as ``np.rot90``.

Speed: this runs before every training step, so :class:`Augmenter` keeps its
work arrays between calls and writes into them with ``out=``. (On the machines
this was built on, a fresh 400 KB temporary costs more than the arithmetic on
it, because the memory is mapped afresh each time.)
"""

from __future__ import annotations

import numpy as np

from nn.config import AugmentConfig

SIDE = 28
PIXELS = SIDE * SIDE
_CENTRE = (SIDE - 1) / 2.0
_P = SIDE + 2  # padded side: one row/column of zeros all round keeps every read in bounds

# Each output pixel's coordinates relative to the centre, shared by every call: (784,) each.
_ROWS, _COLS = np.divmod(np.arange(PIXELS), SIDE)
_U = _COLS - _CENTRE  # x
_V = _ROWS - _CENTRE  # y


class Augmenter:
    """Applies one :class:`AugmentConfig` to batches of up to ``capacity`` images.

    ``augmenter(X, rng)`` returns the distorted batch in an internal buffer that
    the next call overwrites (the trainer uses it at once). Each image gets its
    own integer shift in [-shift, shift] along x and along y, its own angle
    uniform in [-rotate, rotate] degrees, then Gaussian noise of standard
    deviation ``noise``, clipped to [0, 1]. With everything at 0 the input is
    returned as it is and ``rng`` is not touched.
    """

    def __init__(self, cfg: AugmentConfig, capacity: int, dtype: str | np.dtype = "float32") -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, (int, np.integer)) or capacity < 1:
            raise ValueError(f"capacity must be a positive integer, got {capacity!r}")
        self.cfg = cfg
        self.capacity = int(capacity)
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
        self._affine = _AffineWork(self.capacity, self.dtype) if cfg.rotate > 0 else None
        self._shift = _ShiftWork(self.capacity, self.dtype, cfg.shift) if cfg.shift > 0 and cfg.rotate == 0 else None
        self._noise = np.empty((self.capacity, PIXELS), self.dtype) if cfg.noise > 0 else None

    def __call__(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """X: (m, 784) float in [0, 1], m <= capacity. Returns (m, 784)."""
        X = _check_batch(X, "Augmenter")
        m = X.shape[0]
        if m > self.capacity:
            raise ValueError(f"batch of {m} images exceeds this Augmenter's capacity of {self.capacity}")
        cfg = self.cfg
        if cfg.shift > 0 or cfg.rotate > 0:
            # Draw every parameter even when its range is zero-width, so the random
            # stream (and so the whole run) depends only on the config and the seed.
            dx = rng.integers(-cfg.shift, cfg.shift + 1, size=m)
            dy = rng.integers(-cfg.shift, cfg.shift + 1, size=m)
            angles = rng.uniform(-cfg.rotate, cfg.rotate, size=m)
            if self._affine is not None:
                X = self._affine.apply(X, angles, dx, dy)
            else:  # whole-pixel moves need no interpolation: one exact gather
                X = self._shift.apply(X, dx, dy)
        if self._noise is not None:
            noisy = self._noise[:m]
            rng.standard_normal(out=noisy, dtype=self.dtype)
            noisy *= self.dtype.type(cfg.noise)
            noisy += X
            X = np.clip(noisy, 0.0, 1.0, out=noisy)
        return X


class _AffineWork:
    """Work arrays for bilinear rotation + shift of up to ``n`` images."""

    def __init__(self, n: int, dtype: np.dtype) -> None:
        self.n = n
        self.dtype = dtype
        self.sx, self.sy, self.fx, self.fy, self.tmp, self.out = (np.empty((n, PIXELS), dtype) for _ in range(6))
        self.index = np.empty((n, PIXELS), np.intp)
        self.first = (np.arange(n) * (_P * _P))[:, None]  # where each image starts in `padded`
        # Zero borders are written once here and never touched again.
        self.padded = np.zeros(n * _P * _P + _P + 1, dtype)
        self.corners = np.empty((n * _P * _P, 4), dtype)
        self.gathered = np.empty((n, PIXELS, 4), dtype)

    def apply(self, X: np.ndarray, angles_deg: np.ndarray, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
        m = X.shape[0]
        t = self.dtype.type
        theta = np.deg2rad(np.asarray(angles_deg, dtype=np.float64)).reshape(m, 1)
        cos = np.cos(theta).astype(self.dtype)
        sin = np.sin(theta).astype(self.dtype)
        sx, sy, fx, fy, tmp, out = (a[:m] for a in (self.sx, self.sy, self.fx, self.fy, self.tmp, self.out))
        # Undo the shift, then the rotation: output p = R q + s  =>  source q = R^-1 (p - s).
        px, py = fx, fy  # fx, fy are free until the fractional parts are needed
        np.subtract(_U.astype(self.dtype), np.asarray(dx, self.dtype).reshape(m, 1), out=px)
        np.subtract(_V.astype(self.dtype), np.asarray(dy, self.dtype).reshape(m, 1), out=py)
        # With y pointing down, turning anticlockwise by theta maps (x, y) to
        # (x cos + y sin, -x sin + y cos); the inverse turn is below. +1: into the padded frame.
        np.multiply(cos, px, out=sx)
        sx -= np.multiply(sin, py, out=tmp)
        sx += t(_CENTRE + 1)
        np.multiply(sin, px, out=sy)
        sy += np.multiply(cos, py, out=tmp)
        sy += t(_CENTRE + 1)
        # Far-away points are clamped onto the zero border, where every neighbour reads 0.
        np.clip(sx, 0, _P - 1, out=sx)
        np.clip(sy, 0, _P - 1, out=sy)
        x0, y0 = fx, fy
        np.minimum(np.floor(sx, out=x0), t(_P - 2), out=x0)  # top-left neighbour, one short of the edge
        np.minimum(np.floor(sy, out=y0), t(_P - 2), out=y0)
        np.multiply(y0, t(_P), out=tmp)
        tmp += x0
        index = self.index[:m]
        index[...] = tmp  # small whole numbers, exact in float32
        index += self.first[:m]
        np.subtract(sx, x0, out=fx)  # fractional parts in [0, 1]
        np.subtract(sy, y0, out=fy)

        # One gather instead of four: row i of `corners` holds the 2 x 2 neighbourhood
        # whose top-left pixel is padded pixel i.
        size = m * _P * _P
        self.padded[:size].reshape(m, _P, _P)[:, 1:-1, 1:-1] = X.reshape(m, SIDE, SIDE)
        corners = self.corners[:size]
        for k, offset in enumerate((0, 1, _P, _P + 1)):
            corners[:, k] = self.padded[offset : offset + size]
        g = np.take(corners, index, axis=0, out=self.gathered[:m])  # (m, 784, 4)
        top, bottom = sx, sy  # reuse: the source coordinates are no longer needed
        np.subtract(g[..., 1], g[..., 0], out=top)
        top *= fx
        top += g[..., 0]
        np.subtract(g[..., 3], g[..., 2], out=bottom)
        bottom *= fx
        bottom += g[..., 2]
        np.subtract(bottom, top, out=out)
        out *= fy
        out += top
        return out


class _ShiftWork:
    """Work arrays for whole-pixel shifts of at most ``max_shift`` of up to ``n`` images."""

    def __init__(self, n: int, dtype: np.dtype, max_shift: int) -> None:
        self.s = max_shift
        self.side = SIDE + 2 * max_shift
        self.padded = np.zeros((n, self.side, self.side), dtype)  # borders stay zero
        self.grid = (_ROWS + max_shift) * self.side + (_COLS + max_shift)  # (784,) unshifted reads
        self.first = np.arange(n) * (self.side * self.side)
        self.index = np.empty((n, PIXELS), np.intp)
        self.out = np.empty((n, PIXELS), dtype)

    def apply(self, X: np.ndarray, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
        m = X.shape[0]
        s, side = self.s, self.side
        self.padded[:m, s : s + SIDE, s : s + SIDE] = X.reshape(m, SIDE, SIDE)
        # out[r, c] = image[r - dy, c - dx]: one offset per image on a shared grid.
        offset = self.first[:m] - np.asarray(dy) * side - np.asarray(dx)
        index = np.add(self.grid, offset[:, None], out=self.index[:m])
        return np.take(self.padded.reshape(-1), index, out=self.out[:m])


def affine(X: np.ndarray, angles_deg: np.ndarray, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """Rotate each image about its centre, then shift it, with bilinear interpolation.

    X: (n, 784) float in [0, 1]; angles_deg, dx, dy: (n,) per image: rotation in
    degrees (anticlockwise) and shift in pixels (+dx moves the digit right, +dy
    down; fractions allowed). Returns a new (n, 784) array.
    """
    X = _as_float(_check_batch(X, "affine"))
    n = X.shape[0]
    _check_per_image(n, angles_deg=angles_deg, dx=dx, dy=dy)
    return _AffineWork(max(n, 1), X.dtype).apply(X, angles_deg, dx, dy)


def shift(X: np.ndarray, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """Move each image by whole pixels (exact; what moves in is 0). X: (n, 784); dx, dy: (n,) int."""
    X = _as_float(_check_batch(X, "shift"))
    n = X.shape[0]
    _check_per_image(n, dx=dx, dy=dy)
    dx, dy = np.asarray(dx), np.asarray(dy)
    if not (np.issubdtype(dx.dtype, np.integer) and np.issubdtype(dy.dtype, np.integer)):
        raise ValueError(f"shift needs whole-pixel (integer) dx and dy, got {dx.dtype} and {dy.dtype}")
    largest = int(max(np.abs(dx).max(initial=0), np.abs(dy).max(initial=0)))
    return _ShiftWork(max(n, 1), X.dtype, min(largest, SIDE)).apply(X, np.clip(dx, -SIDE, SIDE),
                                                                  np.clip(dy, -SIDE, SIDE))


def augment_batch(X: np.ndarray, cfg: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """A randomly distorted copy of a batch (see :class:`Augmenter`). X: (n, 784) float in [0, 1].

    With every setting at 0, X itself is returned. For repeated calls on
    same-sized batches, build one :class:`Augmenter` and reuse it: it is faster.
    """
    X = _as_float(_check_batch(X, "augment_batch"))
    if not cfg.enabled:
        return X
    return Augmenter(cfg, max(X.shape[0], 1), X.dtype)(X, rng)


def preview(images: np.ndarray, cfg: AugmentConfig, rng: np.random.Generator, n_variants: int = 8) -> np.ndarray:
    """``n_variants`` augmented versions of each image, to show what augmentation does.

    images: (k, 28, 28) or (k, 784), uint8 in [0, 255] or float in [0, 1].
    Returns (k, n_variants, 28, 28) float32 in [0, 1], a new array.
    """
    images = np.asarray(images)
    if not (images.ndim == 2 and images.shape[1] == PIXELS or images.ndim == 3 and images.shape[1:] == (SIDE, SIDE)):
        raise ValueError(f"preview expects images of shape (k, 28, 28) or (k, 784), got {images.shape!r}")
    if isinstance(n_variants, bool) or not isinstance(n_variants, (int, np.integer)) or n_variants < 1:
        raise ValueError(f"n_variants must be a positive integer, got {n_variants!r}")
    k = images.shape[0]
    X = images.reshape(k, PIXELS)
    X = X.astype(np.float32) / np.float32(255) if X.dtype == np.uint8 else X.astype(np.float32)
    repeated = np.repeat(X, n_variants, axis=0)  # (k * n_variants, 784): one image's variants adjacent
    out = augment_batch(repeated, cfg, rng)
    return np.array(out, dtype=np.float32).reshape(k, n_variants, SIDE, SIDE)


def _check_batch(X: np.ndarray, name: str) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != PIXELS:
        raise ValueError(f"{name} expects X of shape (n, {PIXELS}), got {X.shape!r}")
    return X


def _as_float(X: np.ndarray) -> np.ndarray:
    return X if X.dtype in (np.float32, np.float64) else X.astype(np.float32)


def _check_per_image(n: int, **arrays: np.ndarray) -> None:
    for name, a in arrays.items():
        if np.shape(a) != (n,):
            raise ValueError(f"{name} must have one value per image, shape ({n},), got {np.shape(a)!r}")
