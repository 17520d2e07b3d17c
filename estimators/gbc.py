"""GBC: Gaussian Bhattacharyya Coefficient (Pandy et al., "Transferability Estimation using
Bhattacharyya Class Separability", CVPR 2022).

Each target class is a Gaussian with diagonal covariance in (optionally PCA-reduced) feature space;
the score is minus the sum of Bhattacharyya coefficients over all ordered pairs of distinct classes,
so well-separated classes (little overlap) score close to 0 and overlapping ones strongly negative.
"""
from __future__ import annotations

from typing import ClassVar

import numpy as np
from sklearn.decomposition import PCA

from estimators import ESTIMATOR_REGISTRY
from estimators.base import Estimator, one_hot


def gbc(
    features: np.ndarray,
    labels: np.ndarray,
    pca_dim: int | None = 64,
    spherical: bool = False,
    var_floor: float = 1e-12,
    seed: int = 0,
) -> float:
    """features: [N, D]; labels: [N] ints in [0, K). Returns -sum_{i != j} BC(class i, class j) <= 0.

    pca_dim: reduce to this many dimensions first (None or >= min(N, D): no reduction).
    spherical: one variance per class (mean over dimensions) instead of a diagonal.
    var_floor: floor on per-class variances; a dimension constant within a class has variance 0.
    """
    f = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels)
    if pca_dim is not None and pca_dim < min(f.shape):
        f = PCA(n_components=pca_dim, random_state=seed).fit_transform(f)
    onehot = one_hot(y)
    counts = onehot.sum(axis=0)[:, None]
    means = onehot.T @ f / counts  # [K, d]
    # Population (ddof=0) variance as in the authors' implementation, from centred features because
    # E[x^2] - E[x]^2 cancels catastrophically when the means are large.
    var = onehot.T @ (f - means[y]) ** 2 / counts
    if spherical:
        var = np.broadcast_to(var.mean(axis=1, keepdims=True), var.shape)
    var = np.maximum(var, var_floor)
    log_var = np.log(var)
    score = 0.0
    # One class against all others per step keeps memory at [K, d] rather than [K, K, d].
    for i in range(len(means)):
        avg = (var[i] + var) / 2.0
        dist = (((means[i] - means) ** 2 / avg).sum(axis=1) / 8.0
                + 0.5 * (np.log(avg) - 0.5 * (log_var[i] + log_var)).sum(axis=1))
        bc = np.exp(-dist)
        score -= bc.sum() - bc[i]  # bc[i] == 1 is the class against itself
    return float(score)


@ESTIMATOR_REGISTRY.register(name="gbc")
class GBC(Estimator):
    """Gaussian Bhattacharyya Coefficient with diagonal (or spherical) class covariances."""

    requires: ClassVar[frozenset[str]] = frozenset({"features"})
    name: ClassVar[str] = "gbc"

    def __init__(
        self, pca_dim: int | None = 64, spherical: bool = False, var_floor: float = 1e-12, seed: int = 0
    ) -> None:
        self.pca_dim = pca_dim
        self.spherical = spherical
        self.var_floor = var_floor
        self.seed = seed

    def _score(self, labels, features, source_probs):
        return gbc(features, labels, self.pca_dim, self.spherical, self.var_floor, self.seed)
