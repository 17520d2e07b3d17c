"""Dataset loaders on real `datasets` folders and image trees written in tmp; samplers."""
import json
from collections import Counter

import datasets
import numpy as np
import pytest
import torch
from PIL import Image

from config import ConfigParser, DatasetLoaderConfig
from dataloader import (
    DATASET_LOADER_REGISTRY,
    ClassBalancedBatchSampler,
    class_balanced_indices,
    load_dataset_from_config,
)
from utils.errors import ZooRankError
from utils.images import image_processor_transform

NAMES = ["circle", "square", "star"]


def images(n, seed=0):
    rng = np.random.default_rng(seed)
    return [Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)) for _ in range(n)]


def dataset_dict(n=12):
    feats = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=NAMES)})
    split = lambda s: datasets.Dataset.from_dict(  # noqa: E731
        {"image": images(n, s), "label": [i % 3 for i in range(n)]}, features=feats)
    return datasets.DatasetDict({"train": split(0), "test": split(1)})


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "shapes"
    dataset_dict().save_to_disk(str(path))
    return path


def test_hf_loader_reads_save_to_disk_folder(saved):
    ds = DATASET_LOADER_REGISTRY.get("hf")(str(saved), split="test")
    assert len(ds) == 12 and ds.class_names == NAMES and list(ds.labels[:4]) == [0, 1, 2, 0]
    x, y = ds[4]
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1 and y == 1
    ref = np.asarray(datasets.load_from_disk(str(saved))["test"][4]["image"], dtype=np.float32) / 255
    assert np.allclose(x.permute(1, 2, 0).numpy(), ref)


def test_hf_loader_parquet_and_imagefolder(tmp_path):
    dd = dataset_dict()
    (tmp_path / "pq").mkdir()
    for split, d in dd.items():
        d.to_parquet(str(tmp_path / "pq" / f"{split}-00000.parquet"))
    pq = DATASET_LOADER_REGISTRY.get("hf")(str(tmp_path / "pq"), split="test")
    assert len(pq) == 12 and sorted(set(pq.labels)) == [0, 1, 2]
    tree = tmp_path / "tree"
    for i, img in enumerate(images(9)):
        (tree / NAMES[i % 3]).mkdir(parents=True, exist_ok=True)
        img.save(tree / NAMES[i % 3] / f"{i}.png")
    via_hf = DATASET_LOADER_REGISTRY.get("hf")(str(tree), split="train")
    via_tv = DATASET_LOADER_REGISTRY.get("image_folder")(str(tree))
    assert len(via_hf) == len(via_tv) == 9
    assert via_tv.class_names == sorted(NAMES) and Counter(via_tv.labels.tolist()) == {0: 3, 1: 3, 2: 3}
    assert via_tv[0][0].shape == (3, 32, 32)


def test_image_folder_with_split_subfolders(tmp_path):
    for split in ("train", "val"):
        for i, img in enumerate(images(4)):
            (tmp_path / split / f"c{i % 2}").mkdir(parents=True, exist_ok=True)
            img.save(tmp_path / split / f"c{i % 2}" / f"{i}.png")
    ds = DATASET_LOADER_REGISTRY.get("image_folder")(str(tmp_path), split="val")
    assert ds.name == "val" and ds.class_names == ["c0", "c1"] and len(ds) == 4


def test_loader_from_config_section_with_image_processor(tmp_path, saved):
    from transformers import ViTImageProcessor

    ini = tmp_path / "c.ini"
    ini.write_text(f"[dataset_loader]\nname = HF\npath = {saved.name}\nsplit = train\n")
    cfg = ConfigParser(ini).get(DatasetLoaderConfig)
    proc = ViTImageProcessor(size={"height": 16, "width": 16})
    ds = load_dataset_from_config(cfg, transform=image_processor_transform(proc))
    assert ds[0][0].shape == (3, 16, 16)


def test_unlabelled_dataset(saved):
    ds = DATASET_LOADER_REGISTRY.get("hf")(str(saved), split="train", label_column="")
    assert not ds.has_labels and ds.class_names == [] and ds[0][1] == -1


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"split": "validation"}, r"has no split 'validation' \(available: train, test\)"),
        ({"label_column": "fine_label"}, r"has no column 'fine_label' \(columns: image, label\)"),
        ({"image_column": "img"}, r"has no column 'img'"),
    ],
)
def test_bad_split_or_column(saved, kwargs, pattern):
    with pytest.raises(ZooRankError, match=pattern):
        DATASET_LOADER_REGISTRY.get("hf")(str(saved), **kwargs)


def test_missing_and_corrupt_folders(tmp_path, saved):
    with pytest.raises(ZooRankError, match="does not exist"):
        DATASET_LOADER_REGISTRY.get("hf")(str(tmp_path / "nope"))
    with pytest.raises(ZooRankError, match="does not exist"):
        DATASET_LOADER_REGISTRY.get("image_folder")(str(tmp_path / "nope"))
    (saved / "train" / "state.json").write_text("{not json")
    (saved / "dataset_dict.json").write_text(json.dumps({"splits": ["train", "test"]}))
    with pytest.raises(ZooRankError, match="is corrupt"):
        DATASET_LOADER_REGISTRY.get("hf")(str(saved), split="train")


def test_single_class_and_undecodable_image(tmp_path):
    for i, img in enumerate(images(3)):
        (tmp_path / "only").mkdir(exist_ok=True)
        img.save(tmp_path / "only" / f"{i}.png")
    ds = DATASET_LOADER_REGISTRY.get("image_folder")(str(tmp_path))
    with pytest.raises(ZooRankError, match="single class"):
        ds.check_classes()
    (tmp_path / "only" / "0.png").write_bytes(b"not a png")
    with pytest.raises(ZooRankError, match=r"image 0 cannot be decoded"):
        ds[0]


def test_class_balanced_indices():
    labels = np.array([0] * 10 + [1] * 3 + [2] * 7)
    idx = class_balanced_indices(labels, per_class=4, seed=1)
    assert Counter(labels[idx].tolist()) == {0: 4, 1: 3, 2: 4}
    assert list(idx) == sorted(idx) and len(set(idx)) == len(idx)
    assert np.array_equal(idx, class_balanced_indices(labels, 4, seed=1))
    assert not np.array_equal(idx, class_balanced_indices(labels, 4, seed=2))


def test_class_balanced_batch_sampler():
    labels = np.array([0] * 20 + [1] * 5 + [2] * 11 + [3] * 4)
    s = ClassBalancedBatchSampler(labels, samples_per_class=2, seed=0)
    batches = list(s)
    assert len(batches) == len(labels) // 8
    for b in batches:
        assert Counter(labels[b].tolist()) == {0: 2, 1: 2, 2: 2, 3: 2}
    assert batches == list(ClassBalancedBatchSampler(labels, 2, seed=0))
    s.set_epoch(1)
    assert list(s) != batches
    sub = ClassBalancedBatchSampler(labels, samples_per_class=3, classes_per_batch=2, seed=0)
    for b in sub:
        counts = Counter(labels[b].tolist())
        assert len(counts) == 2 and set(counts.values()) == {3}
