"""The model labels file (written by extract_model_labels.py and `recommend.py add-model`, features/labels.py)
and its reading as model token columns.

    labels.npz   ids [N], labels [N, D] float32 (unit, or zeros: no named classes), named [N] class counts,
                 metadata (JSON: the CLIP's fingerprint, the prompt templates)
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from utils.artifacts import read_npz
from utils.errors import ZooRankError

LABELS = "labels.npz"
KEYS = {"ids": ("U", 1), "labels": ("f", 2), "named": ("iu", 1), "metadata": "json"}
REBUILD = "python extract_model_labels.py"


def read_labels(path: Path) -> dict[str, Any]:
    """The arrays of a labels.npz (ids [N], labels [N, D], named [N], metadata)."""
    return read_npz(path, KEYS, what="model labels", rebuild=REBUILD, same_rows=("ids", "labels", "named"))


class ModelLabels:
    """Model label vectors as model token columns [D] per model. `fingerprint`: the CLIP that made them, which
    must be the one that made the dataset tokens (else text and images are not in one space)."""

    def __init__(self, path: Path) -> None:
        data = read_labels(path)
        self.by_id = {str(m): v for m, v in zip(data["ids"], data["labels"].astype(np.float32))}
        self.dim = int(data["labels"].shape[1])
        self.fingerprint = str(data["metadata"].get("fingerprint", ""))
        self.path = Path(path)

    def check_fingerprint(self, tokens_fingerprint: str | None) -> None:
        if tokens_fingerprint and self.fingerprint != tokens_fingerprint:
            raise ZooRankError(f"{self.path}: model labels made with {self.fingerprint}, the dataset tokens with "
                               f"{tokens_fingerprint}; run {REBUILD} with the [dataset_tokens] settings of the tokens")

    def block(self, ids: Sequence[str]) -> np.ndarray:
        missing = [m for m in ids if m not in self.by_id]
        if missing:
            raise ZooRankError(f"{self.path}: no label vector for model(s) {', '.join(missing[:3])}; run "
                               f"{REBUILD} for them (recommend.py add-model computes its own)")
        return np.stack([self.by_id[m] for m in ids])
