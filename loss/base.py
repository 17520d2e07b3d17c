"""Base classes: ranking losses over padded candidate lists, and reconstruction losses."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from utils.errors import ZooRankError


class RankingLoss(nn.Module):
    """A loss that pushes `scores` to order each item's candidate models like `true_scores`.

    Items (rows) may have different numbers of candidate models, so inputs are padded to [B, M]
    and `mask` marks the real candidates. Padded entries never influence the value or the
    gradients: they are overwritten before any arithmetic, whatever they hold (even NaN).
    Rows with fewer than two valid candidates have nothing to rank and are left out of the mean.
    Subclasses implement `_row_losses`; higher scores mean better models throughout.
    """

    def forward(self, scores: Tensor, true_scores: Tensor, mask: Tensor | None = None) -> Tensor:
        """scores [B, M] (predicted), true_scores [B, M] (ground truth), mask [B, M] bool -> scalar."""
        if scores.dim() != 2 or scores.shape != true_scores.shape:
            raise ZooRankError(
                f"{type(self).__name__} needs scores and true_scores of the same shape [B, M], "
                f"got {tuple(scores.shape)} and {tuple(true_scores.shape)}"
            )
        if mask is None:
            mask = torch.ones_like(scores, dtype=torch.bool)
        elif mask.dtype != torch.bool or mask.shape != scores.shape:
            raise ZooRankError(
                f"{type(self).__name__} needs a bool mask of shape {tuple(scores.shape)}, "
                f"got {mask.dtype} {tuple(mask.shape)}"
            )
        enough = mask.sum(dim=1) >= 2
        # Rows left out of the mean still go through the arithmetic; treating their (zeroed) padding
        # as valid keeps them finite, so no NaN can leak into the gradient through torch.where.
        work_mask = mask | ~enough[:, None]
        s = scores.masked_fill(~mask, 0.0)
        t = true_scores.to(scores.dtype).masked_fill(~mask, 0.0)
        rows, used = self._row_losses(s, t, work_mask)
        used = used & enough
        total = torch.where(used, rows, torch.zeros_like(rows)).sum()
        return total / used.sum().clamp(min=1)

    def _row_losses(self, scores: Tensor, true_scores: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Inputs [B, M] with padding already zeroed -> (loss per row [B], row has a loss [B] bool)."""
        raise NotImplementedError


def ordered_pairs(true_scores: Tensor, mask: Tensor) -> Tensor:
    """[B, M, M] bool: True at (b, i, j) when i and j are valid and true_scores[b, i] > true_scores[b, j]."""
    both = mask[:, :, None] & mask[:, None, :]
    return both & (true_scores[:, :, None] > true_scores[:, None, :])


def pair_differences(scores: Tensor) -> Tensor:
    """[B, M] -> [B, M, M] with scores[b, i] - scores[b, j] at (b, i, j)."""
    return scores[:, :, None] - scores[:, None, :]


class ReconstructionLoss(nn.Module):
    """An autoencoder loss: reconstruction [B, ...] vs target of the same shape -> scalar (mean)."""

    def forward(self, reconstruction: Tensor, target: Tensor) -> Tensor:
        # torch would broadcast mismatched shapes with only a warning, silently averaging the wrong thing.
        if reconstruction.shape != target.shape:
            raise ZooRankError(
                f"{type(self).__name__} needs reconstruction and target of the same shape, "
                f"got {tuple(reconstruction.shape)} and {tuple(target.shape)}"
            )
        return self._loss(reconstruction, target)

    def _loss(self, reconstruction: Tensor, target: Tensor) -> Tensor:
        raise NotImplementedError
