"""NLEEP: Gaussian-mixture LEEP (Li et al., "Ranking Neural Checkpoints", CVPR 2021).

Models without a usable source head (or whose head is unrelated to the target) still get a LEEP-style
score: the soft cluster assignments of a GMM fitted on PCA-reduced target features play the role of
the source-class probabilities.
"""
from __future__ import annotations

from typing import ClassVar

import numpy as np
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture

from estimators import ESTIMATOR_REGISTRY
from estimators.base import Estimator
from estimators.leep import leep
from utils.log import get_logger

logger = get_logger(__name__)


def nleep(
    features: np.ndarray,
    labels: np.ndarray,
    components_per_class: int = 5,
    pca_variance: float | None = 0.8,
    covariance_type: str = "full",
    max_iter: int = 100,
    seed: int = 0,
) -> float:
    """features: [N, D]; labels: [N] ints in [0, K). Returns LEEP of the GMM posteriors [N, M].

    pca_variance: fraction of variance kept by PCA (None: no PCA); M = components_per_class * K,
    capped at N; covariance_type "full" as in Li et al. and the common implementations ("diag" is
    much cheaper for many classes). Deterministic for a fixed seed.
    """
    f = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels)
    if pca_variance is not None:
        f = PCA(n_components=pca_variance, random_state=seed).fit_transform(f)
    n_components = min(components_per_class * (int(y.max()) + 1), len(f))
    gmm = GaussianMixture(
        n_components=n_components, covariance_type=covariance_type, max_iter=max_iter, random_state=seed
    ).fit(f)
    if not gmm.converged_:
        logger.debug("nleep: GMM did not converge in %d iterations", max_iter)
    return leep(gmm.predict_proba(f), y)


@ESTIMATOR_REGISTRY.register(name="nleep")
class NLEEP(Estimator):
    """NLEEP: LEEP with a GMM on PCA-reduced features as the pseudo source head."""

    requires: ClassVar[frozenset[str]] = frozenset({"features"})
    name: ClassVar[str] = "nleep"

    def __init__(
        self,
        components_per_class: int = 5,
        pca_variance: float | None = 0.8,
        covariance_type: str = "full",
        max_iter: int = 100,
        seed: int = 0,
    ) -> None:
        self.components_per_class = components_per_class
        self.pca_variance = pca_variance
        self.covariance_type = covariance_type
        self.max_iter = max_iter
        self.seed = seed

    def _score(self, labels, features, source_probs):
        return nleep(
            features, labels, self.components_per_class, self.pca_variance,
            self.covariance_type, self.max_iter, self.seed,
        )
