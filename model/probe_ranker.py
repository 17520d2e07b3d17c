"""`ProbeRanker`: ranks models by how they behaved on probe datasets that look like the target.

Model tokens carry each model's probe profile (P probe datasets x S statistics, dataloader/model_table.py)
and optionally its weight embedding; the ranker holds the probe datasets' own CLIP tokens. For a target
it relates the target's tokens to every probe's (the cosine of their mean tokens, and a learned
comparison of their attention-pooled encodings), turns that into weights over the probes, and scores
each model by the weighted, learned reading of its statistics on every probe, plus a learned term of its
other token parts (weights embedding, size) given the target. Every model is scored on its own: the
forward pass is linear in the number of candidates and a model's score does not depend on the others.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn


class TokenPool(nn.Module):
    """A token set [B, T, D] (mask [B, T]) -> [B, d]: a learned query attending over the encoded tokens."""

    def __init__(self, dim: int, d_model: int, heads: int) -> None:
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(dim, d_model), nn.LayerNorm(d_model), nn.GELU(), nn.Linear(d_model, d_model))
        self.query = nn.Parameter(torch.randn(1, 1, d_model) * 0.02)
        self.attn = nn.MultiheadAttention(d_model, heads, batch_first=True)
        self.norm = nn.LayerNorm(d_model)

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.enc(tokens)
        out = self.attn(self.query.expand(len(h), -1, -1), h, h, key_padding_mask=~mask, need_weights=False)[0]
        return self.norm(out[:, 0])


def masked_mean(tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.unsqueeze(-1).to(tokens.dtype)
    return (tokens * m).sum(1) / m.sum(1).clamp_min(1.0)


class ProbeRanker(nn.Module):
    needs_probes = True  # built with the probe datasets' tokens and where the profile sits in a model token

    def __init__(self, dataset_dim: int, model_dim: int, probe_tokens: torch.Tensor, probe_mask: torch.Tensor,
                 probe_start: int, probe_stats: int, d_model: int = 64, heads: int = 4, dropout: float = 0.1,
                 temperature: float = 0.05, probe_dropout: float = 0.0) -> None:
        """probe_tokens [P, Tp, Dd] and probe_mask [P, Tp]: the probe datasets' tokens; a model token's
        columns probe_start : probe_start + P * probe_stats are its profile (probe-major)."""
        super().__init__()
        self.register_buffer("probe_tokens", probe_tokens.float().clone())
        self.register_buffer("probe_mask", probe_mask.bool().clone())
        self.register_buffer("probe_layout", torch.tensor([probe_start, probe_stats]))  # saved: rebuilt from a state
        self.num_probes, self.num_stats, self.start = probe_tokens.shape[0], probe_stats, probe_start
        self.probe_dropout = probe_dropout
        stop = probe_start + self.num_probes * probe_stats
        self.other = [i for i in range(model_dim) if not probe_start <= i < stop]
        self.pool = TokenPool(dataset_dim, d_model, heads)
        self.relate = nn.Bilinear(d_model, d_model, 1)
        self.log_inv_temp = nn.Parameter(torch.tensor(float(-torch.log(torch.tensor(temperature)))))
        self.read = nn.Sequential(nn.Linear(probe_stats + 2, d_model), nn.GELU(), nn.Dropout(dropout),
                                  nn.Linear(d_model, 1))
        self.other_in = nn.Linear(len(self.other), d_model) if self.other else None
        self.other_score = nn.Sequential(nn.GELU(), nn.Dropout(dropout), nn.Linear(d_model, 1)) if self.other else None
        self.film = nn.Linear(d_model, d_model) if self.other else None
        # Start as the training-free probe ranker (similarity-weighted probe accuracies): every learned
        # correction begins at zero, so training moves away from that prior only where the data says so.
        for last in (self.read[-1], self.relate, *([self.other_score[-1]] if self.other else [])):
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)

    @classmethod
    def from_config(cls, cfg: Any, dataset_dim: int, model_dim: int, probe_tokens: torch.Tensor | None = None,
                    probe_mask: torch.Tensor | None = None, probe_start: int = 0, probe_stats: int = 0) -> ProbeRanker:
        if probe_tokens is None or probe_mask is None or probe_stats < 1:
            raise ValueError("probe_ranker needs the 'probe' model token part ([ranking_data] model_token_parts)")
        return cls(dataset_dim, model_dim, probe_tokens, probe_mask, probe_start, probe_stats, d_model=cfg.d_model,
                   heads=cfg.heads, dropout=cfg.dropout, probe_dropout=getattr(cfg, "probe_dropout", 0.0))

    @staticmethod
    def probe_kwargs(state: dict[str, torch.Tensor]) -> dict[str, Any]:
        """What a saved state holds of the probes (to rebuild the module before loading it)."""
        start, stats = (int(v) for v in state["probe_layout"])
        return {"probe_tokens": state["probe_tokens"], "probe_mask": state["probe_mask"], "probe_start": start,
                "probe_stats": stats}

    def relation(self, dataset_tokens: torch.Tensor, dataset_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(weights over the probes [B, P], relation features [B, P, 2]) of each target."""
        raw_t = nn.functional.normalize(masked_mean(dataset_tokens, dataset_mask), dim=-1)
        raw_p = nn.functional.normalize(masked_mean(self.probe_tokens, self.probe_mask), dim=-1)
        cos = raw_t @ raw_p.T  # [B, P]
        t = self.pool(dataset_tokens, dataset_mask)  # [B, d]
        p = self.pool(self.probe_tokens, self.probe_mask)  # [P, d]
        learned = self.relate(t[:, None].expand(-1, len(p), -1).contiguous(),
                              p[None].expand(len(t), -1, -1).contiguous()).squeeze(-1)  # [B, P]
        logits = cos * self.log_inv_temp.exp() + learned
        if self.training and self.probe_dropout > 0 and len(p) > 1:
            hide = torch.rand(len(t), device=cos.device) < self.probe_dropout
            nearest = nn.functional.one_hot(cos.argmax(-1), len(p)).bool() & hide[:, None]
            logits = logits.masked_fill(nearest, float("-inf"))
        weights = torch.softmax(logits, dim=-1)
        return weights, torch.stack([cos, learned], dim=-1)

    def forward(self, dataset_tokens: torch.Tensor, dataset_mask: torch.Tensor, model_tokens: torch.Tensor,
                model_mask: torch.Tensor) -> torch.Tensor:
        """dataset_tokens [B, T, Dd], model_tokens [B, M, Dm] (masks: True = real) -> scores [B, M] (padded: -inf)."""
        b, m, _ = model_tokens.shape
        weights, rel = self.relation(dataset_tokens, dataset_mask)
        stop = self.start + self.num_probes * self.num_stats
        stats = model_tokens[..., self.start:stop].reshape(b, m, self.num_probes, self.num_stats)
        rel_m = rel[:, None].expand(-1, m, -1, -1)
        # the first statistic is the probe accuracy (features/profiles.py STATS), z-scored over the zoo
        per_probe = stats[..., 0] + self.read(torch.cat([stats, rel_m], dim=-1)).squeeze(-1)  # [B, M, P]
        score = (per_probe * weights[:, None]).sum(-1)
        if self.other_in is not None:
            t = self.pool(dataset_tokens, dataset_mask)
            h = self.other_in(model_tokens[..., self.other]) * (1 + self.film(t))[:, None]
            score = score + self.other_score(h).squeeze(-1)
        return score.masked_fill(~model_mask, float("-inf"))
