"""The budgeted re-ranking's fusion (issue 13): the ranker's top K re-scored by an estimator, both standardized
within the shortlist and mixed, a * z(ranker) + (1 - a) * z(estimator); the rest keep the ranker's order below
it. Shared by the benchmark (evaluation/budget.py fits a and K) and recommend.py --budget."""
from __future__ import annotations

import numpy as np


def shortlist(ranker: np.ndarray, k: int | None) -> np.ndarray:
    """Indices of the ranker's top k (all for None), best first; ties keep the candidates' order."""
    order = np.argsort(-np.asarray(ranker, dtype=np.float64), kind="stable")
    return order if k is None else order[: min(k, len(order))]


def zscore(x: np.ndarray) -> np.ndarray:
    """x [M] -> z-scores over the models; a constant x gives zeros."""
    sd = x.std()
    return (x - x.mean()) / sd if sd > 1e-12 else np.zeros_like(x)


def fused_scores(ranker: np.ndarray, estimator: np.ndarray, k: int | None, a: float) -> np.ndarray:
    """Final scores [M]: the fusion on the ranker's top k, then the rest in the ranker's order below it.
    `estimator` [M] may hold NaN outside the shortlist (not computed there); NaN inside it ranks lowest."""
    ranker = np.asarray(ranker, dtype=np.float64)
    if k == 0:
        return ranker.copy()
    top = shortlist(ranker, k)
    est = np.asarray(estimator, dtype=np.float64)[top]
    est = np.where(np.isfinite(est), est, np.nanmin(est) - 1.0 if np.isfinite(est).any() else 0.0)
    fused = a * zscore(ranker[top]) + (1.0 - a) * zscore(est)
    out = np.empty_like(ranker)
    out[top] = fused
    rest = shortlist(ranker, None)[len(top):]  # the same stable order the shortlist was cut from
    out[rest] = fused.min() - 1.0 - np.arange(len(rest))  # below the shortlist, in the ranker's order
    return out
