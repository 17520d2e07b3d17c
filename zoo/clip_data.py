"""(image, caption) pairs for the small CLIP: reading saved datasets, their identity, epoch plans.

A source dataset is a `datasets.save_to_disk` folder (as `dataloader.synthetic` writes) whose splits
have the columns image, label and caption. Only the `train` split is used for training; the
`validation` split of the same sources serves the zero-shot check. Target datasets are never read.
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import torch
from PIL import Image

from utils.errors import ZooRankError
from utils.hashing import text_hash

META_FILE = "zoorank.json"  # dataloader.synthetic's metadata (family, class names, spec hash)


def open_split(folder: str | os.PathLike, split: str, columns: Sequence[str] = ("image", "caption", "label")
               ) -> datasets.Dataset:
    """One split of a `save_to_disk` folder, checked to have `columns`; mistakes are ZooRankError."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ZooRankError(f"dataset folder {folder} does not exist; build the source datasets first "
                           "(python -m dataloader.synthetic --out DIR)")
    try:
        data = datasets.load_from_disk(str(folder))
    except (FileNotFoundError, ValueError, OSError) as err:
        raise ZooRankError(f"{folder} is not a readable save_to_disk dataset "
                           f"({str(err).splitlines()[0][:150]})") from None
    if isinstance(data, datasets.DatasetDict):
        if split not in data:
            raise ZooRankError(f"dataset {folder} has no split '{split}' (available: {', '.join(data)})")
        data = data[split]
    missing = [c for c in columns if c not in data.column_names]
    if missing:
        raise ZooRankError(f"dataset {folder} split '{split}' has no column(s) {', '.join(missing)} "
                           f"(columns: {', '.join(data.column_names)})")
    return data


def read_meta(folder: str | os.PathLike) -> dict[str, Any]:
    """The synthetic generator's zoorank.json of `folder`, or {} for another dataset."""
    try:
        meta = json.loads((Path(folder) / META_FILE).read_text(encoding="utf-8"))
        return meta if isinstance(meta, dict) else {}
    except (OSError, ValueError):
        return {}


def dataset_identity(folder: str | os.PathLike) -> dict[str, str]:
    """What identifies a dataset's content for the cache key: its name and the generator's spec hash,
    or else a digest of the split fingerprints and data file sizes that save_to_disk wrote."""
    folder = Path(folder)
    meta = read_meta(folder)
    if meta.get("spec_hash"):
        return {"name": folder.name, "spec_hash": str(meta["spec_hash"]),
                "generator_version": str(meta.get("generator_version"))}
    parts = []
    for state in sorted(folder.rglob("state.json")):
        parts.append(str(state.relative_to(folder)))
        try:
            info = json.loads(state.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            info = {}
        parts.append(str(info.get("_fingerprint")))
        for f in info.get("_data_files", []):
            path = state.parent / str(f.get("filename"))
            parts.append(f"{path.name}:{path.stat().st_size if path.is_file() else -1}")
    return {"name": folder.name, "content": text_hash("".join(parts))}


def class_names(data: datasets.Dataset, column: str = "label") -> list[str]:
    feature = data.features[column]
    if isinstance(feature, datasets.ClassLabel):
        return list(feature.names)
    labels = np.asarray(data[column])
    return [str(i) for i in range(int(labels.max()) + 1)]


@dataclass
class Source:
    """One source dataset's training split, kept compact: the undecoded rows stay on disk."""

    folder: Path
    train: datasets.Dataset
    labels: np.ndarray  # [N] int64 class index within this dataset
    class_names: list[str]


def open_sources(folders: Sequence[str | os.PathLike]) -> list[Source]:
    """The training splits of the source datasets, in the (sorted) order given."""
    out = []
    for folder in folders:
        train = open_split(folder, "train")
        labels = np.asarray(train.data.column("label").to_pylist(), dtype=np.int64)
        if len(train) == 0:
            raise ZooRankError(f"dataset {folder} has an empty train split")
        out.append(Source(Path(folder), train, labels, class_names(train)))
    return out


def pairs_per_epoch(sources: Sequence[Source], max_per_class: int) -> int:
    """How many pairs one epoch trains on: every pair, or at most `max_per_class` of each class."""
    counts = np.concatenate([np.bincount(s.labels) for s in sources])
    return int(np.minimum(counts, max_per_class).sum() if max_per_class else counts.sum())


def epoch_batches(sources: Sequence[Source], epochs: int, max_per_class: int, batch_size: int, seed: int,
                  per_dataset: bool = False) -> list[list[np.ndarray]]:
    """For each epoch, its batches: arrays of global pair indices (offset of the source + row).

    With `max_per_class` > 0 every class of every source contributes at most that many pairs per
    epoch, drawn anew each epoch; 0 uses every pair. `per_dataset`: every batch comes from a single
    source (harder negatives: the batch cannot be solved by telling the datasets apart), batches in
    random order; otherwise batches mix all sources. Batches of fewer than 2 pairs are dropped.
    """
    offsets = np.cumsum([0] + [len(s.labels) for s in sources])
    plans = []
    for epoch in range(epochs):
        rng = np.random.default_rng([seed, epoch, 0x5EED])
        chosen = []
        for src, off in zip(sources, offsets):
            rows = []
            for c in np.unique(src.labels):
                picked = np.flatnonzero(src.labels == c)
                rows.append(rng.permutation(picked)[:max_per_class] if max_per_class else picked)
            chosen.append(rng.permutation(np.concatenate(rows)) + off)
        pools = chosen if per_dataset else [rng.permutation(np.concatenate(chosen))]
        batches = [pool[i:i + batch_size] for pool in pools for i in range(0, len(pool), batch_size)]
        batches = [b for b in batches if len(b) >= 2]
        plans.append([batches[i] for i in rng.permutation(len(batches))] if per_dataset else batches)
    return plans


def load_pairs(sources: Sequence[Source], indices: np.ndarray, tokenizer: Callable[[list[str]], torch.Tensor]
               ) -> tuple[list[Image.Image], torch.Tensor]:
    """RGB images and caption tokens [M, L] of the sorted global `indices`, decoded and tokenized once
    (open_clip's tokenizer), whatever the number of epochs."""
    offsets = np.cumsum([0] + [len(s.labels) for s in sources])
    images, captions = [], []
    for k, src in enumerate(sources):
        rows = indices[(indices >= offsets[k]) & (indices < offsets[k + 1])] - offsets[k]
        if not len(rows):
            continue
        subset = src.train.select(rows.tolist()).select_columns(["image", "caption"])
        for batch in subset.iter(batch_size=1024):
            images.extend(_rgb(image, src.folder) for image in batch["image"])
            captions.extend(str(c) for c in batch["caption"])
    return images, tokenizer(captions)


def _rgb(image: Any, where: Path) -> Image.Image:
    if not isinstance(image, Image.Image):
        try:
            image = Image.fromarray(np.asarray(image))
        except (TypeError, ValueError) as err:
            raise ZooRankError(f"dataset {where}: an image cannot be decoded ({err})") from None
    return image.convert("RGB")
