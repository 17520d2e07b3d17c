"""`ImageClassificationDataset`: one split of an image dataset as (image tensor, int label) pairs."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from utils.errors import ZooRankError
from utils.images import Transform, to_tensor


class ImageClassificationDataset(Dataset):
    """Images decoded lazily from a backing store; labels and class names kept in memory.

    `labels`: [N] int64 (-1 for an unlabelled dataset); `class_names`: K names.
    `get_image(i)` is the raw PIL image; `__getitem__(i)` is `(transform(image), label)`.
    """

    def __init__(self, name: str, get_image: Callable[[int], Any], labels: np.ndarray, class_names: list[str],
                 transform: Transform | None = None) -> None:
        self.name, self._get_image = name, get_image
        self.labels = np.asarray(labels, dtype=np.int64)
        self.class_names = list(class_names)
        self.transform = transform or to_tensor

    @property
    def has_labels(self) -> bool:
        return bool(len(self.labels)) and bool((self.labels >= 0).all())

    def __len__(self) -> int:
        return len(self.labels)

    def get_image(self, index: int) -> Image.Image:
        try:
            image = self._get_image(int(index))
            return image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image))
        except (UnidentifiedImageError, OSError, ValueError) as err:
            raise ZooRankError(f"dataset {self.name}: image {index} cannot be decoded ({err}); "
                               "remove or fix it") from None

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.transform(self.get_image(index).convert("RGB")), int(self.labels[index])

    def subset(self, indices: np.ndarray) -> ImageClassificationDataset:
        idx = np.asarray(indices, dtype=np.int64)
        return ImageClassificationDataset(self.name, lambda i: self._get_image(int(idx[i])), self.labels[idx],
                                          self.class_names, self.transform)

    def check_classes(self) -> None:
        """Ranking needs a classification problem: at least two classes present."""
        if len(self) == 0:
            raise ZooRankError(f"dataset {self.name} is empty; check the split and the path")
        if self.has_labels and len(np.unique(self.labels)) < 2:
            raise ZooRankError(f"dataset {self.name} has a single class; it needs at least two")


def load_dataset_from_config(cfg: Any, transform: Transform | None = None, source: str | None = None,
                             split: str | None = None) -> ImageClassificationDataset:
    """The dataset a `[dataset_loader]` section describes, through the loader registry, every field of the
    section passed on. `source` and `split` replace the section's path and split (one section, many datasets)."""
    from dataloader import DATASET_LOADER_REGISTRY

    loader = DATASET_LOADER_REGISTRY.get(cfg.name)
    return loader(path=str(cfg.path if source is None else source), split=cfg.split if split is None else split,
                  image_column=cfg.image_column, label_column=cfg.label_column, revision=cfg.revision,
                  cache_dir=cfg.cache_dir, transform=transform)
