"""Smooth L1 (Huber-like) loss for autoencoder reconstructions."""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from loss import LOSS_REGISTRY
from loss.base import ReconstructionLoss
from utils.errors import ConfigError


@LOSS_REGISTRY.register(name="smooth_l1")
class SmoothL1Loss(ReconstructionLoss):
    """Mean over elements of 0.5 d^2 / beta if |d| < beta else |d| - 0.5 beta, d = reconstruction - target.

    Both inputs [B, ...] of the same shape. Quadratic near 0, linear beyond `beta`, so a few badly
    reconstructed features do not dominate the gradient as they do with MSE.
    """

    def __init__(self, beta: float = 1.0) -> None:
        super().__init__()
        if beta <= 0:
            raise ConfigError(f"loss smooth_l1: beta must be positive, got {beta}")
        self.beta = beta

    def _loss(self, reconstruction: Tensor, target: Tensor) -> Tensor:
        return F.smooth_l1_loss(reconstruction, target, beta=self.beta)
