"""Dataset splits as decoded images in memory, and batched preprocessing by a model's image processor.

Splits come through `DATASET_LOADER_REGISTRY` (the `hf` loader by default), so hub names, local
`save_to_disk`, parquet and imagefolder datasets all work. Images of one size are stacked into a
uint8 tensor [N, 3, H, W]; mixed sizes stay a list of PIL images. Both are decoded once per process
and kept: every model of the zoo reads the same target datasets.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from config.data import DatasetLoaderConfig
from dataloader import load_dataset_from_config
from utils.errors import ZooRankError
from utils.hashing import text_hash
from utils.sampling import class_balanced_indices


@dataclass
class Split:
    """One decoded split. images: uint8 [N, 3, H, W] or a list of N PIL images; labels: [N] int64."""

    name: str
    images: torch.Tensor | list
    labels: np.ndarray
    class_names: list[str]

    def __len__(self) -> int:
        return len(self.labels)


_SPLITS: dict[tuple, Split] = {}


def _unreadable(path: str, split: str, err: Exception) -> ZooRankError:
    first = (str(err).splitlines() or [type(err).__name__])[0][:150]
    return ZooRankError(f"dataset {path} split '{split}' cannot be read ({first}); rebuild or re-download it")


def open_split(path: str, split: str, loader: Any = None) -> Any:
    """Split `split` of dataset `path` as an ImageClassificationDataset, checked but not decoded.

    `loader` is a [dataset_loader] section (loader name, columns, revision, cache); None = defaults.
    Raises ZooRankError naming the dataset when it is missing, unreadable, unlabelled or has one class.
    """
    try:
        ds = load_dataset_from_config(DatasetLoaderConfig() if loader is None else loader, source=str(path), split=split)
    except (OSError, ValueError) as err:  # a truncated arrow file, a broken parquet, ...
        raise _unreadable(path, split, err) from None
    if not ds.has_labels:
        raise ZooRankError(f"dataset {path} split '{split}' has no labels; ground truth needs a labelled split")
    ds.check_classes()
    return ds


def load_split(path: str, split: str, loader: Any = None, per_class: int = 0, seed: int = 0) -> Split:
    """Decode split `split` of dataset `path` (at most `per_class` images per class when > 0), cached."""
    key = (str(path), split, per_class, seed, repr(loader))
    if key in _SPLITS:
        return _SPLITS[key]
    ds = open_split(path, split, loader)
    index = class_balanced_indices(ds.labels, per_class, seed) if per_class > 0 else np.arange(len(ds))
    try:
        pil = [ds.get_image(int(i)).convert("RGB") for i in index]
    except (OSError, ValueError) as err:
        raise _unreadable(path, split, err) from None
    sizes = {im.size for im in pil}
    images: torch.Tensor | list = pil
    if len(sizes) == 1:
        images = torch.from_numpy(np.stack([np.asarray(im) for im in pil])).permute(0, 3, 1, 2).contiguous()
    out = Split(ds.name, images, ds.labels[index], ds.class_names)
    _SPLITS[key] = out
    return out


def processor_key(processor: Any) -> str:
    """Identifies what a processor does (its settings), so equal processors share preprocessed data."""
    if processor is None:
        return "none"
    settings = json.dumps(processor.to_dict(), sort_keys=True, default=str)
    return text_hash(f"{type(processor).__name__}{settings}")


def preprocess(processor: Any, images: torch.Tensor | list, batch_size: int = 512) -> torch.Tensor:
    """float32 pixel values [N, 3, H', W'] from the processor (None: uint8 / 255)."""
    if processor is None:
        if not isinstance(images, torch.Tensor):
            raise ZooRankError("images of different sizes need an image processor to become one batch")
        return images.float() / 255.0
    out = [processor(images=images[i:i + batch_size], return_tensors="pt")["pixel_values"]
           for i in range(0, len(images), batch_size)]
    return torch.cat(out).float()


class PreprocessCache:
    """Preprocessed splits per (split, processor settings), kept while under `max_bytes`.

    Zoo models share one processor, so each target split is preprocessed once per process.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes, self.used = max_bytes, 0
        # the split is kept in the value so that its id() is never reused by another object
        self._store: dict[tuple[int, str], tuple[Split, torch.Tensor]] = {}

    def get(self, split: Split, processor: Any) -> torch.Tensor:
        key = (id(split), processor_key(processor))
        if key in self._store:
            return self._store[key][1]
        x = preprocess(processor, split.images)
        size = x.element_size() * x.nelement()
        if self.used + size <= self.max_bytes:
            self._store[key] = (split, x)
            self.used += size
        return x
