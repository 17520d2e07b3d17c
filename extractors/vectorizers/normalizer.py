"""Per-dimension robust normalization, fitted on training models only, applied to every model.

    norm = fit_normalizer(train_vectors, ids=train_ids, clip=10.0)
    norm.save("normalizer.npz"); norm = RobustNormalizer.load("normalizer.npz")
    z = norm.apply(vectors)          # ((x - median) / scale).clip(-clip, clip), float32

scale = IQR / 1.349 (the standard deviation for normal data); dimensions with no spread fall back to
1.4826 * MAD, then the standard deviation, then 1 (constant dimensions such as padding map to 0).
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from utils.artifacts import damaged, read_npz
from utils.errors import ZooRankError
from utils.io import save_npz

EPS = 1e-8


class RobustNormalizer:
    def __init__(self, median: np.ndarray, scale: np.ndarray, clip: float = 10.0, ids: Sequence[str] = ()) -> None:
        self.median = np.asarray(median, dtype=np.float64)
        self.scale = np.asarray(scale, dtype=np.float64)
        self.clip = float(clip)
        self.ids = list(ids)

    @property
    def size(self) -> int:
        return self.median.size

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        x = np.asarray(vectors, dtype=np.float64)
        if x.shape[-1] != self.size:
            raise ZooRankError(f"normalizer expects vectors of size {self.size}, got {x.shape[-1]}")
        z = (x - self.median) / self.scale
        if self.clip > 0:
            z = np.clip(z, -self.clip, self.clip)
        return z.astype(np.float32)

    def save(self, path: str | Path) -> None:
        meta = json.dumps({"format": "zoorank.normalizer/1", "clip": self.clip, "num_models": len(self.ids)})
        save_npz(path, median=self.median, scale=self.scale, ids=np.array(self.ids, dtype=str),
                 meta=np.array(meta))

    @classmethod
    def load(cls, path: str | Path, rebuild: str = "python train.py modelautoencoder") -> RobustNormalizer:
        data = read_npz(path, {"median": ("f", 1), "scale": ("f", 1), "ids": ("U", 1), "meta": "json"},
                        what="normalizer", rebuild=rebuild, same_rows=("median", "scale"))
        meta = data["meta"]
        if not isinstance(meta, dict) or not isinstance(meta.get("clip"), (int, float)):
            raise damaged(path, "normalizer", "'meta' has no numeric 'clip'", rebuild)
        if np.any(data["scale"] <= 0):
            raise damaged(path, "normalizer", "'scale' holds values <= 0", rebuild)
        return cls(data["median"], data["scale"], meta["clip"], data["ids"].tolist())


def fit_normalizer(vectors: np.ndarray, ids: Sequence[str] = (), clip: float = 10.0) -> RobustNormalizer:
    """Fit median and robust scale per dimension on training vectors [N, D] (N >= 2)."""
    x = np.asarray(vectors, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ZooRankError(f"fitting a normalizer needs at least 2 training vectors, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        bad = [ids[i] if i < len(ids) else f"row {i}" for i in np.flatnonzero(~np.isfinite(x).all(axis=1))]
        raise ZooRankError(f"fitting a normalizer: the vectors of {', '.join(map(repr, bad[:3]))} contain NaN or inf; "
                           "extract them again")
    median = np.median(x, axis=0)
    q25, q75 = np.percentile(x, [25, 75], axis=0)
    scale = (q75 - q25) / 1.349
    mad = 1.4826 * np.median(np.abs(x - median), axis=0)
    std = x.std(axis=0)
    for fallback in (mad, std, np.ones_like(std)):
        scale = np.where(scale > EPS, scale, fallback)
    return RobustNormalizer(median, scale, clip, ids)
