"""Pairwise logistic loss (RankNet) over the pairs of candidates whose true scores differ."""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from loss import LOSS_REGISTRY
from loss.base import RankingLoss, ordered_pairs, pair_differences


@LOSS_REGISTRY.register(name="pairwise_logistic")
class PairwiseLogisticLoss(RankingLoss):
    """Mean over pairs with true_i > true_j of log(1 + exp(-sigma * (s_i - s_j))).

    Burges et al., "Learning to Rank using Gradient Descent" (RankNet), ICML 2005. With
    `weighted=True` each pair counts |true_i - true_j| times (a weighted mean), so near-ties in the
    ground truth, often within fine-tuning noise, matter little. Rows whose valid true scores are
    all equal have no pairs and are left out of the mean.
    """

    def __init__(self, sigma: float = 1.0, weighted: bool = False) -> None:
        super().__init__()
        self.sigma = sigma
        self.weighted = weighted

    def _row_losses(self, scores: Tensor, true_scores: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        pairs = ordered_pairs(true_scores, mask)
        weight = pairs.to(scores.dtype)
        if self.weighted:
            weight = weight * pair_differences(true_scores).abs()
        losses = F.softplus(-self.sigma * pair_differences(scores))
        total_weight = weight.sum(dim=(1, 2))
        rows = (weight * losses).sum(dim=(1, 2)) / total_weight.clamp(min=1e-12)
        return rows, pairs.any(dim=2).any(dim=1)
