"""Ranking metrics: how well predicted scores order a zoo of candidate models.

Every metric takes two 1-D arrays of shape [M], one entry per candidate model: `true` (the ground
truth, e.g. fine-tuning accuracy) and `pred` (a transferability score or a ranker's output). Higher
is better for both. Inputs must be finite and hold at least two models; a float comes out.

Ties and degenerate inputs have a defined, NaN-free meaning:

- Correlations (weighted tau, Kendall, Spearman, Pearson) are 0.0 when `true` or `pred` is constant:
  a constant has no order, so it agrees with the truth no more than chance does.
- Top-k metrics break ties in `pred` uniformly at random and report the expected value, so a
  constant `pred` earns exactly what a random ranking earns, never credit from the input order.
- When `true` is constant, every ranking is ideal: NDCG@k is 1.0, top-k recall is 1.0, regret is 0.0.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from utils.errors import ZooRankError

WEIGHTED_TAU_RANK_NONE = "rank_none"
WEIGHTED_TAU_RANK_TRUE = "rank_true"
# Papers disagree on scipy's `rank` argument and the two numbers differ noticeably, so every report
# must say which one it prints.
WEIGHTED_TAU_CONVENTIONS: dict[str, str] = {
    WEIGHTED_TAU_RANK_NONE: "scipy.stats.weightedtau(true, pred, rank=None): weights follow the "
    "ground-truth order (Model Spider)",
    WEIGHTED_TAU_RANK_TRUE: "scipy.stats.weightedtau(true, pred, rank=True): mean of the values weighted "
    "by the true and by the predicted order (scipy default; LogME, SFDA, ...)",
}


def _check(true: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(true, dtype=np.float64)
    p = np.asarray(pred, dtype=np.float64)
    if t.ndim != 1 or t.shape != p.shape:
        raise ZooRankError(f"ranking metrics need two 1-D arrays of equal length, got {t.shape} and {p.shape}")
    if t.size < 2:
        raise ZooRankError(f"ranking metrics need at least 2 models, got {t.size}")
    if not (np.isfinite(t).all() and np.isfinite(p).all()):
        raise ZooRankError("ranking metrics got NaN or infinite scores; drop or impute those models first")
    return t, p


def _constant(a: np.ndarray) -> bool:
    return bool(a.max() == a.min())


def weighted_tau(true: np.ndarray, pred: np.ndarray, convention: str = WEIGHTED_TAU_RANK_NONE) -> float:
    """Weighted Kendall tau (hyperbolic weights) between `true` [M] and `pred` [M].

    `convention` is one of `WEIGHTED_TAU_CONVENTIONS`: "rank_none" (Model Spider) or "rank_true"
    (scipy's default). The argument order matters for "rank_none": `true` decides the weights.
    """
    if convention not in WEIGHTED_TAU_CONVENTIONS:
        raise ZooRankError(
            f"unknown weighted-tau convention '{convention}'; use one of {sorted(WEIGHTED_TAU_CONVENTIONS)}"
        )
    t, p = _check(true, pred)
    if _constant(t) or _constant(p):
        return 0.0
    rank = None if convention == WEIGHTED_TAU_RANK_NONE else True
    from scipy import stats  # half a second of import: not paid by commands that only list or check config

    return float(stats.weightedtau(t, p, rank=rank).statistic)


def kendall_tau(true: np.ndarray, pred: np.ndarray) -> float:
    """Kendall tau-b between `true` [M] and `pred` [M]; 0.0 if either is constant."""
    from scipy import stats

    t, p = _check(true, pred)
    return 0.0 if _constant(t) or _constant(p) else float(stats.kendalltau(t, p).statistic)


def spearman(true: np.ndarray, pred: np.ndarray) -> float:
    """Spearman rank correlation between `true` [M] and `pred` [M]; 0.0 if either is constant."""
    from scipy import stats

    t, p = _check(true, pred)
    return 0.0 if _constant(t) or _constant(p) else float(stats.spearmanr(t, p).statistic)


def pearson(true: np.ndarray, pred: np.ndarray) -> float:
    """Pearson linear correlation between `true` [M] and `pred` [M]; 0.0 if either is constant."""
    from scipy import stats

    t, p = _check(true, pred)
    return 0.0 if _constant(t) or _constant(p) else float(stats.pearsonr(t, p).statistic)


def _check_k(k: int, m: int) -> int:
    if int(k) != k or k < 1:
        raise ZooRankError(f"top-k metrics need a positive integer k, got {k!r}")
    return min(int(k), m)


def _topk_inclusion(pred: np.ndarray, k: int) -> np.ndarray:
    """[M] probability that each model lands in the predicted top-k under random tie-breaking."""
    kth = np.sort(pred)[::-1][k - 1]
    above = pred > kth
    at = pred == kth
    return above + at * ((k - above.sum()) / at.sum())


def top_k_recall(true: np.ndarray, pred: np.ndarray, k: int) -> float:
    """Fraction of the true top-k models [M] that are in the predicted top-k; in [0, 1].

    Models tied with the k-th best true score all count as true top-k (so any of them is a hit);
    k larger than M is clipped to M.
    """
    t, p = _check(true, pred)
    k = _check_k(k, t.size)
    relevant = t >= np.sort(t)[::-1][k - 1]
    return float(_topk_inclusion(p, k)[relevant].sum() / k)


def ndcg_at_k(true: np.ndarray, pred: np.ndarray, k: int) -> float:
    """NDCG@k of the order given by `pred` [M], with gains `true - true.min()` [M]; in [0, 1].

    Shifting the gains makes the worst model worth 0 and the metric invariant to adding a constant
    to `true` (raw accuracies of 60-66 % would otherwise give NDCG close to 1 for any order).
    DCG@k = sum over positions i = 1..k of gain(i) / log2(i + 1); NDCG@k = DCG@k / ideal DCG@k.
    """
    t, p = _check(true, pred)
    k = _check_k(k, t.size)
    gains = t - t.min()
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = float(np.sort(gains)[::-1][:k] @ discount)
    if ideal == 0.0:
        return 1.0
    order = np.argsort(-p, kind="stable")
    # Under random tie-breaking every position inside a tie group holds the group's mean gain.
    _, group = np.unique(p[order], return_inverse=True)
    group_mean = np.bincount(group, weights=gains[order]) / np.bincount(group)
    return float(group_mean[group][:k] @ discount / ideal)


def top1_regret(true: np.ndarray, pred: np.ndarray) -> float:
    """Best true score minus the true score of the model ranked first by `pred` (both [M]); >= 0.

    In the units of `true` (e.g. accuracy points); ties for first place in `pred` give the mean.
    """
    t, p = _check(true, pred)
    return float(t.max() - t[p == p.max()].mean())


def ranking_metrics(true: np.ndarray, pred: np.ndarray, ks: Iterable[int] = (1, 3, 5)) -> dict[str, float]:
    """All metrics for one dataset: `true` [M], `pred` [M] -> {name: value}.

    Keys: weighted_tau_rank_none, weighted_tau_rank_true, kendall_tau, spearman, pearson,
    top{k}_recall and ndcg@{k} for each k in `ks`, top1_regret.
    """
    t, p = _check(true, pred)
    out = {f"weighted_tau_{c}": weighted_tau(t, p, c) for c in WEIGHTED_TAU_CONVENTIONS}
    out["kendall_tau"] = kendall_tau(t, p)
    out["spearman"] = spearman(t, p)
    out["pearson"] = pearson(t, p)
    for k in ks:
        out[f"top{k}_recall"] = top_k_recall(t, p, k)
        out[f"ndcg@{k}"] = ndcg_at_k(t, p, k)
    out["top1_regret"] = top1_regret(t, p)
    return out
