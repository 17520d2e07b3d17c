"""Frozen features kept by the ground truth: one NPZ per (model, dataset), so that the sampled training
tasks (features/tasks.py) get exact ground truth by the same linear probe without another forward pass.

    <features_dir>/<model>/<dataset>.npz   train [N, D] float32, train_labels [N], test [M, D] float32,
                                           test_labels [M]
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from features.pairs import pair_file
from utils.artifacts import read_npz
from utils.io import save_npz

KEYS = {"train": ("f", 2), "train_labels": ("iu", 1), "test": ("f", 2), "test_labels": ("iu", 1)}
REBUILD = "delete it; python -m zoo ground-truth computes it again"


def feature_file(features_dir: str | Path, model_id: str, dataset: str) -> Path:
    return pair_file(Path(features_dir), model_id, dataset).with_suffix(".npz")


def save_features(path: Path, train: np.ndarray, train_labels: np.ndarray, test: np.ndarray,
                  test_labels: np.ndarray) -> int:
    """Writes the pair's features as the probe saw them (float32: a task over a whole dataset then scores
    exactly its ground truth); returns the bytes written."""
    save_npz(path, train=train.astype(np.float32), train_labels=np.asarray(train_labels, np.int32),
             test=test.astype(np.float32), test_labels=np.asarray(test_labels, np.int32))
    return path.stat().st_size


def load_features(path: Path) -> dict[str, Any]:
    """{train [N, D] float32, train_labels [N], test [M, D] float32, test_labels [M]}."""
    data = read_npz(path, KEYS, what="cached features", rebuild=REBUILD)
    return {k: v.astype(np.float32, copy=False) if v.dtype.kind == "f" else v for k, v in data.items()}
