"""`CustomSimilarityTransformer`: each model embedding queries the dataset tokens with
`nn.MultiheadAttention` (cross-attention); the attended summary and the model token are compared
into one score per model; a masked softmax turns the scores into a distribution over the models."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn


class CrossBlock(nn.Module):
    def __init__(self, d_model: int, heads: int, ff_mult: int, dropout: float) -> None:
        super().__init__()
        self.norm_q, self.norm_kv, self.norm_ff = nn.LayerNorm(d_model), nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.attn = nn.MultiheadAttention(d_model, heads, dropout=dropout, batch_first=True)
        self.ff = nn.Sequential(nn.Linear(d_model, ff_mult * d_model), nn.GELU(), nn.Dropout(dropout),
                                nn.Linear(ff_mult * d_model, d_model))

    def forward(self, q: torch.Tensor, kv: torch.Tensor, kv_pad: torch.Tensor) -> torch.Tensor:
        kv_n = self.norm_kv(kv)
        q = q + self.attn(self.norm_q(q), kv_n, kv_n, key_padding_mask=kv_pad, need_weights=False)[0]
        return q + self.ff(self.norm_ff(q))


class CustomSimilarityTransformer(nn.Module):
    def __init__(self, dataset_dim: int, model_dim: int, d_model: int = 128, heads: int = 4, layers: int = 2,
                 ff_mult: int = 4, dropout: float = 0.1, temperature: float = 1.0) -> None:
        super().__init__()
        self.dataset_in = nn.Sequential(nn.Linear(dataset_dim, d_model), nn.LayerNorm(d_model))
        self.model_in = nn.Sequential(nn.Linear(model_dim, d_model), nn.LayerNorm(d_model))
        self.blocks = nn.ModuleList(CrossBlock(d_model, heads, ff_mult, dropout) for _ in range(layers))
        self.score = nn.Sequential(nn.LayerNorm(d_model), nn.Linear(d_model, d_model), nn.GELU(), nn.Linear(d_model, 1))
        self.temperature = temperature

    @classmethod
    def from_config(cls, cfg: Any, dataset_dim: int, model_dim: int) -> CustomSimilarityTransformer:
        return cls(dataset_dim, model_dim, d_model=cfg.d_model, heads=cfg.heads, layers=cfg.decoder_layers,
                   ff_mult=cfg.ff_mult, dropout=cfg.dropout)

    def logits(self, dataset_tokens: torch.Tensor, dataset_mask: torch.Tensor, model_tokens: torch.Tensor,
               model_mask: torch.Tensor) -> torch.Tensor:
        data = self.dataset_in(dataset_tokens)
        q = self.model_in(model_tokens)
        for block in self.blocks:
            q = block(q, data, ~dataset_mask)
        return (self.score(q).squeeze(-1) / self.temperature).masked_fill(~model_mask, float("-inf"))

    def forward(self, dataset_tokens: torch.Tensor, dataset_mask: torch.Tensor, model_tokens: torch.Tensor,
                model_mask: torch.Tensor) -> torch.Tensor:
        """Same inputs as RankingCrossAttentionTransformer -> the distribution over the real models as
        log-probabilities [B, M] (`.exp()` sums to 1; padded: -inf). Log space keeps ranking losses stable."""
        return torch.log_softmax(self.logits(dataset_tokens, dataset_mask, model_tokens, model_mask), dim=-1)

    def probabilities(self, dataset_tokens: torch.Tensor, dataset_mask: torch.Tensor, model_tokens: torch.Tensor,
                      model_mask: torch.Tensor) -> torch.Tensor:
        return self(dataset_tokens, dataset_mask, model_tokens, model_mask).exp()
