"""Is the network's confidence a probability? Reliability bins, expected calibration error, temperature scaling.

A classifier is calibrated when, among the answers it gives with confidence about c, a share c is right.
Bin the test digits by confidence (the top probability) into equal-width bins B_1 .. B_M of [0, 1]:

    conf(B) = mean confidence in B        acc(B) = share right in B
    ECE     = sum_B |B| / n * |acc(B) - conf(B)|        (Naeini et al. 2015; Guo et al. 2017)

Temperature scaling (Guo et al. 2017) divides every logit by one number T > 0 before the softmax:
p = softmax(z / T). It never changes the answer (argmax), only how sure it is: T > 1 softens an
overconfident network. T is the one that minimises the cross-entropy on held-out data. Written with
beta = 1/T, the loss  NLL(beta) = mean_i [ logsumexp(beta z_i) - beta z_{i,y_i} ]  is convex in beta:

    NLL'(beta)  = mean_i [ E_p[z_i] - z_{i,y_i} ]       (p = softmax(beta z_i))
    NLL''(beta) = mean_i Var_p[z_i]  >= 0

so Newton's method, kept inside a bracket where NLL' changes sign, finds it in a few steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nn.losses import log_softmax, softmax

N_BINS = 15  # Guo et al.'s choice: fine enough to see the curve, coarse enough that bins hold digits
T_MIN, T_MAX = 0.01, 100.0  # the temperatures searched; the fit stops at a bound rather than running off


@dataclass(frozen=True)
class Reliability:
    """Confidence bins of one set of predictions.

    ``edges``: (M + 1,) bin edges over [0, 1]; per bin (M,): ``counts`` (int), ``confidence`` (mean top
    probability) and ``accuracy`` (share right), NaN for an empty bin; ``ece``: expected calibration error.
    """

    edges: np.ndarray
    counts: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray
    ece: float


def _check(proba: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    proba, labels = np.asarray(proba), np.asarray(labels)
    if proba.ndim != 2 or labels.shape != (proba.shape[0],):
        raise ValueError(f"proba (n, k) and labels (n,) disagree: {proba.shape} vs {labels.shape}")
    if labels.size and (not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0
                        or labels.max() >= proba.shape[1]):
        raise ValueError(f"labels must be integers in [0, {proba.shape[1]})")
    return proba, labels


def reliability(proba: np.ndarray, labels: np.ndarray, n_bins: int = N_BINS) -> Reliability:
    """Bin ``proba: (n, k)`` by its top probability; each bin's mean confidence, accuracy and count; ECE."""
    proba, labels = _check(proba, labels)
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    confidence = proba.max(axis=1).astype(np.float64)
    correct = (proba.argmax(axis=1) == labels).astype(np.float64)
    # Bin b holds confidences in (edges[b], edges[b + 1]]; a confidence of exactly 0 goes to the first bin.
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
    counts = np.bincount(which, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(which, weights=confidence, minlength=n_bins) / counts
        mean_acc = np.bincount(which, weights=correct, minlength=n_bins) / counts
    n = max(int(counts.sum()), 1)
    gaps = np.where(counts > 0, np.abs(mean_acc - mean_conf), 0.0)
    ece = float(np.sum(counts / n * gaps)) if labels.size else float("nan")
    return Reliability(edges=edges, counts=counts.astype(np.int64), confidence=mean_conf, accuracy=mean_acc,
                       ece=ece)


def expected_calibration_error(proba: np.ndarray, labels: np.ndarray, n_bins: int = N_BINS) -> float:
    """ECE of ``proba: (n, k)`` against ``labels: (n,)``: the count-weighted mean gap |accuracy - confidence|."""
    return reliability(proba, labels, n_bins).ece


def tempered(logits: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(logits / T), (n, k) float64: the probabilities after temperature scaling."""
    if not np.isfinite(temperature) or temperature <= 0:
        raise ValueError(f"temperature must be a positive number, got {temperature!r}")
    return softmax(np.asarray(logits, dtype=np.float64) / temperature)


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean cross-entropy of softmax(logits / T) against ``labels``."""
    z, labels = _check(np.asarray(logits, dtype=np.float64), labels)
    return float(-log_softmax(z / temperature)[np.arange(len(labels)), labels].mean())


def _slope_and_curvature(z: np.ndarray, labels: np.ndarray, beta: float) -> tuple[float, float]:
    """NLL'(beta) and NLL''(beta), as the module docstring writes them."""
    p = np.exp(log_softmax(beta * z))
    mean_z = (p * z).sum(axis=1)                                        # E_p[z_i]
    var_z = (p * (z - mean_z[:, None]) ** 2).sum(axis=1)                # Var_p[z_i]
    return float(np.mean(mean_z - z[np.arange(len(labels)), labels])), float(np.mean(var_z))


def fit_temperature(logits: np.ndarray, labels: np.ndarray, *, tol: float = 1e-10, max_steps: int = 100) -> float:
    """The T in [T_MIN, T_MAX] that minimises the cross-entropy of softmax(logits / T) on ``labels``.

    Newton's method on beta = 1/T, falling back to bisection whenever a Newton step would leave the
    bracket in which NLL' changes sign. At a bound (e.g. every answer right, so sharper is always
    better) the bound is returned.
    """
    z, labels = _check(np.asarray(logits, dtype=np.float64), labels)
    if labels.size == 0:
        raise ValueError("fitting a temperature needs at least one labelled example")
    lo, hi = 1.0 / T_MAX, 1.0 / T_MIN
    if _slope_and_curvature(z, labels, lo)[0] >= 0:
        return T_MAX  # the loss rises from the smallest beta on: the flattest temperature allowed
    if _slope_and_curvature(z, labels, hi)[0] <= 0:
        return T_MIN  # still falling at the largest beta: the sharpest allowed
    beta = 1.0
    for _ in range(max_steps):
        slope, curvature = _slope_and_curvature(z, labels, beta)
        if slope > 0:
            hi = beta
        else:
            lo = beta
        step = beta - slope / curvature if curvature > 0 else np.nan
        beta_next = step if lo < step < hi else 0.5 * (lo + hi)
        if abs(beta_next - beta) <= tol * beta:
            beta = beta_next
            break
        beta = beta_next
    return float(1.0 / beta)
