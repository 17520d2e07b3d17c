"""ApproxNDCG: one minus NDCG computed with smooth (sigmoid) ranks, so it is differentiable."""
from __future__ import annotations

import torch
from torch import Tensor

from loss import LOSS_REGISTRY
from loss.base import RankingLoss, pair_differences
from utils.errors import ConfigError


@LOSS_REGISTRY.register(name="approx_ndcg")
class ApproxNDCGLoss(RankingLoss):
    """1 - sum_i g_i / log2(1 + r_i) / IDCG with r_i = 1 + sum_{j != i} sigmoid((s_j - s_i) / temperature).

    Qin, Liu and Li, "A General Approximation Framework for Direct Optimization of Information
    Retrieval Measures", Information Retrieval 2010. r_i is a smooth rank (1 = first) over the valid
    candidates; as temperature -> 0 it becomes the true rank and the loss 1 - NDCG. Unlike
    `lambdarank` the value is a smooth function of the scores, so it can be monitored directly.
    Gains are the true scores shifted so the row's worst valid model has gain 0, as in
    `metrics.ndcg_at_k`; rows whose valid true scores are all equal have no loss.
    """

    def __init__(self, temperature: float = 0.1) -> None:
        super().__init__()
        if temperature <= 0:
            raise ConfigError(f"loss approx_ndcg: temperature must be positive, got {temperature}")
        self.temperature = temperature

    def _row_losses(self, scores: Tensor, true_scores: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        lowest = true_scores.masked_fill(~mask, float("inf")).min(dim=1, keepdim=True).values
        gains = (true_scores - lowest).masked_fill(~mask, 0.0)
        others = mask[:, None, :] & mask[:, :, None]
        others = others & ~torch.eye(scores.shape[1], dtype=torch.bool, device=scores.device)
        # Entry (i, j) is the probability that j is ranked above i.
        above = torch.sigmoid(-pair_differences(scores) / self.temperature)
        ranks = 1.0 + (above * others).sum(dim=2)
        dcg = (gains / torch.log2(1.0 + ranks)).sum(dim=1)
        positions = torch.arange(2, scores.shape[1] + 2, dtype=scores.dtype, device=scores.device)
        ideal = (torch.sort(gains, dim=1, descending=True).values / torch.log2(positions)).sum(dim=1)
        rows = 1.0 - dcg / ideal.clamp(min=1e-12)
        return rows, ideal > 0
