"""Datasets on disk: atomic `save_to_disk` with a spec-hash cache, `zoorank.json`, and `index.json`."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import datasets
from tqdm import tqdm

from dataloader.synthetic.build import generate, metadata
from dataloader.synthetic.spec import GENERATOR_VERSION, SPLITS, DatasetSpec
from utils import io
from utils.errors import ZooRankError
from utils.log import get_logger

logger = get_logger(__name__)

META_FILE = "zoorank.json"
INDEX_FILE = "index.json"


def read_metadata(path: str | os.PathLike) -> dict[str, Any] | None:
    """The `zoorank.json` of a saved dataset, or None when missing or unreadable."""
    try:
        return json.loads((Path(path) / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def is_complete(path: str | os.PathLike, spec_hash: str | None = None) -> bool:
    """True when `path` holds a fully written dataset (of `spec_hash`, when given)."""
    path = Path(path)
    meta = read_metadata(path)
    if meta is None or (spec_hash is not None and meta.get("spec_hash") != spec_hash):
        return False
    if not (path / "dataset_dict.json").is_file():
        return False
    for split in SPLITS:
        try:
            state = json.loads((path / split / "state.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        files = [f.get("filename") for f in state.get("_data_files", [])]
        if not files or not all((path / split / f).is_file() for f in files):
            return False
    return True


@contextlib.contextmanager
def _quiet_datasets() -> Iterator[None]:
    """Hide datasets' own per-save progress bars (ours is per dataset)."""
    was_enabled = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if was_enabled:
            datasets.enable_progress_bars()


def _ensure_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ZooRankError(f"cannot create output folder {path}: {err.strerror or err}") from err


def write_dataset(spec: DatasetSpec, root: str | os.PathLike, force: bool = False) -> Path:
    """Save `spec` to `root/<name>/` (atomically: temp folder, then rename); skip it when complete.

    A folder already holding this spec's hash and all files is reused; a half-written one or one
    of another spec is replaced. Returns the dataset folder.
    """
    root = Path(root)
    target = root / spec.name
    digest = spec.spec_hash()
    if not force and is_complete(target, digest):
        logger.debug("dataset %s is up to date (%s), skipping", spec.name, digest)
        return target
    if target.exists():
        logger.info("dataset %s on disk is incomplete or from another spec; rebuilding", spec.name)
    _ensure_dir(root)
    io.remove_stale_temps(root)
    tmp = io.temp_dir(target)
    try:
        dd = generate(spec)
        with _quiet_datasets():
            dd.save_to_disk(str(tmp / "data"))
        io.write_json(tmp / "data" / META_FILE, metadata(spec))  # written last: marks completeness
        if target.exists() or target.is_symlink():  # stale or broken: moved aside, deleted below
            os.replace(target, tmp / "old")
        try:
            os.rename(tmp / "data", target)
        except OSError as err:  # a concurrent writer got there first
            if not is_complete(target, digest):
                raise ZooRankError(f"could not move dataset '{spec.name}' into {target}: {err}") from err
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _kept_entries(out: Path, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Entries of an existing index for other datasets that are still complete on disk."""
    try:
        old = json.loads((out / INDEX_FILE).read_text(encoding="utf-8")).get("datasets", [])
    except (OSError, ValueError, AttributeError):
        return []
    new = {e["name"] for e in entries}
    return [e for e in old if isinstance(e, dict) and e.get("name") not in new
            and is_complete(out / str(e.get("path", e.get("name"))), e.get("spec_hash"))]


def write_preset(specs: Iterable[DatasetSpec], out: str | os.PathLike, force: bool = False,
                 progress: bool = True, preset: str | None = None, seed: int | None = None) -> dict[str, Any]:
    """Write every dataset of `specs` under `out` plus `out/index.json`; returns the index."""
    specs = list(specs)
    names = Counter(s.name for s in specs)
    dupes = sorted(n for n, c in names.items() if c > 1)
    if dupes:
        raise ZooRankError(f"duplicate dataset names: {', '.join(dupes)}")
    out = Path(out)
    _ensure_dir(out)
    start, cached, entries = time.perf_counter(), 0, []
    bar = tqdm(specs, desc="synthetic datasets", unit="ds", disable=not progress, dynamic_ncols=True)
    for spec in bar:
        bar.set_postfix_str(spec.name)
        cached += is_complete(out / spec.name, spec.spec_hash()) and not force
        path = write_dataset(spec, out, force=force)
        entries.append({
            "name": spec.name, "path": path.name, "family": spec.family, "variants": list(spec.variants),
            "role": spec.role, "num_classes": spec.num_classes, "class_names": list(spec.classes),
            "image_size": spec.image_size, "splits": spec.split_sizes(), "spec_hash": spec.spec_hash(),
        })
    index = {"format": "zoorank-synthetic-index", "generator_version": GENERATOR_VERSION,
             "preset": preset, "seed": seed, "datasets": entries + _kept_entries(out, entries)}
    io.write_json(out / INDEX_FILE, index)
    images = sum(sum(e["splits"].values()) for e in entries)
    roles = Counter(e["role"] for e in entries)
    logger.info(
        "wrote %d datasets (%d source, %d target, %d probe; %d families; %d images; %d cached) to %s in %.1f s",
        len(entries), roles["source"], roles["target"], roles["probe"], len({e["family"] for e in entries}), images,
        cached, out, time.perf_counter() - start,
    )
    return index
