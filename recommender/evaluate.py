"""How well a model is ranked against the ground truth: |predicted rank - true rank| per dataset, next
to chance (a uniformly random rank) and to the mean error over every candidate with ground truth.

Used to check that a model added with add-model, held out of all training, is ranked like the others.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dataloader.dataset_tokens import DatasetTokenDataset
from recommender.candidates import Candidates
from recommender.ranker import Ranker
from recommender.service import rank_candidates


def chance_error(true_rank: int, n: int) -> float:
    """Expected |p - true_rank| for p uniform on 1..n."""
    return float(np.mean([abs(p - true_rank) for p in range(1, n + 1)]))


def rank_errors(ranker: Ranker, candidates: Candidates, tokens: DatasetTokenDataset,
                performance: dict[str, dict[str, float]], model_id: str, datasets: Sequence[str]) -> dict[str, Any]:
    """Per dataset: the model's predicted and true rank among the candidates with ground truth there."""
    per: dict[str, dict[str, Any]] = {}
    zoo = []
    for name in datasets:
        truth = performance[name]
        ranked = [m for m, _ in rank_candidates(ranker, candidates, tokens.by_name(name)["tokens"].numpy())
                  if m in truth]
        true_order = sorted(ranked, key=lambda m: (-truth[m], m))
        pred, true = ranked.index(model_id) + 1, true_order.index(model_id) + 1
        per[name] = {"predicted": pred, "true": true, "error": abs(pred - true),
                     "chance": chance_error(true, len(ranked)), "candidates": len(ranked)}
        zoo.append(np.mean([abs(i - true_order.index(m)) for i, m in enumerate(ranked)]))
    return {"model": model_id, "datasets": len(per), "mean_rank_error": float(np.mean([p["error"] for p in per.values()])),
            "chance_rank_error": float(np.mean([p["chance"] for p in per.values()])),
            "zoo_mean_rank_error": float(np.mean(zoo)), "per_dataset": per}
