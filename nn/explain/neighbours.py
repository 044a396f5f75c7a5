"""Which training digits does this one look like? Exact cosine nearest neighbours, in pixels or in any layer.

    cos(a, b) = a . b / (|a| |b|)          1: the same direction; 0: nothing in common (ReLU outputs are >= 0)

The index keeps the rows as they are given (the shared uint8 training images, or hidden activations
stored in float16 to halve their memory) and one inverse norm per row. A query converts one chunk of
rows at a time to float32 and takes a matrix-vector product, so it is an exact search over every row
(no approximation) whose extra memory is one chunk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CHUNK = 8192  # rows converted to float32 at once during a build or a query


@dataclass(frozen=True)
class CosineIndex:
    """``rows`` (N, d) in any numeric dtype, held without a copy; ``inv_norms`` (N,) float32, 0 for a zero row."""

    rows: np.ndarray
    inv_norms: np.ndarray

    @property
    def nbytes(self) -> int:
        """Memory the index holds (the rows, whether shared or not, and the norms)."""
        return int(self.rows.nbytes + self.inv_norms.nbytes)


@dataclass(frozen=True)
class Neighbours:
    """Per query (m rows): ``indices`` (m, k) rows of the index, nearest first; ``similarity`` (m, k) their cosine."""

    indices: np.ndarray
    similarity: np.ndarray


def cosine_index(rows: np.ndarray) -> CosineIndex:
    """An index over ``rows: (N, d)`` (kept as given: pass read-only arrays to share them)."""
    rows = np.asarray(rows)
    if rows.ndim != 2 or not (np.issubdtype(rows.dtype, np.integer) or np.issubdtype(rows.dtype, np.floating)):
        raise ValueError(f"rows must be a 2-D numeric array, got shape {rows.shape} dtype {rows.dtype}")
    norms = np.empty(len(rows), np.float64)
    for start in range(0, len(rows), CHUNK):
        block = rows[start: start + CHUNK].astype(np.float64)
        norms[start: start + CHUNK] = np.sqrt(np.einsum("ij,ij->i", block, block))
    inv = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0).astype(np.float32)
    return CosineIndex(rows=rows, inv_norms=inv)


def similarities(index: CosineIndex, queries: np.ndarray) -> np.ndarray:
    """(m, N) the cosine of each query (m, d) with every row; 0 where either is all zeros."""
    q = np.asarray(queries, dtype=np.float32).reshape(-1, index.rows.shape[1])
    q_norm = np.linalg.norm(q.astype(np.float64), axis=1)
    q = q * np.divide(1.0, q_norm, out=np.zeros_like(q_norm), where=q_norm > 0).astype(np.float32)[:, None]
    out = np.empty((len(q), len(index.rows)), np.float32)
    for start in range(0, len(index.rows), CHUNK):
        block = index.rows[start: start + CHUNK].astype(np.float32)
        out[:, start: start + CHUNK] = (q @ block.T) * index.inv_norms[start: start + CHUNK]
    return out


def nearest(index: CosineIndex, queries: np.ndarray, k: int) -> Neighbours:
    """The ``k`` rows with the largest cosine to each query, nearest first (equal ones: the lower row first)."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    sims = similarities(index, queries)
    k = min(int(k), sims.shape[1])
    # argpartition finds the k best in linear time; a stable sort of those orders them (lower row first on ties).
    top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    top = np.sort(top, axis=1)
    order = np.argsort(-np.take_along_axis(sims, top, axis=1), axis=1, kind="stable")
    indices = np.take_along_axis(top, order, axis=1)
    return Neighbours(indices=indices, similarity=np.take_along_axis(sims, indices, axis=1))
