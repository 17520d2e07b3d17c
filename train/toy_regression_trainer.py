"""Example trainer for the foundation: to be removed once the autoencoder and ranking trainers land."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

from config.training import ToyRegressionConfig
from train import TRAINER_REGISTRY
from train.base_trainer import Trainer


@TRAINER_REGISTRY.register
class ToyRegressionTrainer(Trainer):
    """Example: an MLP regresses a fixed random teacher network on seeded synthetic data."""

    config_class = ToyRegressionConfig
    name = "toy_regression"
    cfg: ToyRegressionConfig

    def build_model(self) -> nn.Module:
        c = self.cfg
        return nn.Sequential(nn.Linear(c.input_dim, c.hidden_dim), nn.GELU(), nn.Dropout(c.dropout),
                             nn.Linear(c.hidden_dim, 1))

    def build_datasets(self) -> tuple[TensorDataset, TensorDataset]:
        c = self.cfg
        g = torch.Generator().manual_seed(self.run.seed + 1)  # data fixed by the seed, apart from model init
        x = torch.randn(c.num_samples, c.input_dim, generator=g)
        w1 = torch.randn(c.input_dim, 8, generator=g) / c.input_dim**0.5
        y = torch.tanh(x @ w1).sum(1) + c.noise * torch.randn(c.num_samples, generator=g)
        n_val = int(c.num_samples * c.val_fraction)
        return TensorDataset(x[n_val:], y[n_val:]), TensorDataset(x[:n_val], y[:n_val])

    def compute_loss(self, batch: list[torch.Tensor]) -> torch.Tensor:
        x, y = batch
        return F.mse_loss(self.model(x).squeeze(-1).float(), y)

    def _collect_batch_metrics(self, batch, loss: torch.Tensor) -> dict[str, float]:
        return {"rmse": loss.float().sqrt().item()}
