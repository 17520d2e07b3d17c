"""`DatasetTokenDataset`: the token sets written by `extract_dataset_tokens.py`, with padding masks."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from extractors.dataset.store import read_tokens
from utils.artifacts import damaged
from utils.errors import ZooRankError
from utils.index import read_index


class DatasetTokenDataset(Dataset):
    """One item per dataset: {"tokens": [T, D], "dataset": name, "split": split}.

    root: an output folder of extract_dataset_tokens.py (with index.json). `datasets` restricts and
    orders the items; `token_types` keeps only those types (see extractors.dataset.TOKEN_TYPES).
    """

    def __init__(self, root: str | Path, split: str = "train", datasets: Sequence[str] | None = None,
                 token_types: Sequence[int] | None = None) -> None:
        root = Path(root)
        index_path = root / "index.json"
        if not index_path.is_file():
            raise ZooRankError(f"{index_path} not found; run extract_dataset_tokens.py first")
        entries = read_index(index_path, "datasets", "dataset token index",
                             rebuild="python extract_dataset_tokens.py --rebuild-index")
        try:
            files = {e["dataset"]: root / e["file"] for e in entries if e["split"] == split}
        except (KeyError, TypeError) as err:
            raise damaged(index_path, "dataset token index", f"an entry without {err}",
                          "python extract_dataset_tokens.py --rebuild-index") from None
        names = list(datasets) if datasets is not None else sorted(files)
        missing = [n for n in names if n not in files]
        if missing:
            raise ZooRankError(f"{root}: no '{split}' tokens for {', '.join(missing[:3])}; extract them first")
        self.names, self.split = names, split
        # the encoder that made them (extractors.dataset.tokens.token_settings), when one made them all
        used = set(names)
        prints = {e.get("extractor_fingerprint") for e in entries if e.get("dataset") in used}
        self.fingerprint = prints.pop() if len(prints) == 1 else None
        self.items = []
        for name in names:
            data = read_tokens(files[name])
            keep = np.isin(data["token_types"], token_types) if token_types is not None else slice(None)
            self.items.append({"tokens": torch.from_numpy(data["tokens"][keep]), "dataset": name, "split": split,
                               "class_names": data["class_names"], "token_types": data["token_types"][keep],
                               "token_labels": data["token_labels"][keep]})

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.items[index]

    def by_name(self, name: str) -> dict[str, Any]:
        return self.items[self.names.index(name)]


def pad_tokens(token_sets: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """[T_i, D] tensors -> ([B, T_max, D] zero-padded, [B, T_max] bool mask, True = a real token)."""
    t_max = max(t.shape[0] for t in token_sets)
    out = torch.zeros(len(token_sets), t_max, token_sets[0].shape[1], dtype=token_sets[0].dtype)
    mask = torch.zeros(len(token_sets), t_max, dtype=torch.bool)
    for i, t in enumerate(token_sets):
        out[i, : len(t)] = t
        mask[i, : len(t)] = True
    return out, mask


def collate_dataset_tokens(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    tokens, mask = pad_tokens([it["tokens"] for it in items])
    return {"dataset_tokens": tokens, "dataset_mask": mask, "dataset_names": [it["dataset"] for it in items]}
