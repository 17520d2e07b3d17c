"""One loop over (model, dataset) pairs: jobs, the per-pair cache files, fingerprints, workers, progress.

A caller gives a per-pair function `fn(handle, dataset, settings) -> record` (module level, so that
workers can unpickle it) and the loop does the rest: a pair whose cached record has the same settings
hash and the same model and dataset fingerprints is read back, the others are grouped by model (a
model is loaded once, lazily, for all its datasets) and run in this process or in worker processes
(CPU only). Every record is written to `<cache_dir>/<model>/<dataset>.json` as soon as it is known, so
an interrupted run resumes where it stopped.
"""
from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from features.handle import ModelHandle
from features.jobs import run_jobs
from features.refs import Ref
from utils import io
from utils.artifacts import read_json
from utils.device import pick_device
from utils.errors import ZooRankError
from utils.log import get_logger

logger = get_logger(__name__)
PairFn = Callable[[ModelHandle, Ref, Any], dict[str, Any]]


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+=-]", "__", name)


def pair_file(cache_dir: Path, model_id: str, dataset: str) -> Path:
    return Path(cache_dir) / _safe(model_id) / f"{_safe(dataset)}.json"


def cached_pair(path: Path, model: Ref, dataset: Ref, digest: str) -> dict[str, Any] | None:
    """The stored record of a pair when it is still valid (same model, dataset and settings)."""
    if not path.is_file():
        return None
    try:
        rec = read_json(path, what="cached pair record", rebuild="it is recomputed now")
    except ZooRankError as err:
        logger.warning("%s", err)
        return None
    same = (rec.get("settings_hash"), rec.get("model_fingerprint"), rec.get("dataset_fingerprint"))
    return rec if same == (digest, model.fingerprint, dataset.fingerprint) else None


@dataclass(frozen=True)
class PairJob:
    """One model and the datasets it still has to be run on."""

    model: Ref
    datasets: tuple[Ref, ...]
    fn: PairFn
    settings: Any  # whatever `fn` needs besides the pair (picklable)
    features: str
    batch_size: int
    cache_dir: str
    digest: str
    device: str


def run_pair_job(job: PairJob) -> list[dict[str, Any]]:
    """`fn` on each dataset of one model; each record gets the pair's names and fingerprints and is cached."""
    handle = ModelHandle(job.model, pick_device(job.device), job.features, job.batch_size)
    records = []
    for ds in job.datasets:
        rec = {"model": job.model.id, "dataset": ds.id, **job.fn(handle, ds, job.settings),
               "settings_hash": job.digest, "model_fingerprint": job.model.fingerprint,
               "dataset_fingerprint": ds.fingerprint}
        io.write_json(pair_file(Path(job.cache_dir), job.model.id, ds.id), rec)
        records.append(rec)
    return records


def run_pairs(pairs: Sequence[tuple[Ref, Ref]], fn: PairFn, settings: Any, digest: str, cache_dir: Path, run: Any,
              features: str = "auto", batch_size: int = 256, workers: int = 1, progress: bool = True,
              desc: str = "pairs", check_dataset: Callable[[Ref], Any] | None = None,
              valid: Callable[[dict[str, Any]], bool] | None = None,
              ) -> tuple[dict[tuple[str, str], dict[str, Any]], int]:
    """({(model id, dataset id): record} for every pair, how many were cached).

    `digest`: the hash of the settings that change a record; `run`: the [run] section (device,
    num_threads); `check_dataset` is called once on every dataset with a pair to compute, before any
    work (so that a bad dataset fails in seconds, not after hours); `valid(record)` False redoes a cached
    pair (e.g. one whose side product is gone)."""
    io.remove_stale_temps(cache_dir)  # of a killed earlier run
    done: dict[tuple[str, str], dict[str, Any]] = {}
    todo: dict[Ref, list[Ref]] = defaultdict(list)
    for m, d in pairs:
        rec = cached_pair(pair_file(cache_dir, m.id, d.id), m, d, digest)
        if rec is None or (valid is not None and not valid(rec)):
            todo[m].append(d)
        else:
            done[(m.id, d.id)] = rec
    if check_dataset is not None:
        for d in dict.fromkeys(d for ds in todo.values() for d in ds):
            check_dataset(d)
    jobs = [PairJob(m, tuple(ds), fn, settings, features, batch_size, str(cache_dir), digest, run.device)
            for m, ds in todo.items()]
    cached = len(done)
    workers = workers if pick_device(run.device).type == "cpu" else 1
    with tqdm(total=len(pairs), initial=cached, desc=desc, unit="pair", disable=not progress,
              dynamic_ncols=True) as bar:
        for _, records in run_jobs(run_pair_job, jobs, workers, run.num_threads):
            done.update({(r["model"], r["dataset"]): r for r in records})
            bar.update(len(records))
    return done, cached
