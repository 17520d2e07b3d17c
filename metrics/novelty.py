"""How far a target dataset lies from the probe collection, and whether that is farther than a ranker has seen.

    nearest = max_j cos(mean target token, mean probe_j token)

A target is *far* when its nearest cosine is below that of every dataset the ranker was trained on: the ranker
never learned to rank at that distance (a family no probe resembles), so the budgeted re-ranking hands such a
target to the forward-pass estimator (evaluation/budget_runs.py, recommend.py --budget) and the probe ranker
ranks it by the models' general quality (model/probe_ranker.py). The threshold comes from the training datasets
only: nothing about a test dataset sets it, and a validation family can be far as a test family can, so that
validation measures what the test will.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def probe_cosines(target_tokens: np.ndarray, probe_means: np.ndarray) -> np.ndarray:
    """target_tokens [T, D], probe_means [P, D] (each probe's mean token) -> cosines [P] of the mean tokens."""
    return _unit(np.asarray(probe_means, dtype=np.float64)) @ _unit(np.asarray(target_tokens, dtype=np.float64).mean(0))


def nearest_probe_cosine(target_tokens: np.ndarray, probe_means: np.ndarray) -> float:
    """target_tokens [T, D], probe_means [P, D] -> the cosine of the nearest probe."""
    return float(probe_cosines(target_tokens, probe_means).max())


def far_threshold(training_nearest: Iterable[float]) -> float:
    """The nearest cosines of the ranker's training datasets -> the smallest: below it is far."""
    values = [float(v) for v in training_nearest]
    if not values:
        raise ValueError("far_threshold needs the nearest cosine of at least one training dataset")
    return min(values)
