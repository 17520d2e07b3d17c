"""Render a `DatasetSpec` into arrays and into an in-memory `datasets.DatasetDict`."""
from __future__ import annotations

import io
import json
from typing import Any

import datasets
import numpy as np
from PIL import Image

from dataloader.synthetic.core import VARIANT_REGISTRY, RenderRequest
from dataloader.synthetic.spec import GENERATOR_VERSION, SPLITS, DatasetSpec

CHUNK = 1024  # samples rendered at once (bounds memory; results do not depend on it)
# Random streams of a dataset: seeded with (*spec.entropy(), STREAM_x, ...), so they never coincide.
STREAM_SAMPLE, STREAM_SHUFFLE = 0, 1


def features(spec: DatasetSpec) -> datasets.Features:
    return datasets.Features({
        "image": datasets.Image(),
        "label": datasets.ClassLabel(names=list(spec.classes)),
        "caption": datasets.Value("string"),
    })


def metadata(spec: DatasetSpec) -> dict[str, Any]:
    """What `zoorank.json` (and each split's `info.description`) holds."""
    fam = spec.family_obj
    return {
        "format": "zoorank-synthetic",
        "generator_version": GENERATOR_VERSION,
        "name": spec.name,
        "family": spec.family,
        "variants": list(spec.variants),
        "role": spec.role,
        "num_classes": spec.num_classes,
        "class_names": list(spec.classes),
        "image_size": spec.image_size,
        "splits": spec.split_sizes(),
        "spec_hash": spec.spec_hash(),
        "spec": spec.to_dict(),
        "description": fam.description,
    }


def render_arrays(spec: DatasetSpec) -> dict[str, tuple[np.ndarray, np.ndarray, list[str]]]:
    """Render all splits: {split: (uint8 images (N, S, S, 3), labels (N,), captions)}, shuffled."""
    fam = spec.family_obj
    variants = [VARIANT_REGISTRY.get(v) for v in spec.variants]
    family_index = np.array([fam.classes.index(c) for c in spec.classes])
    entropy = spec.entropy()
    per_split = (spec.train_per_class, spec.val_per_class, spec.test_per_class)
    offsets = np.cumsum((0,) + per_split)
    out = {}
    for split_id, (split, per_class) in enumerate(zip(SPLITS, per_split)):
        local = np.repeat(np.arange(spec.num_classes), per_class)
        class_index = np.tile(np.arange(per_class), spec.num_classes) + offsets[split_id]
        order = np.random.default_rng([*entropy, STREAM_SHUFFLE, split_id]).permutation(len(local))
        local, class_index = local[order], class_index[order]
        labels = family_index[local]
        images = np.empty((len(local), spec.image_size, spec.image_size, 3), np.uint8)
        captions: list[str] = []
        for lo in range(0, len(local), CHUNK):
            sl = slice(lo, lo + CHUNK)
            rngs = [np.random.default_rng([*entropy, STREAM_SAMPLE, int(lab), int(j)])
                    for lab, j in zip(labels[sl], class_index[sl])]
            req = RenderRequest(labels[sl], class_index[sl], rngs, spec.image_size, entropy)
            result = fam(req)
            imgs = result.images
            for var in variants:
                imgs = var.apply(imgs, result.masks, rngs, spec.image_size)
            images[sl] = np.clip(np.rint(np.asarray(imgs) * 255.0), 0, 255).astype(np.uint8)
            for cap in result.captions:
                for var in variants:
                    cap = var.edit_caption(cap)
                captions.append(cap)
        out[split] = (images, local, captions)
    return out


def _png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def generate(spec: DatasetSpec) -> datasets.DatasetDict:
    """Build the dataset in memory: splits train/validation/test with image, label and caption."""
    feats = features(spec)
    info_desc = json.dumps(metadata(spec), sort_keys=True)
    splits = {}
    for split, (images, labels, captions) in render_arrays(spec).items():
        info = datasets.DatasetInfo(description=info_desc, features=feats)
        data = {"image": [{"bytes": _png(a), "path": None} for a in images],
                "label": labels.tolist(), "caption": captions}
        splits[split] = datasets.Dataset.from_dict(data, features=feats, info=info, split=split)
    return datasets.DatasetDict(splits)
