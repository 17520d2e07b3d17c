"""A toy trainer for the tests of the shared loop, loaded as a plugin (`train.py --plugin tests/toy_trainer.py`).

An MLP regresses a fixed random teacher on seeded synthetic data: epochs of any length in
milliseconds, dropout to exercise the saved RNG state. Not part of the product's registry.
"""
from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

from config.parser import config_section
from config.training import TrainerConfig
from train import TRAINER_REGISTRY
from train.base_trainer import Trainer


@config_section("toy_regression")
@dataclasses.dataclass
class ToyRegressionConfig(TrainerConfig):
    num_samples: int = 512
    input_dim: int = 16
    hidden_dim: int = 32
    dropout: float = 0.1
    val_fraction: float = 0.25
    noise: float = 0.05
    epochs: int = 8
    lr: float = 3e-3
    warmup_steps: int = 10
    min_lr: float = 1e-5
    grad_clip_norm: float = 1.0


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
