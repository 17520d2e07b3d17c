"""LEEP: Log Expected Empirical Prediction (Nguyen et al., ICML 2020).

Builds the empirical conditional P(y | z) between target labels y and the source classes z of the
model's own classifier head, then scores how well the "source head + P(y|z)" classifier predicts y.
"""
from __future__ import annotations

from typing import ClassVar

import numpy as np

from estimators import ESTIMATOR_REGISTRY
from estimators.base import Estimator, one_hot


def leep(source_probs: np.ndarray, labels: np.ndarray) -> float:
    """source_probs: [N, C_s] softmax outputs over source classes; labels: [N] ints in [0, C_t).

    Returns the mean log-likelihood of the true target label (<= 0, higher is better).
    """
    p = np.asarray(source_probs, dtype=np.float64)
    y = np.asarray(labels)
    joint = one_hot(y).T @ p / len(y)  # P(y, z): [C_t, C_s]
    p_z = joint.sum(axis=0, keepdims=True)
    # A source class that receives zero mass everywhere would give 0/0; it never contributes to the
    # prediction anyway (its probability is 0 for every sample), so any finite column works.
    p_y_given_z = joint / np.where(p_z > 0, p_z, 1.0)
    pred = p @ p_y_given_z.T  # [N, C_t]: the expected empirical prediction
    return float(np.mean(np.log(pred[np.arange(len(y)), y])))


@ESTIMATOR_REGISTRY.register(name="leep")
class LEEP(Estimator):
    """LEEP on the model's source-class probabilities; needs a source classifier head."""

    requires: ClassVar[frozenset[str]] = frozenset({"source_probs"})
    name: ClassVar[str] = "leep"

    def _score(self, labels, features, source_probs):
        return leep(source_probs, labels)
