"""Probe profiles: how each model behaves on a fixed probe collection, from the model alone.

For every (model, probe dataset) pair, from frozen features of a few images per class (class-balanced,
seeded; never a target dataset):
  accuracy           the linear probe's test accuracy (features/probe.py, the ground truth's method)
  centroid_accuracy  nearest class mean (cosine, standardized features): separability without fitting
  logme              LogME's evidence on the train images (estimators/logme.py)
  effective_rank     exp(entropy) of the feature covariance's eigenvalues, over the feature size:
                     how much of its width the model uses on this kind of data

A profile is [P, S] numbers (P probe datasets x S statistics): a model token part of its own
(dataloader/model_table.py), computed when a model enters the zoo and by `recommend.py add-model`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from estimators import ESTIMATOR_REGISTRY
from features.handle import ModelHandle
from features.images import PreprocessCache, load_split
from features.probe import probe_accuracy
from features.refs import Ref

STATS = ("accuracy", "centroid_accuracy", "logme", "effective_rank")
_PREP: PreprocessCache | None = None  # per process: preprocessed probe splits


@dataclass(frozen=True)
class ProfileSettings:
    cfg: Any  # ProbesConfig
    loader: Any  # DatasetLoaderConfig


def centroid_accuracy(f_train: np.ndarray, y_train: np.ndarray, f_test: np.ndarray, y_test: np.ndarray) -> float:
    """Nearest class mean by cosine on train-standardized features: f_train [N, D], f_test [M, D] -> accuracy."""
    mu, sd = f_train.mean(0), f_train.std(0) + 1e-6
    a, b = (f_train - mu) / sd, (f_test - mu) / sd
    classes = np.unique(y_train)
    means = np.stack([a[y_train == c].mean(0) for c in classes])
    means /= np.linalg.norm(means, axis=1, keepdims=True) + 1e-12
    b /= np.linalg.norm(b, axis=1, keepdims=True) + 1e-12
    return float((classes[np.argmax(b @ means.T, axis=1)] == y_test).mean())


def effective_rank(f: np.ndarray) -> float:
    """exp(entropy of the normalized covariance spectrum) / D for features f [N, D], in (0, 1]."""
    x = f - f.mean(0)
    eig = np.clip(np.linalg.svd(x, compute_uv=False) ** 2, 0, None)
    p = eig / max(eig.sum(), 1e-12)
    p = p[p > 0]
    return float(np.exp(-(p * np.log(p)).sum()) / f.shape[1])


def profile_stats(f_train: np.ndarray, y_train: np.ndarray, f_test: np.ndarray, y_test: np.ndarray,
                  c: float = 1.0, max_iter: int = 100, seed: int = 0) -> dict[str, float]:
    """The STATS of one model on one probe dataset from its features (train [N, D], test [M, D])."""
    f_train, f_test = f_train.astype(np.float64), f_test.astype(np.float64)
    return {"accuracy": probe_accuracy(f_train, y_train, f_test, y_test, c, max_iter, seed),
            "centroid_accuracy": centroid_accuracy(f_train, y_train, f_test, y_test),
            "logme": float(ESTIMATOR_REGISTRY.get("logme")().score(y_train, features=f_train)),
            "effective_rank": effective_rank(f_train)}


def profile_pair(handle: ModelHandle, ds: Ref, job: ProfileSettings) -> dict[str, Any]:
    """One model on one probe dataset: features of the class-balanced sample, then its STATS."""
    global _PREP
    if _PREP is None:
        _PREP = PreprocessCache(256 << 20)
    cfg = job.cfg
    train = load_split(ds.source, cfg.train_split, job.loader, cfg.train_per_class, cfg.seed)
    test = load_split(ds.source, cfg.test_split, job.loader, cfg.test_per_class, cfg.seed)
    f_train = handle.features(_PREP.get(train, handle.processor))
    f_test = handle.features(_PREP.get(test, handle.processor))
    return {"stats": profile_stats(f_train, train.labels, f_test, test.labels, cfg.probe_c, cfg.probe_max_iter,
                                   cfg.seed),
            "n_train": len(train), "n_test": len(test), "feature_dim": int(f_train.shape[1])}
