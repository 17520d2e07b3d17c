"""`RankingCrossAttentionTransformer`: dataset tokens are the encoder input (source), model tokens the
decoder input (target); each decoded model token becomes one logit. Models attend to each other
(self-attention) and to the dataset (cross-attention), so scores are relative to the candidate set.

That self-attention makes the forward pass quadratic in the number of candidates M. `candidate_chunk`
(> 0) scores them in chunks of that many instead: the dataset is encoded once, and models attend only
within their chunk, so the pass is linear in M and a chunk of at least the zoo size the ranker was
trained on sees the same kind of candidate set as in training."""
from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import nn


class RankingCrossAttentionTransformer(nn.Module):
    def __init__(self, dataset_dim: int, model_dim: int, d_model: int = 128, heads: int = 4,
                 encoder_layers: int = 2, decoder_layers: int = 2, ff_mult: int = 4, dropout: float = 0.1,
                 candidate_chunk: int = 0) -> None:
        super().__init__()
        self.candidate_chunk = candidate_chunk
        self.dataset_in = nn.Sequential(nn.Linear(dataset_dim, d_model), nn.LayerNorm(d_model))
        self.model_in = nn.Sequential(nn.Linear(model_dim, d_model), nn.LayerNorm(d_model))
        with warnings.catch_warnings():  # norm_first layers never take torch's nested-tensor fast path: not news
            warnings.filterwarnings("ignore", message="enable_nested_tensor is True")
            self.transformer = nn.Transformer(
                d_model=d_model, nhead=heads, num_encoder_layers=encoder_layers, num_decoder_layers=decoder_layers,
                dim_feedforward=ff_mult * d_model, dropout=dropout, batch_first=True, norm_first=True)
        self.head = nn.Linear(d_model, 1)

    @classmethod
    def from_config(cls, cfg: Any, dataset_dim: int, model_dim: int) -> RankingCrossAttentionTransformer:
        return cls(dataset_dim, model_dim, d_model=cfg.d_model, heads=cfg.heads, encoder_layers=cfg.encoder_layers,
                   decoder_layers=cfg.decoder_layers, ff_mult=cfg.ff_mult, dropout=cfg.dropout,
                   candidate_chunk=cfg.candidate_chunk)

    def forward(self, dataset_tokens: torch.Tensor, dataset_mask: torch.Tensor, model_tokens: torch.Tensor,
                model_mask: torch.Tensor) -> torch.Tensor:
        """dataset_tokens [B, T, Dd], dataset_mask [B, T], model_tokens [B, M, Dm], model_mask [B, M]
        (masks: True = real token) -> logits [B, M] (padded models: -inf)."""
        memory = self.transformer.encoder(self.dataset_in(dataset_tokens), src_key_padding_mask=~dataset_mask)
        models = self.model_in(model_tokens)
        step = self.candidate_chunk if self.candidate_chunk > 0 else models.shape[1]
        out = torch.cat([
            self.transformer.decoder(models[:, i:i + step], memory, tgt_key_padding_mask=~model_mask[:, i:i + step],
                                     memory_key_padding_mask=~dataset_mask)
            for i in range(0, models.shape[1], step)], dim=1)
        return self.head(out).squeeze(-1).masked_fill(~model_mask, float("-inf"))
