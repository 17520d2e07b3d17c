"""`ModelParameterDataset`: the parameter vectors of extract_model_vectors.py, normalized, as tensors."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from extractors.store import load_vectors, read_vector, vector_path
from extractors.vectorizers import RobustNormalizer, fit_normalizer
from utils.errors import ZooRankError


class ModelParameterDataset(Dataset):
    """Item i: `(x [D],)`, model i's vector after the robust normalization.

    `normalizer`: a RobustNormalizer, a saved one (path), or None to fit one on `fit_on` ids only
    (the training models: nothing of held-out models leaks into the normalization).
    Also keeps `ids`, `raw` [N, D] and `log_params` [N] (log10 parameter count).
    """

    def __init__(self, folder: str | Path, ids: Sequence[str] | None = None,
                 normalizer: RobustNormalizer | str | Path | None = None, fit_on: Sequence[str] | None = None) -> None:
        folder = Path(folder)
        if not (folder / "vectors").is_dir():
            raise ZooRankError(f"no model vectors in {folder}; run extract_model_vectors.py first")
        self.ids, self.raw = load_vectors(folder, ids)
        params = [read_vector(vector_path(folder, i), with_arrays=False)["metadata"].get("num_params", 1)
                  for i in self.ids]
        self.log_params = np.log10(np.maximum(np.asarray(params, dtype=np.float64), 1.0)).astype(np.float32)
        if normalizer is None:
            rows = [self.ids.index(i) for i in (fit_on if fit_on is not None else self.ids)]
            normalizer = fit_normalizer(self.raw[rows], [self.ids[r] for r in rows])
        elif not isinstance(normalizer, RobustNormalizer):
            normalizer = RobustNormalizer.load(normalizer)
        self.use_normalizer(normalizer)

    def use_normalizer(self, normalizer: RobustNormalizer) -> None:
        self.normalizer = normalizer
        self.x = torch.from_numpy(normalizer.apply(self.raw).astype(np.float32))

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> tuple[torch.Tensor]:
        return (self.x[index],)
