"""LogME: log marginal evidence of a Bayesian linear model on top of frozen features.

You et al., "LogME: Practical Assessment of Pre-trained Models for Transfer Learning" (ICML 2021)
and "Ranking and Tuning Pre-trained Models" (JMLR 2022). Numerically follows thuml/LogME: every
target column (one-vs-rest indicator, or regression target) gets its own (alpha, beta), the score is
the mean per-sample evidence over columns.
"""
from __future__ import annotations

from typing import ClassVar

import numpy as np

from estimators import ESTIMATOR_REGISTRY
from estimators.base import Estimator, EstimatorInputError, check_matrix, one_hot

_EPS = 1e-5  # thuml/LogME's guard against a zero residual or zero weight norm
_MAX_ITER = 11


def _evidence(n, d, alpha, beta, sigma, res2, m2, k):
    """Per-sample log evidence for every column; sigma [k, 1] are the nonzero eigenvalues of F^T F.

    log|A| needs all D eigenvalues of A = alpha I + beta F^T F; the D - k zero ones contribute
    log(alpha) each. thuml/LogME's fixed-point code omits them (its issue 23), which is only wrong
    when rank(F) < D, e.g. N < D.
    """
    log_det = np.log(alpha + beta * sigma).sum(axis=0) + (d - k) * np.log(alpha)
    ev = (d / 2.0 * np.log(alpha) + n / 2.0 * np.log(beta) - 0.5 * log_det
          - beta / 2.0 * res2 - alpha / 2.0 * m2 - n / 2.0 * np.log(2 * np.pi))
    return ev / n


def _fit_fixed_point(f: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Fixed-point iteration of the JMLR paper. f: [N, D], y: [N, K] -> evidence per column [K]."""
    n, d = f.shape
    tol = max(n, d) * np.finfo(np.float64).eps
    if n > d:  # eigendecomposition of the D x D Gram matrix is much cheaper than an SVD of F
        eig, v = np.linalg.eigh(f.T @ f)
        keep = eig > eig.max() * tol
        sigma = eig[keep]
        u = f @ v[:, keep] / np.sqrt(sigma)
    else:
        u, s, _ = np.linalg.svd(f, full_matrices=False)
        keep = s > s.max() * tol
        u, sigma = u[:, keep], s[keep] ** 2
    k = len(sigma)
    sigma = sigma[:, None]  # [k, 1] nonzero eigenvalues of F^T F
    x2 = (u.T @ y) ** 2  # [k, K]: y in the left singular basis
    res_x2 = (y**2).sum(axis=0) - x2.sum(axis=0)  # part of y outside span(F)
    alpha = np.ones(y.shape[1])
    beta = np.ones(y.shape[1])
    m2 = res2 = np.zeros(y.shape[1])
    active = np.ones(y.shape[1], dtype=bool)
    # Columns converge at different iterations; frozen columns keep the state of their last step,
    # exactly as the per-column loop with `break` in the reference.
    for _ in range(_MAX_ITER):
        t = alpha / beta
        gamma = (sigma / (sigma + t)).sum(axis=0)
        new_m2 = (sigma * x2 / (t + sigma) ** 2).sum(axis=0)
        new_res2 = (x2 / (1 + sigma / t) ** 2).sum(axis=0) + res_x2
        new_alpha = gamma / (new_m2 + _EPS)
        new_beta = (n - gamma) / (new_res2 + _EPS)
        m2, res2 = np.where(active, new_m2, m2), np.where(active, new_res2, res2)
        alpha, beta = np.where(active, new_alpha, alpha), np.where(active, new_beta, beta)
        active &= ~(np.abs(alpha / beta - t) / t <= 1e-3)
        if not active.any():
            break
    return _evidence(n, d, alpha, beta, sigma, res2, m2, k)


def _fit_icml(f: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Evidence maximisation of the ICML 2021 paper. f: [N, D], y: [N, K] -> evidence per column [K]."""
    n, d = f.shape
    v, s, vh = np.linalg.svd(f.T @ f)  # s: all D eigenvalues of F^T F, so no rank correction needed
    s = s[:, None]
    proj = vh @ (f.T @ y)  # [D, K]
    alpha = np.ones(y.shape[1])
    beta = np.ones(y.shape[1])
    alpha_de = beta_de = np.zeros(y.shape[1])
    active = np.ones(y.shape[1], dtype=bool)
    for _ in range(_MAX_ITER):
        lam = alpha / beta
        gamma = (s / (s + lam)).sum(axis=0)
        m = v @ (proj * beta / (alpha + beta * s))  # posterior mean weights [D, K]
        new_alpha_de = (m * m).sum(axis=0)
        new_beta_de = ((y - f @ m) ** 2).sum(axis=0)
        new_alpha = gamma / (new_alpha_de + _EPS)
        new_beta = (n - gamma) / (new_beta_de + _EPS)
        alpha_de = np.where(active, new_alpha_de, alpha_de)
        beta_de = np.where(active, new_beta_de, beta_de)
        alpha, beta = np.where(active, new_alpha, alpha), np.where(active, new_beta, beta)
        active &= ~(np.abs(alpha / beta - lam) / lam < 0.01)
        if not active.any():
            break
    return _evidence(n, d, alpha, beta, s, beta_de + _EPS, alpha_de + _EPS, d)


def _targets(labels: np.ndarray, regression: bool) -> np.ndarray:
    if regression:
        y = np.asarray(labels, dtype=np.float64)
        return y.reshape(-1, 1) if y.ndim == 1 else y
    return one_hot(labels)


def logme(features: np.ndarray, labels: np.ndarray, regression: bool = False) -> float:
    """LogME, fixed-point variant (thuml/LogME default). features: [N, D]; labels: [N] ints in
    [0, K) or, with regression=True, targets [N] or [N, T]. Returns the mean evidence per sample."""
    f = np.asarray(features, dtype=np.float64)
    return float(_fit_fixed_point(f, _targets(labels, regression)).mean())


def logme_icml(features: np.ndarray, labels: np.ndarray, regression: bool = False) -> float:
    """LogME, ICML 2021 iterative variant; same shapes and meaning as `logme`."""
    f = np.asarray(features, dtype=np.float64)
    return float(_fit_icml(f, _targets(labels, regression)).mean())


class _LogMEBase(Estimator):
    requires: ClassVar[frozenset[str]] = frozenset({"features"})

    def __init__(self, regression: bool = False) -> None:
        self.regression = regression

    def _check_labels(self, labels: np.ndarray) -> np.ndarray:
        if not self.regression:
            return super()._check_labels(labels)
        y = np.asarray(labels)
        if y.ndim not in (1, 2):
            raise EstimatorInputError(f"{self.name}: regression targets must be [N] or [N, T], got {y.shape}")
        return check_matrix(y.reshape(len(y), -1), "regression targets", len(y), self.name)


@ESTIMATOR_REGISTRY.register(name="logme")
class LogME(_LogMEBase):
    """LogME with the fixed-point solver (default in thuml/LogME), corrected for rank(F) < D."""

    name: ClassVar[str] = "logme"

    def _score(self, labels, features, source_probs):
        return logme(features, labels, self.regression)


@ESTIMATOR_REGISTRY.register(name="logme_icml")
class LogMEICML(_LogMEBase):
    """LogME with the original ICML 2021 evidence-maximisation solver."""

    name: ClassVar[str] = "logme_icml"

    def _score(self, labels, features, source_probs):
        return logme_icml(features, labels, self.regression)
