"""PCA by SVD: directions, variances and projections checked against what they must be."""

from __future__ import annotations

import numpy as np
import pytest

from nn.pca import pca


def test_recovers_the_direction_of_largest_spread() -> None:
    rng = np.random.default_rng(0)
    n = 4000
    # Data spread 10x more along (1, 1)/sqrt(2) than along (1, -1)/sqrt(2), shifted away from the origin.
    t = rng.normal(0, 10, n)
    s = rng.normal(0, 1, n)
    u = np.array([1.0, 1.0]) / np.sqrt(2)
    v = np.array([1.0, -1.0]) / np.sqrt(2)
    X = np.outer(t, u) + np.outer(s, v) + np.array([5.0, -3.0])

    result = pca(X, k=2)

    assert abs(abs(result.components[0] @ u) - 1) < 1e-3
    assert abs(abs(result.components[1] @ v) - 1) < 1e-2
    np.testing.assert_allclose(result.mean, [5.0, -3.0], atol=0.5)
    np.testing.assert_allclose(result.explained_variance, [t.var(ddof=1), s.var(ddof=1)], rtol=0.05)
    assert result.explained_ratio[0] > 0.98


@pytest.mark.parametrize("n, d", [(300, 6), (9, 6), (40, 30)])  # the tall route and the direct SVD
def test_matches_the_covariance_eigendecomposition(n: int, d: int) -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(n, d)) @ rng.normal(size=(d, d))
    result = pca(X, k=3)

    cov = np.cov(X, rowvar=False)
    eigvals, eigvecs = np.linalg.eigh(cov)
    order = np.argsort(eigvals)[::-1]
    np.testing.assert_allclose(result.explained_variance, eigvals[order][:3], rtol=1e-8)
    for i in range(3):
        assert abs(abs(result.components[i] @ eigvecs[:, order[i]]) - 1) < 1e-7
    np.testing.assert_allclose(result.explained_ratio, eigvals[order][:3] / eigvals.sum(), rtol=1e-8)


def test_projection_is_centred_orthonormal_and_consistent_with_transform() -> None:
    rng = np.random.default_rng(2)
    X = rng.normal(size=(200, 10)) + 4.0
    result = pca(X, k=2)

    assert result.projected.shape == (200, 2)
    np.testing.assert_allclose(result.projected.mean(axis=0), 0.0, atol=1e-10)
    np.testing.assert_allclose(result.components @ result.components.T, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(result.transform(X), result.projected, atol=1e-10)
    # Projected coordinates are uncorrelated, with the fitted variances.
    np.testing.assert_allclose(np.cov(result.projected, rowvar=False), np.diag(result.explained_variance),
                               atol=1e-8)


def test_both_routes_give_the_same_projection() -> None:
    rng = np.random.default_rng(5)
    X = rng.normal(size=(60, 25)) * np.linspace(3, 0.5, 25)
    tall = pca(X, k=2)  # 60 >= 2 * 25: through X^T X
    wide = pca(np.vstack([X, X[:0]])[:49], k=2)  # 49 < 50: the direct SVD, on a subset
    direct = np.linalg.svd(X - X.mean(axis=0), full_matrices=False)[2][:2]
    for got, want in zip(tall.components, direct):
        assert abs(abs(got @ want) - 1) < 1e-9
    assert wide.projected.shape == (49, 2)


def test_sign_is_stable_when_rows_are_reordered() -> None:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(100, 5)) * np.array([5, 3, 1, 1, 1])
    a = pca(X, k=2)
    b = pca(X[::-1], k=2)
    np.testing.assert_allclose(a.components, b.components, atol=1e-10)


@pytest.mark.parametrize(
    "X, k, message",
    [
        (np.zeros(5), 1, "2-D"),
        (np.zeros((1, 3)), 1, "at least 2 rows"),
        (np.zeros((10, 3)), 4, "got 4"),
        (np.zeros((10, 3)), 0, "got 0"),
    ],
)
def test_bad_input_is_refused_with_the_value(X: np.ndarray, k: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        pca(X, k=k)
