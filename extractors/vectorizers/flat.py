"""`flat`: every parameter flattened in natural name order, resampled to `size` values.

The concatenation of N values is read at the evenly spaced positions floor((j + 0.5) * N / size),
j = 0..size-1 (N <= size: all values, then zeros). Streaming keeps `size` evenly spaced values of
each larger tensor (memory O(size x tensors) whatever the model size) and an output position takes
the kept value nearest below it. Not permutation invariant: a baseline for layer_stats.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

from extractors.base import natural_key
from extractors.vectorizers import VECTORIZER_REGISTRY
from extractors.vectorizers.base import Vectorizer, VectorResult, fit_to_size
from extractors.vectorizers.tensor_stats import checked_sum


def _positions(total: int, count: int) -> np.ndarray:
    return ((np.arange(count, dtype=np.float64) + 0.5) * total / count).astype(np.int64)


@VECTORIZER_REGISTRY.register(name="flat")
class FlatVectorizer(Vectorizer):
    """Raw parameter values, evenly subsampled (baseline)."""

    name = "flat"

    def layout(self) -> list[str]:
        return [f"flat/{i}" for i in range(self.config.size)]

    def vectorize(self, named: Iterable[tuple[str, torch.Tensor]]) -> VectorResult:
        size = self.config.size
        kept: list[tuple[tuple, str, tuple[int, ...], np.ndarray]] = []
        for name, tensor in named:
            numel = tensor.numel()
            checked_sum(name, tensor)  # NaN/inf check
            flat = tensor.reshape(-1)
            values = flat if numel <= size else flat[torch.from_numpy(_positions(numel, size))]
            kept.append((natural_key(name), name, tuple(tensor.shape), values.float().numpy().copy()))
            del tensor, flat, values
        kept.sort(key=lambda k: k[0])
        total = sum(int(np.prod(k[2])) for k in kept)
        if total <= size:
            vec = np.concatenate([k[3] for k in kept]) if kept else np.zeros(0)
        else:
            vec, offset = np.zeros(size), 0
            wanted = _positions(total, size)
            for _, _, shape, values in kept:
                numel = int(np.prod(shape))
                js = np.flatnonzero((wanted >= offset) & (wanted < offset + numel))
                local = wanted[js] - offset
                idx = local if numel <= size else np.minimum(local * size // numel, size - 1)
                vec[js] = values[idx]
                offset += numel
        info = {"num_params": total, "num_tensors": len(kept)}
        return VectorResult(fit_to_size(vec, size), [k[1] for k in kept], [k[2] for k in kept],
                            ["flat"] * len(kept), info)
