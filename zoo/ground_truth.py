"""The ground-truth transfer matrix: a score for every (model, target dataset) pair.

Pairs are scored model by model (a model is loaded once for all its datasets; decoded and
preprocessed datasets are kept per process) by a `METHOD_REGISTRY` method. Every pair's result is
a small JSON file written as soon as it is known, so an interrupted run resumes where it stopped
and a `--shard i/n` run (a SLURM array task) does every n-th pair; `merge` joins the shard files.
A cached pair is reused while the model, the dataset and the scoring settings are unchanged.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from features.handle import FEATURE_REGISTRY, ModelHandle
from features.images import PreprocessCache, load_split, open_split
from features.pairs import run_pairs
from features.refs import Ref
from features.store import feature_file, save_features
from utils.hashing import stable_hash
from utils.log import get_logger
from zoo.methods import METHOD_REGISTRY

logger = get_logger(__name__)
_PREP: PreprocessCache | None = None  # per process: preprocessed target splits


def settings(cfg: Any, seed: int) -> dict[str, Any]:
    """The [ground_truth] values that change a score (not where files go, not cache sizes)."""
    skip = {"output", "cache_dir", "constants", "preprocess_cache_mb", "keep_features", "features_dir"}
    if cfg.method != "finetune":
        skip |= {"finetune_epochs", "finetune_lr", "batch_size"}
    return {k: v for k, v in asdict(cfg).items() if k not in skip} | {"seed": seed}


@dataclass(frozen=True)
class ScoreSettings:
    cfg: Any  # GroundTruthConfig
    loader: Any  # DatasetLoaderConfig
    seed: int
    features_dir: str | None = None  # keep each pair's frozen features here (features/store.py)


def score_pair(handle: ModelHandle, ds: Ref, job: ScoreSettings) -> dict[str, Any]:
    """Score one model on one dataset with the [ground_truth] method."""
    global _PREP
    cfg = job.cfg
    if _PREP is None:
        _PREP = PreprocessCache(cfg.preprocess_cache_mb << 20)
    method = METHOD_REGISTRY.get(cfg.method)
    start = time.perf_counter()
    train = load_split(ds.source, cfg.train_split, job.loader, cfg.train_per_class, job.seed)
    test = load_split(ds.source, cfg.test_split, job.loader, cfg.test_per_class, job.seed)
    out = method(handle, _PREP.get(train, handle.processor), train.labels, _PREP.get(test, handle.processor),
                 test.labels, train.class_names, cfg, job.seed)
    feats = out.pop("_features", None)
    if job.features_dir is not None and feats is not None:
        out["features_bytes"] = save_features(feature_file(job.features_dir, handle.ref.id, ds.id), feats[0],
                                              train.labels, feats[1], test.labels)
    return {**out, "metric": "accuracy", "method": cfg.method, "split": cfg.test_split,
            "num_classes": len(train.class_names), "n_train": len(train), "n_test": len(test),
            "chance": float(np.bincount(test.labels).max() / len(test)),
            "seconds": round(time.perf_counter() - start, 3)}


def check_names(cfg: Any) -> None:
    """Unknown method or feature names fail before any work (RegistryError, with the close match)."""
    METHOD_REGISTRY.get(cfg.method)
    FEATURE_REGISTRY.get(cfg.features)


def run_ground_truth(models: list[Ref], datasets: list[Ref], cfg: Any, loader: Any, run: Any, cache_dir: Path,
                     shard: tuple[int, int] = (0, 1), workers: int = 1, progress: bool = True,
                     features_dir: Path | None = None) -> tuple[dict[str, dict[str, float]], dict[str, Any]]:
    """Score this shard's pairs (cached ones are read back); returns (performance, metadata).

    `features_dir`: keep every pair's frozen features there; a cached pair whose features file is gone
    is scored again."""
    check_names(cfg)
    values = settings(cfg, run.seed)
    digest = stable_hash(values)
    index, count = shard
    pairs = [(m, d) for m in models for d in datasets][index::count]
    start = time.perf_counter()

    def check(d: Ref) -> None:
        open_split(d.source, cfg.train_split, loader), open_split(d.source, cfg.test_split, loader)

    keep = str(features_dir) if features_dir is not None and cfg.method == "linear_probe" else None

    def has_features(rec: dict[str, Any]) -> bool:
        return keep is None or feature_file(keep, rec["model"], rec["dataset"]).is_file()

    done, cached = run_pairs(pairs, score_pair, ScoreSettings(cfg, loader, run.seed, keep), digest, cache_dir, run,
                             cfg.features, cfg.batch_size, workers, progress, "ground truth", check, has_features)
    performance = {d.id: {m.id: done[(m.id, d.id)]["score"] for m in models if (m.id, d.id) in done}
                   for d in datasets}
    metadata = {"metric": "accuracy", "split": cfg.test_split, "train_split": cfg.train_split, "method": cfg.method,
                "seed": run.seed, "settings": values, "settings_hash": digest, "models": [m.id for m in models],
                "datasets": [d.id for d in datasets], "num_pairs": len(done)}
    if count > 1:
        metadata["shard"] = f"{index}/{count}"
    scores = [r["score"] for r in done.values()]
    if keep is not None:  # not in the matrix's metadata: the committed constants copy must not name a local folder
        logger.info("ground truth: frozen features kept in %s (%.1f MB)", keep,
                    sum(r.get("features_bytes", 0) for r in done.values()) / 2**20)
    logger.info("ground truth: %d pairs (%d computed, %d cached) of %d models x %d datasets%s in %.1f s; "
                "accuracy %.3f-%.3f", len(pairs), len(pairs) - cached, cached, len(models), len(datasets),
                f" (shard {index}/{count})" if count > 1 else "", time.perf_counter() - start,
                min(scores, default=float("nan")), max(scores, default=float("nan")))
    return performance, metadata

