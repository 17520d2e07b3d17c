"""`ProbeRanker`: ranks models by how they behaved on probe datasets that look like the target.

Model tokens carry each model's probe profile (P probe datasets x S statistics, dataloader/model_table.py)
and optionally its weight embedding; the ranker holds the probe datasets' own CLIP tokens. For a target
it relates the target's tokens to every probe's (`match`: each target token's best-matching probe token, or the
cosine of their mean tokens; and a learned comparison of their attention-pooled encodings), turns that into
weights over the probes (flatter when even
the nearest probe is far from the target: then no single probe stands for it), and scores
each model by the weighted, learned reading of its statistics on every probe, plus a learned term of its
other token parts (weights embedding, size) given the target. Every model is scored on its own: the
forward pass is linear in the number of candidates and a model's score does not depend on the others.

A target far from every probe by the datasets it was trained on (metrics/novelty.py: below the nearest-probe cosine
the trainer set) is, outside training, ranked by the general-quality fallback instead (metrics/general_quality.py:
a linear reading of the profile), when the trainer gave it one; with a companion (a trained weights-only ranker,
train/companion.py), by that reading's z-scores over the candidates plus the companion's, weighted; with the models'
label vectors (features/labels.py), plus the z-scores of how much the target's images look like what each model was
trained to name, weighted.
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


def standardize(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """scores [B, M] (mask [B, M]: True = a real candidate) -> z-scores over each row's real candidates (0 where
    padded, or where a row's scores are all equal)."""
    m = mask.to(scores.dtype)
    x = torch.where(mask, scores, torch.zeros_like(scores))
    n = m.sum(-1, keepdim=True).clamp_min(1.0)
    mean = x.sum(-1, keepdim=True) / n
    std = (((x - mean) * m) ** 2).sum(-1, keepdim=True).div(n).sqrt()
    return torch.where(mask & (std > 0), (x - mean) / std.clamp_min(1e-12), torch.zeros_like(x))


def masked_mean(tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.unsqueeze(-1).to(tokens.dtype)
    return (tokens * m).sum(1) / m.sum(1).clamp_min(1.0)


def probe_means(probe_tokens: torch.Tensor, probe_mask: torch.Tensor) -> torch.Tensor:
    """probe_tokens [P, Tp, D], probe_mask [P, Tp] -> each probe's mean token [P, D], in float64: what the
    nearest-probe cosine is taken against (metrics/novelty.py)."""
    return masked_mean(probe_tokens.double(), probe_mask.bool())


# The far-gate's parameter is read in units of 1 / FAR_SCALE: at [transformer]'s default learning rate a parameter
# moves by about 0.1 over a training run, while a useful gate (inverse temperature x e^-k(1 - nearest cosine)) has k of
# order 10-40 (the training-free probe ranker on the default world's strict-novelty folds).
FAR_SCALE = 100.0


class ProbeRanker(nn.Module):
    needs_probes = True  # built with the probe datasets' tokens and where the profile sits in a model token

    def __init__(self, dataset_dim: int, model_dim: int, probe_tokens: torch.Tensor, probe_mask: torch.Tensor,
                 probe_start: int, probe_stats: int, d_model: int = 64, heads: int = 4, dropout: float = 0.1,
                 temperature: float = 0.05, probe_dropout: float = 0.0,
                 probe_groups: torch.Tensor | None = None, corrections: bool = True,
                 fallback: torch.Tensor | None = None, far_threshold: float | torch.Tensor | None = None,
                 match: str = "mean", companion: nn.Module | None = None,
                 companion_columns: torch.Tensor | None = None,
                 companion_weight: float | torch.Tensor = 1.0, label_columns: torch.Tensor | None = None,
                 label_weight: float | torch.Tensor = 0.0) -> None:
        """probe_tokens [P, Tp, Dd] and probe_mask [P, Tp]: the probe datasets' tokens; a model token's
        columns probe_start : probe_start + P * probe_stats are its profile (probe-major). probe_groups [P]:
        each probe's family index (probe dropout hides a whole family); none: every probe its own.
        corrections: also the learned networks (token comparison, reading of a model's statistics, its other
        token parts); without them the ranker learns only its temperature, far-gate and statistic mix.
        fallback [P * S + 1] (the profile's coefficients, then the bias) and far_threshold: the general-quality
        ranking of a target whose nearest-probe cosine is below the threshold; none: no fallback.
        match: how a target resembles a probe, mean (cosine of the mean tokens) or tokens (each target token's
        best-matching probe token, cosines averaged). companion and companion_columns [Dc]: a trained ranker of
        (dataset tokens, model tokens[..., companion_columns]) whose z-scores, times companion_weight, a far
        target's general quality (z-scored) adds (frozen: the probe ranker's training never moves it).
        label_columns [Dd]: where a model token holds its label vector (features/labels.py); a far target's general
        quality also adds label_weight times the z-scores of its mean token's cosine with them."""
        super().__init__()
        self.register_buffer("probe_tokens", probe_tokens.float().clone())
        self.register_buffer("probe_mask", probe_mask.bool().clone())
        groups = torch.arange(len(probe_tokens)) if probe_groups is None else probe_groups.long().clone()
        self.register_buffer("probe_groups", groups)
        self.register_buffer("probe_layout", torch.tensor([probe_start, probe_stats]))  # saved: rebuilt from a state
        self.has_fallback = fallback is not None and far_threshold is not None
        if self.has_fallback:
            self.register_buffer("fallback", torch.as_tensor(fallback, dtype=torch.float64).clone())
            self.register_buffer("far_threshold", torch.as_tensor(far_threshold, dtype=torch.float64).clone())
        self.num_probes, self.num_stats, self.start = probe_tokens.shape[0], probe_stats, probe_start
        self.companion = companion if self.has_fallback else None
        if self.companion is not None:
            self.companion.requires_grad_(False).eval()
            self.register_buffer("companion_columns", torch.as_tensor(companion_columns, dtype=torch.long).clone())
            self.register_buffer("companion_weight", torch.as_tensor(companion_weight, dtype=torch.float64).clone())
        if self.has_fallback and label_columns is not None and float(label_weight) > 0:
            if len(label_columns) != probe_tokens.shape[-1]:
                raise ValueError(f"probe_ranker: label vectors of {len(label_columns)} dims, dataset tokens of "
                                 f"{probe_tokens.shape[-1]}: made by another CLIP?")
            self.register_buffer("label_columns", torch.as_tensor(label_columns, dtype=torch.long).clone())
            self.register_buffer("label_weight", torch.as_tensor(label_weight, dtype=torch.float64).clone())
        self.reads_labels = hasattr(self, "label_columns")
        self.probe_dropout = probe_dropout
        if match not in ("mean", "tokens"):
            raise ValueError(f"probe_ranker: unknown probe_match '{match}' (mean | tokens)")
        self.match = match
        if match == "tokens":  # saved, so that a checkpoint is rebuilt as it was trained; none (older ones): mean
            self.register_buffer("probe_match_tokens", torch.tensor(True))
        stop = probe_start + self.num_probes * probe_stats
        self.other = [i for i in range(model_dim) if not probe_start <= i < stop]
        self.log_inv_temp = nn.Parameter(torch.tensor(float(-torch.log(torch.tensor(temperature)))))
        self.far = nn.Parameter(torch.zeros(()))  # k = FAR_SCALE * far; 0: the training-free ranker's weights
        # how much each statistic counts (features/profiles.py STATS): accuracy alone to start with
        self.mix = nn.Parameter(nn.functional.one_hot(torch.tensor(0), probe_stats).float())
        self.corrections = corrections
        if not corrections:
            return
        self.pool = TokenPool(dataset_dim, d_model, heads)
        self.relate = nn.Bilinear(d_model, d_model, 1)
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
                    probe_mask: torch.Tensor | None = None, probe_start: int = 0, probe_stats: int = 0,
                    probe_groups: torch.Tensor | None = None, fallback: torch.Tensor | None = None,
                    far_threshold: float | torch.Tensor | None = None, match: str | None = None,
                    companion: nn.Module | None = None, companion_columns: torch.Tensor | None = None,
                    companion_weight: float | torch.Tensor | None = None, label_columns: torch.Tensor | None = None,
                    label_weight: float | torch.Tensor | None = None) -> ProbeRanker:
        if probe_tokens is None or probe_mask is None or probe_stats < 1:
            raise ValueError("probe_ranker needs the 'probe' model token part ([ranking_data] model_token_parts)")
        return cls(dataset_dim, model_dim, probe_tokens, probe_mask, probe_start, probe_stats, d_model=cfg.d_model,
                   heads=cfg.heads, dropout=cfg.dropout, probe_dropout=getattr(cfg, "probe_dropout", 0.0),
                   probe_groups=probe_groups, corrections=getattr(cfg, "probe_corrections", True),
                   fallback=fallback, far_threshold=far_threshold, match=match or getattr(cfg, "probe_match", "mean"),
                   temperature=getattr(cfg, "probe_temperature", 0.05), companion=companion,
                   companion_columns=companion_columns,
                   companion_weight=getattr(cfg, "far_companion_weight", 1.0) if companion_weight is None
                   else companion_weight, label_columns=label_columns,
                   label_weight=getattr(cfg, "far_label_weight", 0.0) if label_weight is None else label_weight)

    @staticmethod
    def probe_kwargs(state: dict[str, torch.Tensor]) -> dict[str, Any]:
        """What a saved state holds of the probes (to rebuild the module before loading it; a companion's columns
        too: the companion itself is rebuilt from its config, train/companion.py)."""
        start, stats = (int(v) for v in state["probe_layout"])
        return {"probe_tokens": state["probe_tokens"], "probe_mask": state["probe_mask"], "probe_start": start,
                "probe_stats": stats, "probe_groups": state.get("probe_groups"), "fallback": state.get("fallback"),
                "far_threshold": state.get("far_threshold"),
                "match": "tokens" if "probe_match_tokens" in state else "mean",
                "companion_columns": state.get("companion_columns"), "companion_weight": state.get("companion_weight"),
                "label_columns": state.get("label_columns"), "label_weight": state.get("label_weight")}

    def nearest(self, dataset_tokens: torch.Tensor, dataset_mask: torch.Tensor) -> torch.Tensor:
        """[B]: each target's nearest-probe cosine, in float64 as metrics/novelty.py sets the threshold."""
        t = nn.functional.normalize(masked_mean(dataset_tokens.double(), dataset_mask), dim=-1)
        p = nn.functional.normalize(probe_means(self.probe_tokens, self.probe_mask), dim=-1)
        return (t @ p.T).max(-1).values

    def similarity(self, dataset_tokens: torch.Tensor, dataset_mask: torch.Tensor) -> torch.Tensor:
        """[B, P]: how much each target resembles each probe (`match`)."""
        if self.match == "mean":
            raw_t = nn.functional.normalize(masked_mean(dataset_tokens, dataset_mask), dim=-1)
            raw_p = nn.functional.normalize(masked_mean(self.probe_tokens, self.probe_mask), dim=-1)
            return raw_t @ raw_p.T
        t = nn.functional.normalize(dataset_tokens, dim=-1)
        p = nn.functional.normalize(self.probe_tokens, dim=-1)
        pair = torch.einsum("btd,pqd->btpq", t, p).masked_fill(~self.probe_mask[None, None], -2.0)
        return masked_mean(pair.amax(-1), dataset_mask)  # [B, T, P] -> [B, P]

    def relation(self, dataset_tokens: torch.Tensor, dataset_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(weights over the probes [B, P], relation features [B, P, 2]) of each target."""
        cos = self.similarity(dataset_tokens, dataset_mask)  # [B, P]
        learned = torch.zeros_like(cos)
        if self.corrections:
            t = self.pool(dataset_tokens, dataset_mask)  # [B, d]
            p = self.pool(self.probe_tokens, self.probe_mask)  # [P, d]
            learned = self.relate(t[:, None].expand(-1, len(p), -1).contiguous(),
                                  p[None].expand(len(t), -1, -1).contiguous()).squeeze(-1)  # [B, P]
        hidden = torch.zeros_like(cos, dtype=torch.bool)
        if self.training and self.probe_dropout > 0:
            # strict novelty in training: the family of the nearest probe is hidden, so the ranker also
            # learns to rank when no probe resembles the target (a whole family: its other corruptions
            # would otherwise stand in for the hidden probe)
            hide = torch.rand(len(cos), device=cos.device) < self.probe_dropout
            family = self.probe_groups[cos.argmax(-1)]  # [B]
            hidden = (self.probe_groups[None] == family[:, None]) & hide[:, None]
            hidden &= ~hidden.all(-1, keepdim=True)  # never every probe
        nearest = cos.masked_fill(hidden, -1.0).max(-1, keepdim=True).values  # [B, 1]
        inv_temp = (self.log_inv_temp - FAR_SCALE * self.far * (1.0 - nearest)).exp()
        logits = (cos * inv_temp + learned).masked_fill(hidden, float("-inf"))
        weights = torch.softmax(logits, dim=-1)
        return weights, torch.stack([cos, learned], dim=-1)

    def label_affinity(self, dataset_tokens: torch.Tensor, dataset_mask: torch.Tensor,
                       model_tokens: torch.Tensor) -> torch.Tensor:
        """[B, M]: the cosine of each target's mean token and each model's label vector (0 for a model naming no
        classes: its vector is zeros)."""
        t = nn.functional.normalize(masked_mean(dataset_tokens.double(), dataset_mask), dim=-1)  # [B, D]
        return (model_tokens[..., self.label_columns].double() * t[:, None]).sum(-1)

    def forward(self, dataset_tokens: torch.Tensor, dataset_mask: torch.Tensor, model_tokens: torch.Tensor,
                model_mask: torch.Tensor) -> torch.Tensor:
        """dataset_tokens [B, T, Dd], model_tokens [B, M, Dm] (masks: True = real) -> scores [B, M] (padded: -inf)."""
        b, m, _ = model_tokens.shape
        weights, rel = self.relation(dataset_tokens, dataset_mask)
        stop = self.start + self.num_probes * self.num_stats
        stats = model_tokens[..., self.start:stop].reshape(b, m, self.num_probes, self.num_stats)
        per_probe = stats @ self.mix  # [B, M, P]: each statistic z-scored over the zoo
        if self.corrections:
            rel_m = rel[:, None].expand(-1, m, -1, -1)
            per_probe = per_probe + self.read(torch.cat([stats, rel_m], dim=-1)).squeeze(-1)
        score = (per_probe * weights[:, None]).sum(-1)
        if self.corrections and self.other:
            t = self.pool(dataset_tokens, dataset_mask)
            h = self.other_in(model_tokens[..., self.other]) * (1 + self.film(t))[:, None]
            score = score + self.other_score(h).squeeze(-1)
        if self.has_fallback and not self.training:
            # the margin: the dataset that set the threshold, summed in another order, is not far by rounding
            far = self.nearest(dataset_tokens, dataset_mask) < self.far_threshold - 1e-9  # [B]
            general = stats.reshape(b, m, -1).double() @ self.fallback[:-1] + self.fallback[-1]
            if (self.companion is not None or self.reads_labels) and bool(far.any()):
                general = standardize(general, model_mask)
            if self.companion is not None and bool(far.any()):
                other = self.companion(dataset_tokens, dataset_mask, model_tokens[..., self.companion_columns], model_mask)
                general = general + self.companion_weight * standardize(other.double(), model_mask)
            if self.reads_labels and bool(far.any()):
                general = general + self.label_weight * standardize(self.label_affinity(
                    dataset_tokens, dataset_mask, model_tokens), model_mask)
            score = torch.where(far[:, None], general.to(score.dtype), score)
        return score.masked_fill(~model_mask, float("-inf"))
