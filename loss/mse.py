"""Mean squared error for autoencoder reconstructions."""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from loss import LOSS_REGISTRY
from loss.base import ReconstructionLoss


@LOSS_REGISTRY.register(name="mse")
class MSELoss(ReconstructionLoss):
    """mean((reconstruction - target) ** 2) over all elements; both inputs [B, ...], same shape."""

    def _loss(self, reconstruction: Tensor, target: Tensor) -> Tensor:
        return F.mse_loss(reconstruction, target)
