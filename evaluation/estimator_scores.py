"""Every transferability estimator on every (model, target dataset) pair, with what each pair cost.

A model is loaded once for all its datasets; on each dataset's train split it gives features [N, D]
and, when it has a source classifier head, source-class probabilities [N, C_s] (softmax of that head
on the same features). Every estimator scores the pair from those arrays. A pair's record (scores,
reasons for "n/a", seconds for preprocessing, the forward pass and each estimator) is a small JSON
file written as soon as it is known, so an interrupted benchmark resumes where it stopped.
"""
from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from estimators import ESTIMATOR_REGISTRY, MissingInputError
from utils.io import write_json
from zoo.features import ModelHandle, find_head
from zoo.ground_truth import cached_pair, pair_file, settings_hash
from zoo.images import load_split, preprocess, processor_key
from zoo.parallel import run_jobs
from zoo.refs import Ref
from zoo.training import pick_device


@dataclass(frozen=True)
class PairJob:
    model: Ref
    datasets: tuple[Ref, ...]
    estimators: tuple[str, ...]
    split: str
    per_class: int
    features: str
    loader: Any  # [dataset_loader]
    cache_dir: str
    digest: str
    seed: int
    device: str


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


def score_pairs(job: PairJob) -> list[dict[str, Any]]:
    """Features of one model on each of its datasets, then every estimator; one cached record per pair."""
    handle = ModelHandle(job.model, pick_device(job.device), job.features)
    estimators = {name: ESTIMATOR_REGISTRY.get(name)() for name in job.estimators}
    records = []
    for ds in job.datasets:
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
        for name, est in estimators.items():
            start = time.perf_counter()
            try:
                scores[name] = est.score(split.labels, features=feats, source_probs=probs)
            except MissingInputError as err:
                scores[name], missing[name] = None, str(err)
            seconds[name] = time.perf_counter() - start
        rec = {"model": job.model.id, "dataset": ds.id, "scores": scores, "seconds": seconds, "missing": missing,
               "preprocess_seconds": prep, "forward_seconds": forward, "processor": processor_key(handle.processor),
               "n_images": len(split), "feature_dim": int(feats.shape[1]), "has_head": probs is not None,
               "settings_hash": job.digest, "model_fingerprint": job.model.fingerprint,
               "dataset_fingerprint": ds.fingerprint}
        write_json(pair_file(Path(job.cache_dir), job.model.id, ds.id), rec)
        records.append(rec)
    return records


def run_estimators(models: list[Ref], datasets: list[Ref], cfg: Any, loader: Any, run: Any, cache_dir: Path,
                   split: str, per_class: int, sample_seed: int, workers: int = 1, progress: bool = True
                   ) -> dict[tuple[str, str], dict[str, Any]]:
    """{(model, dataset): record} for every pair; cached pairs are read back, the rest computed.

    Each dataset's images: `per_class` per class of its split `split` (0: all), drawn
    class-balanced with `sample_seed`, as the dataset tokens draw theirs."""
    names = estimator_names(cfg.estimators)
    digest = settings_hash({"estimators": names, "split": split, "per_class": per_class,
                            "features": cfg.features, "seed": sample_seed})
    done: dict[tuple[str, str], dict[str, Any]] = {}
    todo: dict[Ref, list[Ref]] = defaultdict(list)
    for m in models:
        for d in datasets:
            rec = cached_pair(pair_file(cache_dir, m.id, d.id), m, d, digest)
            if rec is None:
                todo[m].append(d)
            else:
                done[(m.id, d.id)] = rec
    jobs = [PairJob(m, tuple(ds), names, split, per_class, cfg.features, loader,
                    str(cache_dir), digest, sample_seed, run.device) for m, ds in todo.items()]
    total = len(models) * len(datasets)
    with tqdm(total=total, initial=len(done), desc="estimators", unit="pair", disable=not progress,
              dynamic_ncols=True) as bar:
        for _, records in run_jobs(score_pairs, jobs, workers if pick_device(run.device).type == "cpu" else 1,
                                   run.num_threads):
            done.update({(r["model"], r["dataset"]): r for r in records})
            bar.update(len(records))
    return done
