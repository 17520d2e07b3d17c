"""`hf`: a Hugging Face dataset by hub name, or a local folder (save_to_disk, parquet files, imagefolder)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dataloader import DATASET_LOADER_REGISTRY
from dataloader.image_dataset import ImageClassificationDataset
from dataloader.image_folder_loader import class_folders, one_class_error
from utils.errors import ZooRankError
from utils.images import Transform

if TYPE_CHECKING:
    import datasets


def _open_local(folder: Path, cache_dir: Path | None) -> Any:
    import datasets  # pandas, pyarrow and the hub client: seconds, so only when a dataset is read

    if not folder.is_dir():
        raise ZooRankError(f"dataset {folder} is a file, not a folder; pass a dataset folder (save_to_disk, parquet "
                           "files or an ImageFolder tree) or a hub name")
    if not any(p.is_file() for p in folder.rglob("*")):
        raise ZooRankError(f"dataset folder {folder} is empty; pass a dataset folder (save_to_disk, parquet files or "
                           "an ImageFolder tree) or a hub name")
    if (folder / "dataset_dict.json").exists() or (folder / "state.json").exists():
        try:
            return datasets.load_from_disk(str(folder))
        except (FileNotFoundError, ValueError, OSError) as err:
            raise ZooRankError(f"dataset folder {folder} is corrupt ({str(err).splitlines()[0][:150]}); "
                               "rebuild or re-download it") from None
    if any(folder.rglob("*.parquet")):
        files = {p.stem.split("-")[0]: str(p) for p in sorted(folder.rglob("*.parquet"))}
        return datasets.load_dataset("parquet", data_files=files, cache_dir=_s(cache_dir))
    return datasets.load_dataset("imagefolder", data_dir=str(folder), cache_dir=_s(cache_dir))


def _is_image_folder(folder: Path) -> bool:
    return not ((folder / "dataset_dict.json").exists() or (folder / "state.json").exists()
                or any(folder.rglob("*.parquet")))


def _s(path: Path | None) -> str | None:
    return str(path) if path else None


def _pick_split(data: Any, split: str, where: str) -> datasets.Dataset:
    import datasets

    if isinstance(data, datasets.Dataset):
        return data
    if split not in data:
        raise ZooRankError(f"dataset {where} has no split '{split}' (available: {', '.join(data)}); "
                           "pass --split / [dataset_loader] split")
    return data[split]


def _labels(ds: datasets.Dataset, column: str, where: str) -> tuple[np.ndarray, list[str]]:
    import datasets

    if not column:
        return np.full(len(ds), -1, dtype=np.int64), []
    feature = ds.features[column]
    values = ds.data.column(column).to_pylist()
    if isinstance(feature, datasets.ClassLabel):
        return np.asarray(values, dtype=np.int64), list(feature.names)
    if all(isinstance(v, (int, np.integer)) for v in values):
        arr = np.asarray(values, dtype=np.int64)
        return arr, [str(i) for i in range(int(arr.max()) + 1)]
    names = sorted({str(v) for v in values})
    lookup = {n: i for i, n in enumerate(names)}
    return np.asarray([lookup[str(v)] for v in values], dtype=np.int64), names


@DATASET_LOADER_REGISTRY.register(name="hf")
def load_hf(path: str, split: str = "train", image_column: str = "image", label_column: str = "label",
            revision: str | None = None, cache_dir: Path | None = None,
            transform: Transform | None = None) -> ImageClassificationDataset:
    """One split of a hub dataset (`path` = hub name) or of a local folder (`path` = folder)."""
    import datasets

    if not path:
        raise ZooRankError("no dataset given: set [dataset_loader] path or pass --dataset")
    folder = Path(path).expanduser()
    if folder.exists():
        data = _open_local(folder, cache_dir)
    elif path.startswith((".", "/", "~")) or path.count("/") > 1:
        raise ZooRankError(f"dataset folder {path} does not exist; check the path")
    else:
        try:
            data = datasets.load_dataset(path, revision=revision, cache_dir=_s(cache_dir))
        except (FileNotFoundError, ConnectionError, ValueError) as err:
            raise ZooRankError(f"dataset '{path}' cannot be loaded from the hub or cache "
                               f"({str(err).splitlines()[0][:150]}); check the name or HF_DATASETS_OFFLINE") from None
    ds = _pick_split(data, split, path)
    if folder.exists() and label_column and label_column not in ds.column_names and _is_image_folder(folder):
        root = folder / split if split and (folder / split).is_dir() else folder
        classes = class_folders(root)
        if len(classes) == 1:  # the imagefolder builder drops the label column of a one-class tree
            raise one_class_error(root, classes[0])
    for col in filter(None, (image_column, label_column)):
        if col not in ds.column_names:
            unlabelled = " (an empty label column: an unlabelled dataset)" if col == label_column else ""
            raise ZooRankError(f"dataset {path} split '{split}' has no column '{col}' "
                               f"(columns: {', '.join(ds.column_names)}); set the column name{unlabelled}")
    labels, names = _labels(ds, label_column, path)
    name = folder.name if folder.exists() else path
    return ImageClassificationDataset(f"{name}[{split}]", lambda i: ds[i][image_column], labels, names, transform)
