"""How far a target dataset lies from the probe collection, and whether that is farther than a ranker has seen.

    nearest = max_j cos(mean target token, mean probe_j token)

A target is *far* when its nearest cosine is below that of every dataset the ranker was trained on (the ranker
never learned to rank at that distance), or below the `quantile` of the training datasets' nearest cosines with
the probes of their own family hidden (no nearer the probes than a typical dataset of a family the probes lack:
the minimum alone is set by the single farthest training dataset). The budgeted re-ranking hands a far target to
the forward-pass estimator (evaluation/budget_runs.py, recommend.py --budget) and the probe ranker ranks it by the
models' general quality (model/probe_ranker.py). The threshold comes from the training datasets only: nothing
about a test dataset sets it, and a validation family can be far as a test family can, so that validation
measures what the test will.
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


def hidden_nearest_cosine(target_tokens: np.ndarray, probe_means: np.ndarray, probe_families: list[str],
                          family: str) -> float | None:
    """target_tokens [T, D], probe_means [P, D], probe_families [P] -> the cosine of the nearest probe of another
    family than `family` (the target's nearest as if its own family had no probe); None: every probe is of it."""
    keep = [j for j, f in enumerate(probe_families) if f != family]
    return float(probe_cosines(target_tokens, np.asarray(probe_means)[keep]).max()) if keep else None


def far_threshold(training_nearest: Iterable[float], hidden_nearest: Iterable[float | None] = (),
                  quantile: float = 0.0) -> float:
    """The nearest cosines of the ranker's training datasets, and their nearest with their own family's probes
    hidden (hidden_nearest_cosine) -> the threshold below which a target is far: the smallest of the first, or the
    `quantile` of the second where that is higher (quantile 0: the smallest alone)."""
    values = [float(v) for v in training_nearest]
    if not values:
        raise ValueError("far_threshold needs the nearest cosine of at least one training dataset")
    hidden = [float(v) for v in hidden_nearest if v is not None]
    if quantile > 0 and hidden:
        return max(min(values), float(np.quantile(hidden, quantile)))
    return min(values)
