"""`layer_stats`: an architecture-agnostic vector of per-role, per-depth tensor statistics.

Layout (deterministic; `layout()` names every dimension, the run writes it to layout.json):

    [ global block: GLOBAL_SIZE = 64 ]
        0 log_params  1 log_tensors  2 log_depth (weight matrices/convs)  3 log_width (their median
        fan-out)  4 log_max_fan_in  5 frac_half_params (stored fp16/bf16)  6 frac_matrix_params
        7 mean_log_rms (of those matrices), then per role (ROLES order): mask (1 = present),
        log(1 + tensor count), fraction of parameters; zeros up to 64
    [ role blocks: for role in ROLES, for bin in range(bins), for stat in STATS ]
        a role's tensors, in natural name order, are L equal slices of depth [0, 1); bin b covers
        [b/bins, (b+1)/bins) and holds the overlap-weighted mean of their STATS (tensor_stats.py);
        missing roles are zeros (their mask says so)
    [ zeros up to `size` ]   (or the layout is truncated to `size`, with a warning)

bins = [vectorizer] depth_bins, or when 0 as many as fit: (size - 64) // (17 roles * 37 stats),
i.e. 12 bins for size 8192 (7612 used dims). Roles: roles.py; statistics: tensor_stats.py.

Tensors are consumed one at a time; with [vectorizer] read_ahead a worker thread reads the next
tensor and does its one full pass while the statistics of the current one are computed.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np
import torch

from extractors.base import natural_key
from extractors.vectorizers import VECTORIZER_REGISTRY
from extractors.vectorizers.base import Vectorizer, VectorResult, fit_to_size
from extractors.vectorizers.roles import ROLES, classify
from extractors.vectorizers.tensor_stats import IDX, STATS, checked_sum, tensor_stats
from utils import log

logger = log.get_logger("extractors.layer_stats")
GLOBAL = ("log_params", "log_tensors", "log_depth", "log_width", "log_max_fan_in", "frac_half_params",
          "frac_matrix_params", "mean_log_rms")
GLOBAL_SIZE = 64
LAYOUT_VERSION = 1  # bump when the layout or a statistic changes (recorded with every vector)
T = TypeVar("T")
LAYER_ROLES = set(ROLES) - {"embedding", "head", "vector", "norm_weight", "norm_bias", "bn_mean", "bn_var"}


def resample(feats: np.ndarray, bins: int) -> np.ndarray:
    """[L, S] -> [bins, S]: each of the L rows covers an equal slice of [0, 1); area-weighted means."""
    edges_in = np.arange(len(feats) + 1) / len(feats)
    edges_out = np.arange(bins + 1) / bins
    lo = np.maximum(edges_out[:-1, None], edges_in[None, :-1])
    hi = np.minimum(edges_out[1:, None], edges_in[None, 1:])
    weights = np.clip(hi - lo, 0.0, None) * bins  # rows sum to 1
    return weights @ feats


def _prepare(name: str, tensor: torch.Tensor) -> tuple[str, torch.Tensor, list]:
    """The tensor's role pieces, each with its full pass (sum: NaN/inf check, exact mean) done."""
    parts = classify(name, tuple(tensor.shape))
    pieces = []
    for role, start, end in parts:
        piece = tensor if len(parts) == 1 else tensor[start:end]
        pieces.append((role, piece, checked_sum(name, piece)))
    return name, tensor, pieces


def read_ahead(items: Iterable[tuple], work: Callable[..., T]) -> Iterator[T]:
    """work(*item) for each item, one item ahead in a worker thread: reading the next tensor and its
    full pass overlap the statistics of the current one (two tensors in memory at a time)."""
    source = iter(items)

    def step() -> T | None:
        item = next(source, None)
        return None if item is None else work(*item)

    with ThreadPoolExecutor(1, thread_name_prefix="zoorank-read-ahead") as pool:
        future = pool.submit(step)
        while (result := future.result()) is not None:
            future = pool.submit(step)
            yield result
            del result


@VECTORIZER_REGISTRY.register(name="layer_stats")
class LayerStatsVectorizer(Vectorizer):
    """Per-role statistics on depth bins plus a global block (the default)."""

    name = "layer_stats"
    version = LAYOUT_VERSION

    def __init__(self, config) -> None:
        super().__init__(config)
        per_bin = len(ROLES) * len(STATS)
        self.bins = config.depth_bins or max(1, (config.size - GLOBAL_SIZE) // per_bin)
        self.used = GLOBAL_SIZE + self.bins * per_bin
        if self.used > config.size:
            logger.warning("layer_stats layout has %d dims but [vectorizer] size = %d: the last roles are "
                           "truncated; lower depth_bins or raise size", self.used, config.size)

    def layout(self) -> list[str]:
        names = [f"global/{g}" for g in GLOBAL]
        for kind in ("mask", "count", "param_frac"):
            names += [f"{kind}/{r}" for r in ROLES]
        names += [f"global/reserved{i}" for i in range(GLOBAL_SIZE - len(names))]
        names += [f"{r}/bin{b:02d}/{s}" for r in ROLES for b in range(self.bins) for s in STATS]
        names += [f"pad{i}" for i in range(self.config.size - len(names))]
        return names[: self.config.size]

    def vectorize(self, named: Iterable[tuple[str, torch.Tensor]]) -> VectorResult:
        records: list[tuple[tuple, str, np.ndarray, int]] = []  # (sort key, role, stats, numel)
        names, shapes, roles = [], [], []
        n_params = n_half = 0
        stream = read_ahead(named, _prepare) if self.config.read_ahead else (_prepare(*item) for item in named)
        for name, tensor, pieces in stream:
            for i, (role, piece, total) in enumerate(pieces):
                stats = tensor_stats(name, piece, self.config, total)
                records.append(((natural_key(name), i), role, stats, piece.numel()))
            names.append(name)
            shapes.append(tuple(tensor.shape))
            roles.append("+".join(p[0] for p in pieces))
            n_params += tensor.numel()
            n_half += tensor.numel() if tensor.dtype in (torch.float16, torch.bfloat16) else 0
            del tensor, pieces, piece  # release the tensor (and its mapped pages) before the next
        records.sort(key=lambda r: r[0])
        vec = np.zeros(self.used)
        vec[:GLOBAL_SIZE] = self._global(records, len(names), n_params, n_half)
        block = self.bins * len(STATS)
        for r, role in enumerate(ROLES):
            feats = np.array([rec[2] for rec in records if rec[1] == role])
            if len(feats):
                start = GLOBAL_SIZE + r * block
                vec[start : start + block] = resample(feats, self.bins).reshape(-1)
        info = {"num_params": n_params, "num_tensors": len(names), "bins": self.bins, "used_dims": self.used,
                "layout_version": LAYOUT_VERSION}
        order = sorted(range(len(names)), key=lambda i: natural_key(names[i]))
        return VectorResult(fit_to_size(vec, self.config.size), [names[i] for i in order],
                            [shapes[i] for i in order], [roles[i] for i in order], info)

    @staticmethod
    def _global(records: list, n_tensors: int, n_params: int, n_half: int) -> np.ndarray:
        out = np.zeros(GLOBAL_SIZE)
        layers = [rec for rec in records if rec[1] in LAYER_ROLES]
        fan_out = [math.exp(rec[2][IDX["log_fan_out"]]) for rec in layers]
        fan_in = [math.exp(rec[2][IDX["log_fan_in"]]) for rec in layers]
        total = max(n_params, 1)
        out[: len(GLOBAL)] = [
            math.log1p(n_params), math.log1p(n_tensors), math.log1p(len(layers)),
            math.log1p(float(np.median(fan_out))) if layers else 0.0, math.log1p(max(fan_in, default=0.0)),
            n_half / total, sum(rec[3] for rec in layers) / total,
            float(np.mean([rec[2][IDX["log_rms"]] for rec in layers])) if layers else 0.0,
        ]
        n_roles = len(ROLES)
        for r, role in enumerate(ROLES):
            mine = [rec for rec in records if rec[1] == role]
            out[len(GLOBAL) + r] = 1.0 if mine else 0.0
            out[len(GLOBAL) + n_roles + r] = math.log1p(len(mine))
            out[len(GLOBAL) + 2 * n_roles + r] = sum(rec[3] for rec in mine) / total
        return out
