"""H-Score (Bao et al., ICIP 2019) and its shrinkage-regularized form (Ibrahim et al., 2022).

H(f) = tr(cov(f)^-1 cov(E[f | y])): between-class variance of the features in units of their total
variance. With few samples per dimension cov(f) is badly conditioned and H-Score explodes, which is
why Ibrahim et al. ("Newer is not always better", ECML-PKDD 2022) shrink it towards a scaled
identity with the Ledoit-Wolf coefficient alpha: H_alpha = tr(cov_alpha(f)^-1 (1 - alpha) cov(E[f|y])).
"""
from __future__ import annotations

from typing import ClassVar

import numpy as np
from sklearn.covariance import LedoitWolf

from estimators import ESTIMATOR_REGISTRY
from estimators.base import Estimator, one_hot
from utils.log import get_logger

logger = get_logger(__name__)


def _class_mean_features(f: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """[N, D] -> [N, D]: every sample replaced by the mean feature of its class, i.e. E[f | y]."""
    onehot = one_hot(labels)
    means = (onehot.T @ f) / onehot.sum(axis=0)[:, None]
    return means[labels]


def h_score(features: np.ndarray, labels: np.ndarray, rcond: float = 1e-15) -> float:
    """features: [N, D]; labels: [N] ints in [0, K). Returns tr(pinv(cov f) cov E[f|y])."""
    f = np.asarray(features, dtype=np.float64)
    cov_f = np.cov(f, rowvar=False)
    cov_g = np.cov(_class_mean_features(f, labels), rowvar=False)
    # tr(A @ B) without forming the product.
    return float(np.sum(np.linalg.pinv(cov_f, rtol=rcond) * cov_g.T))


def h_score_shrinkage(features: np.ndarray, labels: np.ndarray) -> float:
    """features: [N, D]; labels: [N] ints in [0, K). Ledoit-Wolf shrunk H-Score (H_alpha)."""
    f = np.asarray(features, dtype=np.float64)
    f = f - f.mean(axis=0, keepdims=True)
    lw = LedoitWolf(assume_centered=False).fit(f)
    alpha = lw.shrinkage_
    cov_g = np.cov(_class_mean_features(f, labels), rowvar=False)
    inv = np.linalg.pinv(lw.covariance_, hermitian=True)
    return float((1.0 - alpha) * np.sum(inv * cov_g.T))


@ESTIMATOR_REGISTRY.register(name="h_score")
class HScore(Estimator):
    """H-Score as in zhangyikaii/Model-Spider (pseudo-inverse with rcond=1e-15)."""

    requires: ClassVar[frozenset[str]] = frozenset({"features"})
    name: ClassVar[str] = "h_score"

    def __init__(self, rcond: float = 1e-15) -> None:
        self.rcond = rcond

    def caveat(self, n: int, d: int) -> str | None:
        if n > d:
            return None
        return (f"N={n} <= D={d}: the feature covariance is singular, so its pseudo-inverse decides the score "
                "(h_score_shrinkage regularizes it)")

    def _score(self, labels, features, source_probs):
        note = self.caveat(*features.shape)
        if note:
            logger.debug("h_score unreliable: %s; consider h_score_shrinkage", note)
        return h_score(features, labels, self.rcond)


@ESTIMATOR_REGISTRY.register(name="h_score_shrinkage")
class HScoreShrinkage(Estimator):
    """H-Score with a Ledoit-Wolf shrunk feature covariance (Ibrahim et al. 2022)."""

    requires: ClassVar[frozenset[str]] = frozenset({"features"})
    name: ClassVar[str] = "h_score_shrinkage"

    def _score(self, labels, features, source_probs):
        return h_score_shrinkage(features, labels)
