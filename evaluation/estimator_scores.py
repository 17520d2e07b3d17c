"""Every transferability estimator on every (model, target dataset) pair, with what each pair cost.

A model is loaded once for all its datasets; on each dataset's train split it gives features [N, D]
and, when it has a source classifier head, source-class probabilities [N, C_s] (softmax of that head
on the same features). Every estimator scores the pair from those arrays. A pair's record (scores,
reasons for "n/a", seconds for preprocessing, the forward pass and each estimator) is a small JSON
file written as soon as it is known, so an interrupted benchmark resumes where it stopped.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from estimators import ESTIMATOR_REGISTRY, MissingInputError
from evaluation.timing import one_thread
from features.handle import ModelHandle, find_head
from features.images import load_split, preprocess, processor_key
from features.pairs import run_pairs
from features.refs import Ref
from utils.hashing import stable_hash


@dataclass(frozen=True)
class EstimatorSettings:
    estimators: tuple[str, ...]
    split: str
    per_class: int
    loader: Any  # [dataset_loader]
    seed: int


def estimator_names(names: tuple[str, ...]) -> tuple[str, ...]:
    """Registry names from a config list; wildcards ("*", "logme*") expand, unknown names fail here."""
    out: list[str] = []
    for name in names:
        found = ESTIMATOR_REGISTRY.list(name) if any(c in name for c in "*?[") else [ESTIMATOR_REGISTRY.canonical(name)]
        out += [n for n in found if n not in out]
    return tuple(out)


def source_probs(handle: ModelHandle, feats: np.ndarray) -> np.ndarray | None:
    """Softmax of the model's own classifier head on its head-input features; None without a head."""
    head = find_head(handle.model)
    if head is None or handle.extract_fn.__name__ not in ("auto", "head_input"):
        return None
    with torch.inference_mode():
        logits = head(torch.from_numpy(feats).to(handle.device)).float()
    return torch.softmax(logits, dim=-1).cpu().numpy().astype(np.float64)


def score_pair(handle: ModelHandle, ds: Ref, job: EstimatorSettings) -> dict[str, Any]:
    """Features of one model on one dataset, then every estimator, with what each step cost (on one thread, as
    every method is timed: with `workers` = 1 the pairs run in the main process, which may have more)."""
    with one_thread():
        return _score_pair(handle, ds, job)


def _score_pair(handle: ModelHandle, ds: Ref, job: EstimatorSettings) -> dict[str, Any]:
    split = load_split(ds.source, job.split, job.loader, job.per_class, job.seed)
    start = time.perf_counter()
    x = preprocess(handle.processor, split.images)
    prep = time.perf_counter() - start
    _ = handle.model  # loading the weights is paid once per model, not per dataset
    start = time.perf_counter()
    feats = handle.features(x)
    probs = source_probs(handle, feats)
    forward = time.perf_counter() - start
    scores: dict[str, float | None] = {}
    seconds: dict[str, float] = {}
    missing: dict[str, str] = {}
    for name in job.estimators:
        est = ESTIMATOR_REGISTRY.get(name)()
        start = time.perf_counter()
        try:
            scores[name] = est.score(split.labels, features=feats, source_probs=probs)
        except MissingInputError as err:
            scores[name], missing[name] = None, str(err)
        seconds[name] = time.perf_counter() - start
    return {"scores": scores, "seconds": seconds, "missing": missing, "preprocess_seconds": prep,
            "forward_seconds": forward, "processor": processor_key(handle.processor), "n_images": len(split),
            "feature_dim": int(feats.shape[1]), "has_head": probs is not None}


def run_estimators(models: list[Ref], datasets: list[Ref], cfg: Any, loader: Any, run: Any, cache_dir: Path,
                   split: str, per_class: int, sample_seed: int, workers: int = 1, progress: bool = True
                   ) -> dict[tuple[str, str], dict[str, Any]]:
    """{(model, dataset): record} for every pair; cached pairs are read back, the rest computed.

    Each dataset's images: `per_class` per class of its split `split` (0: all), drawn
    class-balanced with `sample_seed`, as the dataset tokens draw theirs."""
    names = estimator_names(cfg.estimators)
    digest = stable_hash({"estimators": names, "split": split, "per_class": per_class,
                          "features": cfg.features, "seed": sample_seed})
    pairs = [(m, d) for m in models for d in datasets]
    done, _ = run_pairs(pairs, score_pair, EstimatorSettings(names, split, per_class, loader, sample_seed), digest,
                        cache_dir, run, cfg.features, workers=workers, progress=progress, desc="estimators")
    return done
