"""A dataset split -> a set of L2-normalized feature tokens.

Tokens (any mix, `[dataset_tokens] tokens`): per-class means of the image features of a class-balanced
sample, individual sample features (class-balanced, at most `max_sample_tokens`), and optionally one
CLIP text token per class from class-name prompts. Without labels: a fixed-size random sample.
"""
from __future__ import annotations

from typing import Any, Protocol

import numpy as np
from torch.utils.data import DataLoader
from tqdm import tqdm

from config.dataset_tokens import DatasetTokensConfig
from extractors.dataset.base import FeatureExtractor
from utils import log
from utils.sampling import class_balanced_indices

logger = log.get_logger(__name__)
TOKEN_TYPES = {"class_mean": 0, "sample": 1, "class_text": 2}


class ImageClassificationDataset(Protocol):
    """What tokens need of a dataset (dataloader.ImageClassificationDataset has it; extractors do not
    import dataloader, which reads what they write)."""

    name: str
    labels: np.ndarray
    class_names: list[str]
    transform: Any

    @property
    def has_labels(self) -> bool: ...

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> tuple[Any, int]: ...

    def subset(self, indices: np.ndarray) -> ImageClassificationDataset: ...

    def check_classes(self) -> None: ...


def token_settings(cfg: DatasetTokensConfig, extractor: FeatureExtractor) -> dict[str, Any]:
    """What shapes a token set: recorded with each token file, compared by recommend.py with a new dataset's."""
    return {"extractor": extractor.describe(), "extractor_fingerprint": extractor.fingerprint(),
            "token_mode": cfg.tokens, "per_class": cfg.per_class}


def l2_normalize(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def sample_indices(ds: ImageClassificationDataset, cfg: DatasetTokensConfig) -> np.ndarray:
    if ds.has_labels:
        return class_balanced_indices(ds.labels, cfg.per_class, cfg.seed)
    n = min(len(ds), cfg.unlabelled_samples)
    logger.warning("%s has no labels: using %d random images instead of a class-balanced sample", ds.name, n)
    return np.sort(np.random.default_rng(cfg.seed).choice(len(ds), size=n, replace=False))


def embed(ds: ImageClassificationDataset, extractor: FeatureExtractor, batch_size: int) -> np.ndarray:
    """[N, D] L2-normalized image features of every item of `ds` (in order)."""
    ds.transform = extractor.transform
    loader = DataLoader(ds, batch_size=batch_size, shuffle=False)
    feats = [extractor.image_features(x) for x, _ in tqdm(loader, desc=f"embed {ds.name}", leave=False)]
    return l2_normalize(np.concatenate(feats).astype(np.float32))


def _round_robin(labels: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """Positions 0..N-1 ordered so that classes alternate; the first `limit` stay class-balanced."""
    rng = np.random.default_rng(seed)
    per_class = [rng.permutation(np.flatnonzero(labels == c)) for c in np.unique(labels)]
    order = [p[i] for i in range(max(map(len, per_class), default=0)) for p in per_class if i < len(p)]
    return np.asarray(order[:limit], dtype=np.int64)


def build_tokens(ds: ImageClassificationDataset, extractor: FeatureExtractor, cfg: DatasetTokensConfig) -> dict[str, Any]:
    """tokens [T, D] float32, token_types [T] (TOKEN_TYPES), token_labels [T] (class or -1), and the sample's
    class_names / class_counts [K] / num_images / labelled."""
    ds.check_classes()
    idx = sample_indices(ds, cfg)
    feats = embed(ds.subset(idx), extractor, cfg.batch_size)
    labels = ds.labels[idx]
    labelled = ds.has_labels
    mode = cfg.tokens if labelled else "samples"
    if not labelled and cfg.tokens != "samples":
        logger.warning("%s: no labels, so no per-class tokens; sample tokens only", ds.name)
    parts, types, tlabels = [], [], []
    if mode in ("class_means", "both"):
        classes = np.unique(labels)
        parts.append(l2_normalize(np.stack([feats[labels == c].mean(0) for c in classes])))
        types += [TOKEN_TYPES["class_mean"]] * len(classes)
        tlabels += classes.tolist()
    if mode in ("samples", "both"):
        pick = _round_robin(labels, cfg.max_sample_tokens, cfg.seed) if labelled else np.arange(
            min(len(feats), cfg.max_sample_tokens))
        parts.append(feats[pick])
        types += [TOKEN_TYPES["sample"]] * len(pick)
        tlabels += labels[pick].tolist()
    if cfg.text_tokens and labelled and extractor.supports_text:
        names = ds.class_names
        prompts = [p.format(n.replace("_", " ")) for n in names for p in cfg.prompts]
        text = l2_normalize(extractor.text_features(prompts)).reshape(len(names), len(cfg.prompts), -1).mean(1)
        parts.append(l2_normalize(text))
        types += [TOKEN_TYPES["class_text"]] * len(names)
        tlabels += list(range(len(names)))
    counts = np.bincount(labels, minlength=len(ds.class_names)) if labelled else np.zeros(0, dtype=np.int64)
    return {
        "tokens": np.concatenate(parts).astype(np.float32), "token_types": np.asarray(types, dtype=np.int8),
        "token_labels": np.asarray(tlabels, dtype=np.int32), "class_names": list(ds.class_names),
        "class_counts": counts.astype(np.int64), "num_images": len(idx), "labelled": labelled,
    }


