"""Run the probe profiles over (model, probe dataset) pairs and publish them as one NPZ.

    <out>/pairs/<model>/<probe>.json   one record per pair (features/pairs.py: cached, resumable, sharded)
    <out>/profiles.npz                 the format of dataloader/probe_profiles.py

`--shard i/n` (a SLURM array task) runs every n-th pair; `merge` (or an unsharded run) writes the NPZ
from the records of every pair.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from dataloader.probe_profiles import PROFILES
from features.pairs import run_pairs
from features.profiles import STATS, ProfileSettings, profile_pair
from features.refs import Ref
from utils.errors import ZooRankError
from utils.hashing import stable_hash
from utils.io import save_npz
from utils.log import get_logger

logger = get_logger(__name__)


def probe_items(cfg: Any, layout: Any) -> tuple[list[str], tuple[str, ...]]:
    """(items, roles) of the probe collection ([probes] cfg): its datasets, else the world's (`layout`) source and
    probe datasets."""
    if cfg.datasets:
        return list(cfg.datasets), ("target", "source", "probe")
    index = layout.world.datasets_index
    if not index.is_file():
        raise ZooRankError(f"[probes] datasets is empty and the world's {index} does not exist; set [probes] "
                           "datasets or build the world first (python -m zoo build)")
    return [str(index)], ("source", "probe")


def settings_digest(cfg: Any) -> str:
    """What changes a profile: the sample, the probe's settings and the features (not where files go)."""
    keep = ("train_split", "test_split", "train_per_class", "test_per_class", "features", "probe_c",
            "probe_max_iter", "seed")
    return stable_hash({k: getattr(cfg, k) for k in keep} | {"stats": STATS})


def run_profiles(models: list[Ref], probes: list[Ref], cfg: Any, loader: Any, run: Any, out: Path,
                 shard: tuple[int, int] = (0, 1)) -> dict[tuple[str, str], dict[str, Any]]:
    """This shard's (model, probe) records, cached ones read back."""
    if not models or not probes:
        raise ZooRankError(f"probe profiles need models and probe datasets, got {len(models)} and {len(probes)}")
    index, count = shard
    pairs = [(m, d) for m in models for d in probes][index::count]
    start = time.perf_counter()
    done, cached = run_pairs(pairs, profile_pair, ProfileSettings(cfg, loader), settings_digest(cfg), out / "pairs",
                             run, cfg.features, cfg.batch_size, cfg.workers, cfg.progress, "probe profiles")
    logger.info("probe profiles: %d pairs (%d computed, %d cached) of %d models x %d probes%s in %.1f s",
                len(pairs), len(pairs) - cached, cached, len(models), len(probes),
                f" (shard {index}/{count})" if count > 1 else "", time.perf_counter() - start)
    return done


def merge_profiles(models: list[Ref], probes: list[Ref], cfg: Any, out: Path) -> Path:
    """profiles.npz from every pair's record (all must exist with the current settings)."""
    from features.pairs import cached_pair, pair_file

    digest = settings_digest(cfg)
    table = np.zeros((len(models), len(probes), len(STATS)), np.float32)
    for i, m in enumerate(models):
        for j, d in enumerate(probes):
            rec = cached_pair(pair_file(out / "pairs", m.id, d.id), m, d, digest)
            if rec is None:
                raise ZooRankError(f"probe profile of model '{m.id}' on '{d.id}' is missing; run "
                                   "extract_probe_profiles.py (all shards) before merging")
            table[i, j] = [rec["stats"][s] for s in STATS]
    meta = {"settings_hash": digest, "probe_sources": [d.source for d in probes]}
    path = out / PROFILES
    save_npz(path, ids=np.array([m.id for m in models]), profiles=table, probes=np.array([d.id for d in probes]),
             stats=np.array(STATS), metadata=np.array(json.dumps(meta)))
    logger.info("probe profiles: %d models x %d probes x %d statistics -> %s", *table.shape, path)
    return path
