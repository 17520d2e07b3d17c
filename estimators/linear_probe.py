"""Linear-probe accuracy: cross-validated logistic regression on a small class-balanced subsample.

The closest cheap proxy for "fine-tune a linear head on these features"; the subsample keeps the cost
independent of dataset size and stops large classes from dominating the accuracy.
"""
from __future__ import annotations

from typing import ClassVar

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from estimators import ESTIMATOR_REGISTRY
from estimators.base import Estimator, EstimatorInputError


def balanced_subsample(labels: np.ndarray, per_class: int, seed: int = 0) -> np.ndarray:
    """Indices of at most `per_class` random samples of every class (sorted). labels: [N] ints."""
    rng = np.random.default_rng(seed)
    # A random key per sample, then the rank of that key within its class, picks a uniform subset
    # per class without a Python loop over classes.
    key = rng.random(len(labels))
    order = np.lexsort((key, labels))
    sorted_labels = labels[order]
    first = np.searchsorted(sorted_labels, sorted_labels, side="left")
    rank = np.arange(len(labels)) - first
    return np.sort(order[rank < per_class])


def linear_probe_accuracy(
    features: np.ndarray,
    labels: np.ndarray,
    per_class: int = 50,
    folds: int = 3,
    C: float = 1.0,
    max_iter: int = 1000,
    seed: int = 0,
) -> float:
    """features: [N, D]; labels: [N] ints in [0, K). Returns mean stratified k-fold accuracy in [0, 1].

    Standardised features, L2-regularised logistic regression with inverse strength C.
    """
    f = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels)
    idx = balanced_subsample(y, per_class, seed)
    f, y = f[idx], y[idx]
    smallest = int(np.bincount(y).min())
    if smallest < 2:
        raise EstimatorInputError("linear_probe: every class needs at least 2 samples for cross-validation")
    folds = min(folds, smallest)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter, random_state=seed))
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return float(np.mean(cross_val_score(model, f, y, cv=cv, scoring="accuracy")))


@ESTIMATOR_REGISTRY.register(name="linear_probe")
class LinearProbe(Estimator):
    """Cross-validated logistic-regression accuracy on a class-balanced subsample."""

    requires: ClassVar[frozenset[str]] = frozenset({"features"})
    name: ClassVar[str] = "linear_probe"

    def __init__(
        self, per_class: int = 50, folds: int = 3, C: float = 1.0, max_iter: int = 1000, seed: int = 0
    ) -> None:
        if per_class < 2 or folds < 2:
            raise EstimatorInputError(
                f"linear_probe: per_class and folds must be >= 2, got per_class={per_class}, folds={folds}"
            )
        self.per_class = per_class
        self.folds = folds
        self.C = C
        self.max_iter = max_iter
        self.seed = seed

    def _score(self, labels, features, source_probs):
        return linear_probe_accuracy(
            features, labels, self.per_class, self.folds, self.C, self.max_iter, self.seed
        )
