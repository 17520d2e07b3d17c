"""What the ranker learns from: for each dataset, its tokens, the candidate models' tokens, and the
ground-truth scores of those models on it (`constants/dataset_model_performance.json`).

Splits are by dataset family (whole families held out), never by random items, so no information of
a test dataset reaches training. Model tokens come from the models' weights only (autoencoder
embedding, optionally the raw normalized vector and log parameter count): no per-model learned ID.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence, TypedDict

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from dataloader.dataset_tokens import DatasetTokenDataset, pad_tokens
from utils.errors import ZooRankError


class RankingBatch(TypedDict):
    dataset_tokens: torch.Tensor  # [B, T, Dd] zero-padded
    dataset_mask: torch.Tensor  # [B, T] bool, True = real token
    model_tokens: torch.Tensor  # [B, M, Dm] zero-padded
    model_mask: torch.Tensor  # [B, M] bool, True = real candidate
    true_scores: torch.Tensor  # [B, M] ground truth (target transform applied), 0 where padded
    true_ranks: torch.Tensor  # [B, M] 0 = best candidate, -1 where padded
    model_names: list[list[str]]
    dataset_names: list[str]
    model_indices: torch.Tensor  # [B, M] row in the model table, -1 where padded
    dataset_splits: list[str]


def read_performance(path: Path) -> dict[str, dict[str, float]]:
    """{dataset: {model_id: score}} from `{"performance": {...}}` or a flat dict (keys '_...' are metadata)."""
    path = Path(path)
    if not path.is_file():
        raise ZooRankError(f"ground-truth file {path} not found; build it (python -m zoo build) or set performance_file")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ZooRankError(f"ground-truth file {path} is corrupt ({err.msg} at line {err.lineno}); rebuild it") from None
    table = data.get("performance", data)
    return {d: {m: float(s) for m, s in row.items()} for d, row in table.items()
            if not d.startswith("_") and d != "metadata" and isinstance(row, dict)}


def read_families(path: Path | None, datasets: Sequence[str]) -> dict[str, str]:
    """dataset -> family from a JSON index (`datasets[].name/family`); without one, each dataset is its own family."""
    if path is None:
        return {d: d for d in datasets}
    try:
        entries = json.loads(Path(path).read_text())["datasets"]
    except (OSError, json.JSONDecodeError, KeyError) as err:
        raise ZooRankError(f"dataset index {path} is missing or corrupt ({err}); set dataset_index") from None
    return {e["name"]: e.get("family", e["name"]) for e in entries}


def split_by_family(datasets: Sequence[str], families: dict[str, str], val_families: Sequence[str],
                    test_families: Sequence[str]) -> dict[str, list[str]]:
    known = {families.get(d, d) for d in datasets}
    unknown = (set(val_families) | set(test_families)) - known
    if unknown:
        raise ZooRankError(f"families {sorted(unknown)} have no dataset with ground truth; known: {sorted(known)}")
    split = {"train": [], "val": [], "test": []}
    for d in sorted(datasets):
        fam = families.get(d, d)
        split["test" if fam in test_families else "val" if fam in val_families else "train"].append(d)
    return split


class ModelTable:
    """Model tokens [N, Dm] from the autoencoder's embeddings NPZ (ids, embeddings, vectors, log_params)."""

    def __init__(self, path: Path, parts: Sequence[str] = ("embedding", "log_params"),
                 source: dict[str, np.ndarray] | None = None) -> None:
        path = Path(path)
        if not path.is_file():
            raise ZooRankError(f"model embeddings {path} not found; train the autoencoder first "
                               "(python train.py modelautoencoder)")
        with np.load(path, allow_pickle=False) as data:
            self.ids = [str(i) for i in data["ids"]]
            blocks = {"embedding": data["embeddings"], "raw": data["vectors"], "log_params": data["log_params"][:, None]}
            self.log_params = data["log_params"].astype(np.float64)
        if "source" in parts:
            if not source:
                raise ZooRankError("model token part 'source' needs the models' source-data tokens "
                                   "([transformer] model_index); this command supports weights-only rankers")
            dim = len(next(iter(source.values())))
            blocks["source"] = np.stack([source.get(m, np.zeros(dim, np.float32)) for m in self.ids])
        self.tokens = torch.from_numpy(np.concatenate([blocks[p] for p in parts], axis=1).astype(np.float32))
        self.row = {m: i for i, m in enumerate(self.ids)}

    def extend(self, other: ModelTable) -> list[str]:
        """Append the models of `other` not already here (e.g. those of `recommend.py add-model`); returns
        their ids. Both tables must hold the same token parts from the same autoencoder."""
        if other.tokens.shape[1] != self.tokens.shape[1]:
            raise ZooRankError(f"model tokens of {other.tokens.shape[1]} dims cannot join a table of "
                               f"{self.tokens.shape[1]}; were they encoded by another autoencoder?")
        new = [i for i, m in enumerate(other.ids) if m not in self.row]
        self.ids += [other.ids[i] for i in new]
        self.tokens = torch.cat([self.tokens, other.tokens[new]])
        self.log_params = np.concatenate([self.log_params, other.log_params[new]])
        self.row = {m: i for i, m in enumerate(self.ids)}
        return [other.ids[i] for i in new]


def standardize(scores: np.ndarray) -> np.ndarray:
    return (scores - scores.mean()) / (scores.std() + 1e-8)


class CombinedSimilarityDataset(Dataset):
    """One item per (dataset, draw): the dataset's tokens and its candidate models' tokens and scores.

    `length` > len(datasets) repeats datasets (each draw its own candidate subset when
    `candidates_per_item` > 0; subsets come from torch's global RNG, saved in checkpoints).
    """

    def __init__(self, performance: dict[str, dict[str, float]], tokens: DatasetTokenDataset, models: ModelTable,
                 datasets: Sequence[str], split: str, candidates_per_item: int = 0, length: int | None = None,
                 target: str = "zscore") -> None:
        self.datasets, self.split, self.models = list(datasets), split, models
        self.candidates_per_item, self.target = candidates_per_item, target
        self.length = length or len(self.datasets)
        self.tokens = {d: tokens.by_name(d)["tokens"] for d in self.datasets}
        self.rows: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for d in self.datasets:
            ids = [m for m in sorted(performance[d]) if m in models.row]
            if len(ids) < 2:
                raise ZooRankError(f"dataset {d}: fewer than 2 candidate models with both a score and an embedding")
            self.rows[d] = (np.array([models.row[m] for m in ids]), np.array([performance[d][m] for m in ids]))

    def __len__(self) -> int:
        return self.length if self.datasets else 0

    def __getitem__(self, index: int) -> dict[str, Any]:
        name = self.datasets[index % len(self.datasets)]
        rows, scores = self.rows[name]
        if 0 < self.candidates_per_item < len(rows):
            keep = torch.randperm(len(rows))[: self.candidates_per_item].sort().values.numpy()
            rows, scores = rows[keep], scores[keep]
        target = standardize(scores) if self.target == "zscore" else scores
        ranks = np.empty(len(scores), dtype=np.int64)
        ranks[np.argsort(-scores, kind="stable")] = np.arange(len(scores))
        return {"dataset_tokens": self.tokens[name], "model_tokens": self.models.tokens[rows],
                "true_scores": torch.tensor(target, dtype=torch.float32), "true_ranks": torch.from_numpy(ranks),
                "raw_scores": torch.tensor(scores, dtype=torch.float32), "model_indices": torch.from_numpy(rows),
                "model_names": [self.models.ids[r] for r in rows], "dataset_name": name, "split": self.split}


def collate_ranking(items: Sequence[dict[str, Any]]) -> RankingBatch:
    dataset_tokens, dataset_mask = pad_tokens([it["dataset_tokens"] for it in items])
    model_tokens, model_mask = pad_tokens([it["model_tokens"] for it in items])

    def pad(key: str, fill: float) -> torch.Tensor:
        out = torch.full(model_mask.shape, fill, dtype=items[0][key].dtype)
        for i, it in enumerate(items):
            out[i, : len(it[key])] = it[key]
        return out

    return {"dataset_tokens": dataset_tokens, "dataset_mask": dataset_mask, "model_tokens": model_tokens,
            "model_mask": model_mask, "true_scores": pad("true_scores", 0.0), "true_ranks": pad("true_ranks", -1),
            "raw_scores": pad("raw_scores", 0.0), "model_indices": pad("model_indices", -1),
            "model_names": [it["model_names"] for it in items], "dataset_names": [it["dataset_name"] for it in items],
            "dataset_splits": [it["split"] for it in items]}


def source_tokens(model_index: Path, tokens_dir: Path, split: str) -> dict[str, np.ndarray]:
    """model id -> what its pretraining data looks like to the CLIP: the L2-normalized mean of the token
    means of its source datasets [D]. Metadata, not weights: models without known sources get zeros."""
    try:
        entries = json.loads(Path(model_index).read_text())["models"]
    except (OSError, json.JSONDecodeError, KeyError) as err:
        raise ZooRankError(f"model index {model_index} is missing or corrupt ({err}); set model_index") from None
    names = sorted({s for e in entries for s in e.get("sources", [])})
    tokens = DatasetTokenDataset(tokens_dir, split=split, datasets=names)
    means = {n: tokens.by_name(n)["tokens"].numpy().mean(0) for n in names}
    out = {}
    for e in entries:
        if e.get("sources"):
            v = np.mean([means[s] for s in e["sources"]], axis=0)
            out[str(e["id"])] = (v / max(np.linalg.norm(v), 1e-12)).astype(np.float32)
    return out


def build_combined_similarity_datasets(cfg: Any, artifacts_dir: Path, splits: Sequence[str] = ("train", "val", "test"),
                                       ) -> tuple[dict[str, CombinedSimilarityDataset], dict[str, list[str]]]:
    """Datasets for the requested splits of a `[transformer]` section, and the split definition."""
    performance = read_performance(cfg.performance_file)
    families = read_families(cfg.dataset_index, list(performance))
    split = split_by_family(list(performance), families, cfg.val_families, cfg.test_families)
    tokens_dir = cfg.dataset_tokens_dir or artifacts_dir / "dataset_tokens"
    tokens = DatasetTokenDataset(tokens_dir, split=cfg.token_split, datasets=sorted(performance))
    source = (source_tokens(cfg.model_index, tokens_dir, cfg.token_split)
              if "source" in cfg.model_token_parts else None)
    models = ModelTable(cfg.model_embeddings or artifacts_dir / "models" / "autoencoder" / "embeddings.npz",
                        cfg.model_token_parts, source)
    out = {}
    for name in splits:
        if split[name]:
            train = name == "train"
            out[name] = CombinedSimilarityDataset(
                performance, tokens, models, split[name], name, cfg.candidates_per_item if train else 0,
                length=cfg.items_per_epoch if train else None, target=cfg.target)
    return out, {**split, "families": {d: families.get(d, d) for d in performance}, "_performance": performance}


def build_combined_similarity_loader(cfg: Any, artifacts_dir: Path, splits: Sequence[str] = ("test",),
                                     shuffle: bool = False, batch_size: int | None = None) -> DataLoader:
    """One loader over the union of `splits` (e.g. ("val", "test") for evaluation)."""
    sets, _ = build_combined_similarity_datasets(cfg, artifacts_dir, splits)
    joined = torch.utils.data.ConcatDataset(list(sets.values()))
    return DataLoader(joined, batch_size=batch_size or cfg.batch_size, shuffle=shuffle, collate_fn=collate_ranking)
