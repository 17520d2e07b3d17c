"""ListNet: top-1 cross-entropy between the softmax of the true scores and of the predicted scores."""
from __future__ import annotations

import torch
from torch import Tensor

from loss import LOSS_REGISTRY
from loss.base import RankingLoss
from utils.errors import ConfigError


@LOSS_REGISTRY.register(name="listnet")
class ListNetLoss(RankingLoss):
    """-sum_i softmax(true / temperature)_i * log softmax(scores)_i over the valid candidates of a row.

    Cao et al., "Learning to Rank: From Pairwise Approach to Listwise Approach", ICML 2007.
    The minimum is the entropy of the target distribution, not 0. A small `temperature` sharpens the
    target towards the best model; it matters because true scores such as accuracies in [0, 1] give
    an almost uniform softmax at temperature 1.
    """

    def __init__(self, temperature: float = 1.0) -> None:
        super().__init__()
        if temperature <= 0:
            raise ConfigError(f"loss listnet: temperature must be positive, got {temperature}")
        self.temperature = temperature

    def _row_losses(self, scores: Tensor, true_scores: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        target = torch.softmax((true_scores / self.temperature).masked_fill(~mask, float("-inf")), dim=1)
        # log_softmax would put -inf at padded entries and 0 * -inf = NaN in the backward pass; the
        # subtraction keeps them finite (they are multiplied by a target probability of exactly 0).
        log_q = scores - torch.logsumexp(scores.masked_fill(~mask, float("-inf")), dim=1, keepdim=True)
        rows = -(target * log_q).sum(dim=1)
        return rows, torch.ones_like(rows, dtype=torch.bool)
