"""Pretrain the zoo: one `transformers` classifier per spec on its source datasets, saved with
`save_pretrained` and listed in `models/index.json`.

Each model is written to a temp folder and renamed into place with its completion marker
(`zoorank_model.json`, written last), so an interrupted build keeps every finished model and a
rerun trains only what is missing or out of date (another spec hash).
"""
from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dataloader import class_balanced_indices
from features.handle import quiet_transformers
from features.images import load_split, preprocess
from features.refs import MODEL_MARKER as MARKER
from utils import io
from utils.device import pick_device
from utils.errors import ZooRankError
from utils.log import get_logger
from zoo.archs import build_config, build_processor
from zoo.population import ZooModelSpec
from zoo.training import accuracy, fit_classifier

logger = get_logger(__name__)
INDEX_FILE = "index.json"


@dataclass(frozen=True)
class PretrainJob:
    spec: ZooModelSpec
    datasets_root: str
    models_root: str
    digest: str
    settings: dict[str, Any]  # [zoo] batch_size, weight_decay, warmup_fraction, eval_per_class
    device: str


def read_marker(folder: Path, digest: str | None = None) -> dict[str, Any] | None:
    """The model's index entry when `folder` holds a finished model (of `digest`, when given)."""
    try:
        entry = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if digest is not None and entry.get("spec_hash") != digest:
        return None
    return entry if any(folder.glob("*.safetensors")) else None


def source_data(sources: tuple[str, ...], root: Path, split: str, total: int, seed: int
                ) -> tuple[torch.Tensor, np.ndarray, list[str]]:
    """About `total` images of the sources' `split`, class-balanced (seeded): uint8 [N, 3, H, W], labels, names.

    Classes of different sources stay distinct classes ("shapes/star", "glyph_letters/A").
    """
    images, labels, names = [], [], []
    for src in sources:
        part = load_split(str(root / src), split)
        images.append(part.images)
        labels.append(part.labels + len(names))
        names += [f"{src.removeprefix('src_')}/{c}" for c in part.class_names]
    y = np.concatenate(labels)
    index = class_balanced_indices(y, max(1, -(-total // len(names))), seed)
    return torch.cat(images)[torch.as_tensor(index)], y[index], names


def pretrain(job: PretrainJob) -> dict[str, Any]:
    """Train one zoo model and save it under models_root/<id>/; returns its index entry."""
    from transformers import AutoModelForImageClassification

    quiet_transformers()
    spec, cfg, root = job.spec, job.settings, Path(job.models_root)
    start = time.perf_counter()
    device = pick_device(job.device)
    torch.manual_seed(spec.seed)
    images, y, names = source_data(spec.sources, Path(job.datasets_root), "train", spec.images, spec.seed)
    processor = build_processor(spec.image_size)
    model = AutoModelForImageClassification.from_config(
        build_config(spec.arch, spec.width, spec.depth, spec.image_size, names))
    loss = fit_classifier(model, preprocess(processor, images), y, spec.epochs, spec.lr, cfg["batch_size"],
                          spec.seed, device, cfg["weight_decay"], cfg["warmup_fraction"])
    if not np.isfinite(loss):
        raise ZooRankError(f"zoo model {spec.id}: training diverged (loss {loss}); lower its learning rate")
    val_images, val_y, _ = source_data(spec.sources, Path(job.datasets_root), "validation",
                                       cfg["eval_per_class"] * len(names), 0)
    acc = accuracy(model, preprocess(processor, val_images), val_y, 256, device)
    entry = {
        "id": spec.id, "path": spec.id, "family": spec.arch, "architecture": type(model).__name__,
        "model_type": model.config.model_type, "num_parameters": sum(p.numel() for p in model.parameters()),
        "width": spec.width, "depth": spec.depth, "sources": list(spec.sources), "num_labels": len(names),
        "train_images": int(len(y)), "epochs": spec.epochs, "lr": spec.lr, "seed": spec.seed,
        "batch_size": cfg["batch_size"], "image_size": spec.image_size, "source_accuracy": round(acc, 4),
        "source_accuracy_split": "validation", "train_loss": round(loss, 4),
        "train_seconds": round(time.perf_counter() - start, 2), "spec_hash": job.digest,
    }
    _save(model.cpu(), processor, entry, root / spec.id)
    return entry


def _save(model: Any, processor: Any, entry: dict[str, Any], target: Path) -> None:
    """save_pretrained into a temp folder, marker last, then rename it over `target`."""
    tmp = io.temp_dir(target)
    model.save_pretrained(str(tmp), safe_serialization=True)
    processor.save_pretrained(str(tmp))
    io.write_json(tmp / MARKER, entry)
    if target.exists():
        shutil.rmtree(target)
    os.replace(tmp, target)


def write_index(root: Path, entries: list[dict[str, Any]], preset: str | None) -> Path:
    path = root / INDEX_FILE
    io.write_json(path, {"format": "zoorank-zoo-index", "preset": preset, "models": entries})
    return path
