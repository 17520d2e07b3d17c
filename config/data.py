"""[dataset_loader]: where a dataset comes from and how its columns are read."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from config.parser import PathOrName, config_section


@config_section("dataset_loader")
class DatasetLoaderConfig:
    name: str = "hf"  # registered loader: hf (hub name, save_to_disk/parquet/imagefolder folder) | image_folder
    path: PathOrName = PathOrName("")  # hub name (e.g. uoft-cs/cifar10) or a local folder
    split: str = "train"
    image_column: str = "image"
    label_column: str = "label"  # empty: an unlabelled dataset
    revision: Optional[str] = None  # hub revision (branch, tag or commit)
    cache_dir: Optional[Path] = None  # Hugging Face datasets cache; default: HF_DATASETS_CACHE
