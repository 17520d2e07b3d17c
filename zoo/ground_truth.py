"""The ground-truth transfer matrix: a score for every (model, target dataset) pair.

Pairs are scored model by model (a model is loaded once for all its datasets; decoded and
preprocessed datasets are kept per process) by a `METHOD_REGISTRY` method. Every pair's result is
a small JSON file written as soon as it is known, so an interrupted run resumes where it stopped
and a `--shard i/n` run (a SLURM array task) does every n-th pair; `merge` joins the shard files.
A cached pair is reused while the model, the dataset and the scoring settings are unchanged.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from utils.errors import ZooRankError
from utils.io import write_json
from utils.log import get_logger
from zoo.features import FEATURE_REGISTRY, ModelHandle
from zoo.images import PreprocessCache, load_split, open_split
from zoo.methods import METHOD_REGISTRY
from zoo.parallel import run_jobs
from zoo.refs import Ref
from zoo.training import pick_device

logger = get_logger(__name__)
_PREP: PreprocessCache | None = None  # per process: preprocessed target splits


def settings(cfg: Any, seed: int) -> dict[str, Any]:
    """The [ground_truth] values that change a score (not where files go, not cache sizes)."""
    skip = {"output", "cache_dir", "constants", "preprocess_cache_mb"}
    if cfg.method != "finetune":
        skip |= {"finetune_epochs", "finetune_lr", "batch_size"}
    return {k: v for k, v in asdict(cfg).items() if k not in skip} | {"seed": seed}


def settings_hash(values: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+=-]", "__", name)


def pair_file(cache_dir: Path, model_id: str, dataset: str) -> Path:
    return Path(cache_dir) / _safe(model_id) / f"{_safe(dataset)}.json"


def cached_pair(path: Path, model: Ref, dataset: Ref, digest: str) -> dict[str, Any] | None:
    """The stored result of a pair when it is still valid (same model, dataset and settings)."""
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    same = (rec.get("settings_hash"), rec.get("model_fingerprint"), rec.get("dataset_fingerprint"))
    return rec if same == (digest, model.fingerprint, dataset.fingerprint) else None


@dataclass(frozen=True)
class ScoreJob:
    model: Ref
    datasets: tuple[Ref, ...]
    cfg: Any  # GroundTruthConfig
    loader: Any  # DatasetLoaderConfig
    cache_dir: str
    digest: str
    seed: int
    device: str


def score_model(job: ScoreJob) -> list[dict[str, Any]]:
    """Score one model on its datasets; each pair's record is written to the cache as it is done."""
    global _PREP
    cfg = job.cfg
    if _PREP is None:
        _PREP = PreprocessCache(cfg.preprocess_cache_mb << 20)
    method = METHOD_REGISTRY.get(cfg.method)
    handle = ModelHandle(job.model, pick_device(job.device), cfg.features, cfg.batch_size)
    records = []
    for ds in job.datasets:
        start = time.perf_counter()
        train = load_split(ds.source, cfg.train_split, job.loader, cfg.train_per_class, job.seed)
        test = load_split(ds.source, cfg.test_split, job.loader, cfg.test_per_class, job.seed)
        out = method(handle, _PREP.get(train, handle.processor), train.labels, _PREP.get(test, handle.processor),
                     test.labels, train.class_names, cfg, job.seed)
        rec = {"model": job.model.id, "dataset": ds.id, **out, "metric": "accuracy", "method": cfg.method,
               "split": cfg.test_split, "num_classes": len(train.class_names), "n_train": len(train),
               "n_test": len(test), "chance": float(np.bincount(test.labels).max() / len(test)), "seconds": round(time.perf_counter() - start, 3),
               "settings_hash": job.digest, "model_fingerprint": job.model.fingerprint,
               "dataset_fingerprint": ds.fingerprint}
        write_json(pair_file(Path(job.cache_dir), job.model.id, ds.id), rec)
        records.append(rec)
    return records


def check_names(cfg: Any) -> None:
    """Unknown method or feature names fail before any work (RegistryError, with the close match)."""
    METHOD_REGISTRY.get(cfg.method)
    FEATURE_REGISTRY.get(cfg.features)


def run_ground_truth(models: list[Ref], datasets: list[Ref], cfg: Any, loader: Any, run: Any, cache_dir: Path,
                     shard: tuple[int, int] = (0, 1), workers: int = 1, progress: bool = True
                     ) -> tuple[dict[str, dict[str, float]], dict[str, Any]]:
    """Score this shard's pairs (cached ones are read back); returns (performance, metadata)."""
    check_names(cfg)
    values = settings(cfg, run.seed)
    digest = settings_hash(values)
    index, count = shard
    pairs = [(m, d) for m in models for d in datasets][index::count]
    done: dict[tuple[str, str], dict[str, Any]] = {}
    todo: dict[Ref, list[Ref]] = defaultdict(list)
    for m, d in pairs:
        rec = cached_pair(pair_file(cache_dir, m.id, d.id), m, d, digest)
        if rec is not None:
            done[(m.id, d.id)] = rec
        else:
            todo[m].append(d)
    for d in dict.fromkeys(d for ds in todo.values() for d in ds):  # bad datasets fail here, before hours of work
        open_split(d.source, cfg.train_split, loader), open_split(d.source, cfg.test_split, loader)
    device = pick_device(run.device)
    jobs = [ScoreJob(m, tuple(ds), cfg, loader, str(cache_dir), digest, run.seed, run.device) for m, ds in todo.items()]
    start, cached = time.perf_counter(), len(done)
    with tqdm(total=len(pairs), initial=cached, desc="ground truth", unit="pair", disable=not progress,
              dynamic_ncols=True) as bar:
        for _, records in run_jobs(score_model, jobs, workers if device.type == "cpu" else 1, run.num_threads):
            done.update({(r["model"], r["dataset"]): r for r in records})
            bar.update(len(records))
    performance = {d.id: {m.id: done[(m.id, d.id)]["score"] for m in models if (m.id, d.id) in done}
                   for d in datasets}
    metadata = {"metric": "accuracy", "split": cfg.test_split, "train_split": cfg.train_split, "method": cfg.method,
                "seed": run.seed, "settings": values, "settings_hash": digest, "models": [m.id for m in models],
                "datasets": [d.id for d in datasets], "num_pairs": len(done)}
    if count > 1:
        metadata["shard"] = f"{index}/{count}"
    scores = [r["score"] for r in done.values()]
    logger.info("ground truth: %d pairs (%d computed, %d cached) of %d models x %d datasets%s in %.1f s; "
                "accuracy %.3f-%.3f", len(pairs), len(pairs) - cached, cached, len(models), len(datasets),
                f" (shard {index}/{count})" if count > 1 else "", time.perf_counter() - start,
                min(scores, default=float("nan")), max(scores, default=float("nan")))
    return performance, metadata


def parse_shard(text: str | None, env: dict[str, str] | None = None) -> tuple[int, int]:
    """(index, count) from "i/n", else from a SLURM array (SLURM_ARRAY_TASK_ID / _COUNT), else (0, 1)."""
    env = os.environ if env is None else env
    try:
        if text is not None:
            head, _, tail = text.partition("/")
            index, count = int(head), int(tail)
        elif "SLURM_ARRAY_TASK_ID" in env and "SLURM_ARRAY_TASK_COUNT" in env:
            text = "SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT"
            index = int(env["SLURM_ARRAY_TASK_ID"]) - int(env.get("SLURM_ARRAY_TASK_MIN", "0"))
            count = int(env["SLURM_ARRAY_TASK_COUNT"])
        else:
            return 0, 1
    except ValueError:
        raise ZooRankError(f"shard {text!r}: expected INDEX/COUNT integers, e.g. --shard 0/4") from None
    if not 0 <= index < count:
        raise ZooRankError(f"shard {text}: need 0 <= index < count, got {index}/{count}")
    return index, count
