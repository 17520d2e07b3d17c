"""k-nearest-neighbour accuracy of the frozen features: a cheap, assumption-free probe.

Leave-one-out by default (every sample classified by its k nearest other samples); stratified k-fold
when `folds` is set, which is closer to how a probe generalises to unseen data.
"""
from __future__ import annotations

from typing import ClassVar

import numpy as np
from sklearn.model_selection import StratifiedKFold

from estimators import ESTIMATOR_REGISTRY
from estimators.base import Estimator, EstimatorInputError, one_hot

_CHUNK = 1024  # query rows per distance block: bounds memory at _CHUNK x N floats


def _knn_predict(query, ref, ref_labels, k, num_classes, metric, exclude_self):
    """Majority vote of the k nearest `ref` rows for each `query` row -> predicted labels [Q].

    With exclude_self, query row i is ref row i and must not vote for itself (leave-one-out).
    """
    if metric == "cosine":
        query = query / np.maximum(np.linalg.norm(query, axis=1, keepdims=True), 1e-12)
        ref = ref / np.maximum(np.linalg.norm(ref, axis=1, keepdims=True), 1e-12)
    ref_sq = (ref**2).sum(axis=1)
    votes_onehot = one_hot(ref_labels, num_classes)
    # Ties go to the class with the nearer neighbours: the rank bonuses add up to less than one vote.
    rank_bonus = (k - np.arange(k)) / (k * (k + 1))
    preds = np.empty(len(query), dtype=np.int64)
    for start in range(0, len(query), _CHUNK):
        q = query[start:start + _CHUNK]
        if metric == "cosine":
            dist = -q @ ref.T
        else:  # squared euclidean; the ||q||^2 term does not change the ranking
            dist = ref_sq[None, :] - 2.0 * q @ ref.T
        if exclude_self:
            rows = np.arange(len(q))
            dist[rows, start + rows] = np.inf
        nbr = np.argpartition(dist, k - 1, axis=1)[:, :k]
        order = np.argsort(np.take_along_axis(dist, nbr, axis=1), axis=1, kind="stable")
        nbr = np.take_along_axis(nbr, order, axis=1)  # [q, k] nearest first
        weighted = np.einsum("qrc,r->qc", votes_onehot[nbr], 1.0 + rank_bonus)  # [q, K]
        preds[start:start + len(q)] = np.argmax(weighted, axis=1)
    return preds


def knn_accuracy(
    features: np.ndarray,
    labels: np.ndarray,
    k: int = 5,
    metric: str = "cosine",
    folds: int | None = None,
    seed: int = 0,
) -> float:
    """features: [N, D]; labels: [N] ints in [0, K). Returns k-NN accuracy in [0, 1].

    metric: "cosine" or "euclidean"; folds: None for leave-one-out, else stratified k-fold.
    """
    f = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels)
    num_classes = int(y.max()) + 1
    if folds is None:
        if len(y) <= k:
            raise EstimatorInputError(f"knn: needs more than k={k} samples, got {len(y)}")
        return float(np.mean(_knn_predict(f, f, y, k, num_classes, metric, True) == y))
    correct = 0
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(f, y):
        kk = min(k, len(train))
        correct += np.sum(_knn_predict(f[test], f[train], y[train], kk, num_classes, metric, False) == y[test])
    return float(correct / len(y))


@ESTIMATOR_REGISTRY.register(name="knn")
class KNNAccuracy(Estimator):
    """k-NN classification accuracy (leave-one-out or stratified k-fold)."""

    requires: ClassVar[frozenset[str]] = frozenset({"features"})
    name: ClassVar[str] = "knn"

    def __init__(self, k: int = 5, metric: str = "cosine", folds: int | None = None, seed: int = 0) -> None:
        if metric not in ("cosine", "euclidean"):
            raise EstimatorInputError(f"knn: metric must be 'cosine' or 'euclidean', got {metric!r}")
        if k < 1:
            raise EstimatorInputError(f"knn: k must be >= 1, got {k}")
        if folds is not None and folds < 2:
            raise EstimatorInputError(f"knn: folds must be >= 2 or None (leave-one-out), got {folds}")
        self.k = k
        self.metric = metric
        self.folds = folds
        self.seed = seed

    def _score(self, labels, features, source_probs):
        if self.folds is not None and np.bincount(labels).min() < self.folds:
            raise EstimatorInputError(
                f"knn: every class needs at least folds={self.folds} samples for k-fold; use folds=None"
            )
        return knn_accuracy(features, labels, self.k, self.metric, self.folds, self.seed)
