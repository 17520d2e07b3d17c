"""LambdaRank: pairwise logistic loss weighted by the NDCG change of swapping each pair."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from loss import LOSS_REGISTRY
from loss.base import RankingLoss, ordered_pairs, pair_differences
from utils.errors import ConfigError


@LOSS_REGISTRY.register(name="lambdarank")
class LambdaRankLoss(RankingLoss):
    """sum over pairs with true_i > true_j of |dNDCG_ij| * log(1 + exp(-sigma * (s_i - s_j))).

    Burges, "From RankNet to LambdaRank to LambdaMART: An Overview", MSR-TR-2010-82. dNDCG_ij is
    the change of NDCG(@k) if models i and j swapped places in the current predicted order:
    |g_i - g_j| * |D(r_i) - D(r_j)| / IDCG with D(r) = 1 / log2(1 + r) (0 beyond k). The weights
    are recomputed from the detached scores on every call, so the gradient equals LambdaRank's
    lambdas and concentrates on mistakes near the top of the list.

    Gains are the true scores shifted so the row's worst valid model has gain 0, as in
    `metrics.ndcg_at_k`; dNDCG is then invariant to shifting or scaling the true scores.
    The loss is summed over pairs and averaged over rows that have at least one pair.

    The weights follow the predicted order, so the value jumps whenever two scores cross: only its
    gradient is meaningful. Monitor NDCG itself (or use `approx_ndcg`), not this value.
    """

    def __init__(self, sigma: float = 1.0, k: int | None = None) -> None:
        super().__init__()
        if k is not None and k < 1:
            raise ConfigError(f"loss lambdarank: k must be a positive integer or None, got {k}")
        self.sigma = sigma
        self.k = k

    def _discount(self, ranks: Tensor) -> Tensor:
        """ranks [B, M] (1 = first) -> 1 / log2(1 + rank), zero beyond k."""
        discount = 1.0 / torch.log2(1.0 + ranks)
        return discount if self.k is None else discount * (ranks <= self.k)

    def _row_losses(self, scores: Tensor, true_scores: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        with torch.no_grad():
            by_score = scores.detach().masked_fill(~mask, float("-inf"))
            order = torch.sort(by_score, dim=1, descending=True, stable=True).indices
            positions = torch.arange(1, scores.shape[1] + 1, dtype=scores.dtype, device=scores.device)
            ranks = torch.empty_like(scores).scatter_(1, order, positions.expand_as(scores).contiguous())
            lowest = true_scores.masked_fill(~mask, float("inf")).min(dim=1, keepdim=True).values
            gains = (true_scores - lowest).masked_fill(~mask, 0.0)
            ideal_gains = torch.sort(gains, dim=1, descending=True).values
            ideal = (ideal_gains * self._discount(positions.expand_as(scores))).sum(dim=1, keepdim=True)
            discount = self._discount(ranks)
            delta = pair_differences(gains).abs() * pair_differences(discount).abs()
            delta = delta / ideal.clamp(min=1e-12)[:, :, None]
            pairs = ordered_pairs(true_scores, mask)
        losses = F.softplus(-self.sigma * pair_differences(scores))
        rows = (pairs * delta * losses).sum(dim=(1, 2))
        return rows, pairs.any(dim=2).any(dim=1)
