"""A new dataset -> the ranker's dataset tokens, made exactly as extract_dataset_tokens.py makes them
([dataset_loader] says where the images are, [dataset_tokens] which CLIP and which tokens)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from config import DatasetLoaderConfig, DatasetTokensConfig
from dataloader import load_dataset_from_config
from extractors.dataset import DATASET_EXTRACTOR_REGISTRY, build_tokens
from extractors.dataset.tokens import token_settings
from utils import log

logger = log.get_logger(__name__)


def tokenize_dataset(loader_cfg: DatasetLoaderConfig, tokens_cfg: DatasetTokensConfig) -> tuple[np.ndarray, dict[str, Any]]:
    """(tokens [T, D] float32, what was sampled). The dataset is opened before the CLIP is loaded, so a
    wrong path, split or column fails fast."""
    ds = load_dataset_from_config(loader_cfg)
    extractor = DATASET_EXTRACTOR_REGISTRY.get(tokens_cfg.extractor)(tokens_cfg)
    result = build_tokens(ds, extractor, tokens_cfg)
    labelled = bool(result["labelled"])
    sampling = (f"class-balanced, up to {tokens_cfg.per_class} images per class" if labelled else
                f"no labels: a fixed random sample of {result['num_images']} images (seed {tokens_cfg.seed})")
    info = {"name": ds.name, "source": str(loader_cfg.path), "split": loader_cfg.split, "size": len(ds),
            "labelled": labelled, "num_classes": len(result["class_names"]) if labelled else None,
            "num_images": int(result["num_images"]), "num_tokens": int(len(result["tokens"])), "sampling": sampling,
            "settings": token_settings(tokens_cfg, extractor)}
    return result["tokens"], info


def training_token_settings(tokens_dir: Path) -> dict[str, Any]:
    """The token_settings the ranker's training tokens were made with (from their index), if recorded."""
    try:
        entries = json.loads((tokens_dir / "index.json").read_text())["datasets"]
    except (OSError, ValueError, KeyError):
        return {}
    keys = ("extractor", "extractor_fingerprint", "token_mode", "per_class")
    return {k: entries[0][k] for k in keys if entries and k in entries[0]}
