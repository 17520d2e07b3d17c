"""`image_folder`: a plain ImageFolder tree (root/<class>/<image>), read with torchvision."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dataloader import DATASET_LOADER_REGISTRY
from dataloader.image_dataset import ImageClassificationDataset
from utils.errors import ZooRankError
from utils.images import Transform


def one_class_error(root: Path, name: str) -> ZooRankError:
    """What a one-class tree is told (check_classes says the same of a loaded dataset)."""
    return ZooRankError(f"image folder {root} has one class ('{name}'): a labelled dataset needs two or more class "
                        "folders (root/<class>/<image>); add them, or rank it unlabelled with --no-labels")


def class_folders(root: Path) -> list[str]:
    """The ImageFolder classes below `root`: the folders that hold its image files."""
    return sorted({p.parent.name for p in root.rglob("*") if p.is_file() and p.parent != root})


@DATASET_LOADER_REGISTRY.register(name="image_folder")
def load_image_folder(path: str, split: str = "", transform: Transform | None = None,
                      **_: Any) -> ImageClassificationDataset:
    """`path/<split>/<class>/*.png` when `path/<split>` exists, else `path/<class>/*.png`."""
    from torchvision.datasets import ImageFolder
    from torchvision.datasets.folder import pil_loader

    root = Path(path).expanduser()
    if root.is_file():
        raise ZooRankError(f"image folder {root} is a file, not a folder; pass the root of an ImageFolder tree")
    if not root.is_dir():
        raise ZooRankError(f"image folder {root} does not exist; check the path")
    if split and (root / split).is_dir():
        root = root / split
    try:
        tree = ImageFolder(str(root), loader=pil_loader)
    except (FileNotFoundError, RuntimeError) as err:
        raise ZooRankError(f"image folder {root}: {str(err).splitlines()[0]}; expected root/<class>/<image>") from None
    labels = np.asarray(tree.targets, dtype=np.int64)
    return ImageClassificationDataset(root.name, lambda i: tree.loader(tree.samples[i][0]), labels,
                                      list(tree.classes), transform)
