"""ListMLE / Plackett-Luce: negative log-likelihood of the true permutation under the scores."""
from __future__ import annotations

import torch
from torch import Tensor

from loss import LOSS_REGISTRY
from loss.base import RankingLoss


@LOSS_REGISTRY.register(name="listmle")
class ListMLELoss(RankingLoss):
    """sum_i [logsumexp(s_pi(i), ..., s_pi(n)) - s_pi(i)] with pi the order of the true scores.

    Xia et al., "Listwise Approach to Learning to Rank", ICML 2008. This is the hierarchical
    cross-entropy of Model Spider: a softmax picks the best model, then the best of the rest, and so
    on. The loss is summed over a row's positions (0 for a perfectly separated order in the limit)
    and averaged over rows. Models with equal true scores keep their input order (stable sort), so
    the likelihood of one tie-breaking is used.
    """

    def _row_losses(self, scores: Tensor, true_scores: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        # Padding goes to the front (key +inf): the suffix sums of every valid position then cover
        # valid models only, and padded scores stay finite (logcumsumexp's backward is NaN at -inf).
        key = true_scores.masked_fill(~mask, float("inf"))
        order = torch.sort(key, dim=1, descending=True, stable=True).indices
        s = scores.gather(1, order)
        valid = mask.gather(1, order)
        suffix_lse = torch.logcumsumexp(s.flip(1), dim=1).flip(1)
        rows = ((suffix_lse - s) * valid).sum(dim=1)
        return rows, torch.ones_like(rows, dtype=torch.bool)
