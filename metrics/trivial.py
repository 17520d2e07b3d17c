"""Trivial rankers (`TRIVIAL_REGISTRY`): what a learned ranker must beat to be worth anything.

Each takes a `RankContext` and returns scores [M] for the candidate models (higher = ranked first),
using only the fold's training datasets and the models' own metadata, never the test dataset.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from utils.registry import Registry

TRIVIAL_REGISTRY = Registry("trivial ranker")


@dataclass
class RankContext:
    dataset: str  # the test dataset being ranked for
    models: list[str]  # candidate model ids, [M]
    train_performance: dict[str, dict[str, float]]  # {training dataset: {model: score}} of this fold
    log_params: dict[str, float]  # model -> log10 parameter count
    seed: int


@TRIVIAL_REGISTRY.register(name="mean_train_score")
def mean_train_score(ctx: RankContext) -> np.ndarray:
    """Mean ground-truth score of each model over the fold's training datasets (a strong prior)."""
    rows = ctx.train_performance.values()
    return np.array([np.mean([r[m] for r in rows if m in r] or [0.0]) for m in ctx.models])


@TRIVIAL_REGISTRY.register(name="num_params")
def num_params(ctx: RankContext) -> np.ndarray:
    """Bigger first."""
    return np.array([ctx.log_params[m] for m in ctx.models])


@TRIVIAL_REGISTRY.register(name="random")
def random(ctx: RankContext) -> np.ndarray:
    """A seeded random order per dataset (same seed, same numbers)."""
    rng = np.random.default_rng([ctx.seed, zlib.crc32(ctx.dataset.encode())])
    return rng.permutation(len(ctx.models)).astype(np.float64)
