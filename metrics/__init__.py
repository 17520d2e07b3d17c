"""Ranking metrics (NumPy in, a number out): the lowest layer that trainers, the zoo and the benchmark share."""
from metrics.ranking import (
    WEIGHTED_TAU_CONVENTIONS,
    WEIGHTED_TAU_RANK_NONE,
    WEIGHTED_TAU_RANK_TRUE,
    kendall_tau,
    ndcg_at_k,
    pearson,
    ranking_metrics,
    spearman,
    top1_regret,
    top_k_recall,
    weighted_tau,
)

__all__ = [
    "WEIGHTED_TAU_CONVENTIONS",
    "WEIGHTED_TAU_RANK_NONE",
    "WEIGHTED_TAU_RANK_TRUE",
    "kendall_tau",
    "ndcg_at_k",
    "pearson",
    "ranking_metrics",
    "spearman",
    "top1_regret",
    "top_k_recall",
    "weighted_tau",
]
