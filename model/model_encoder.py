"""Parameter-vector autoencoder: [N, input_dim] model vectors <-> [N, code_dim] model embeddings."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU, "leaky_relu": nn.LeakyReLU}


def mlp(dims: list[int], activation: str, dropout: float, last_activation: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(dims, dims[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(dims) - 2 or last_activation:
            layers += [nn.LayerNorm(b), ACTIVATIONS[activation](), nn.Dropout(dropout)]
    return nn.Sequential(*layers)


class AutoEncoder(nn.Module):
    """Symmetric MLP autoencoder. encode: [B, input_dim] -> [B, code_dim]; forward returns (recon, code)."""

    def __init__(self, input_dim: int = 8192, hidden_dims: tuple[int, ...] = (2048, 1024), code_dim: int = 512,
                 activation: str = "gelu", dropout: float = 0.1) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")
        self.input_dim, self.code_dim = input_dim, code_dim
        self.encoder = mlp([input_dim, *hidden_dims, code_dim], activation, dropout)
        self.decoder = mlp([code_dim, *reversed(hidden_dims), input_dim], activation, dropout)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        return self.decoder(code)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        code = self.encode(x)
        return self.decode(code), code


class ModelAutoEncoder(AutoEncoder):
    """The autoencoder built from its config section (`[model_autoencoder]`)."""

    @staticmethod
    def kwargs_from_config(cfg: Any, input_dim: int) -> dict[str, Any]:
        """Constructor arguments from a `[model_autoencoder]` section (plain types, for checkpoints)."""
        return {"input_dim": input_dim, "hidden_dims": list(cfg.hidden_dims), "code_dim": cfg.code_dim,
                "activation": cfg.activation, "dropout": cfg.dropout}

    @classmethod
    def from_config(cls, cfg: Any, input_dim: int) -> ModelAutoEncoder:
        kwargs = cls.kwargs_from_config(cfg, input_dim)
        return cls(**{**kwargs, "hidden_dims": tuple(kwargs["hidden_dims"])})
