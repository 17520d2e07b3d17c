"""What the ranker learns from: for each dataset, its tokens, the candidate models' tokens, and the
ground-truth scores of those models on it (`constants/dataset_model_performance.json`).

Splits are by dataset family (whole families held out), never by random items, so no information of
a test dataset reaches training. Model tokens come from the models' weights only (autoencoder
embedding, optionally the raw normalized vector and log parameter count): no per-model learned ID.
"""
from __future__ import annotations

from typing import Any, Sequence, TypedDict

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from config.layout import Layout
from config.ranking_data import RankingDataConfig
from dataloader.dataset_tokens import DatasetTokenDataset, pad_tokens
from dataloader.families import read_families, split_by_family
from dataloader.model_labels import ModelLabels
from dataloader.model_table import ModelTable, source_tokens
from dataloader.performance import read_performance
from dataloader.probe_profiles import ProbeProfiles
from dataloader.tasks import read_tasks, task_tokens, usable
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


def standardize(scores: np.ndarray) -> np.ndarray:
    return (scores - scores.mean()) / (scores.std() + 1e-8)


class CombinedSimilarityDataset(Dataset):
    """One item per (dataset, draw): the dataset's tokens and its candidate models' tokens and scores.

    `length` > len(datasets) repeats datasets (each draw its own candidate subset when
    `candidates_per_item` > 0; subsets come from torch's global RNG, saved in checkpoints).
    """

    def __init__(self, performance: dict[str, dict[str, float]], tokens: DatasetTokenDataset, models: ModelTable,
                 datasets: Sequence[str], split: str, candidates_per_item: int = 0, length: int | None = None,
                 target: str = "zscore", tasks: Sequence[dict[str, Any]] = (), task_share: float = 0.0) -> None:
        self.datasets, self.split, self.models = list(datasets), split, models
        self.candidates_per_item, self.target = candidates_per_item, target
        self.length = length or len(self.datasets)
        self.tokens = {d: tokens.by_name(d)["tokens"] for d in self.datasets}
        # sampled tasks: more items like the real ones (their own tokens and scores), drawn with `task_share`
        self.task_ids, self.task_share = [t["id"] for t in tasks], task_share if tasks else 0.0
        self.tokens.update({t["id"]: task_tokens(t, tokens) for t in tasks})
        performance = {**performance, **{t["id"]: t["scores"] for t in tasks}}
        self.rows: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for d in [*self.datasets, *self.task_ids]:
            ids = [m for m in sorted(performance[d]) if m in models.row]
            if len(ids) < 2:
                raise ZooRankError(f"dataset {d}: fewer than 2 candidate models with both a score and an embedding")
            self.rows[d] = (np.array([models.row[m] for m in ids]), np.array([performance[d][m] for m in ids]))

    def __len__(self) -> int:
        return self.length if self.datasets else 0

    def __getitem__(self, index: int) -> dict[str, Any]:
        name = self.datasets[index % len(self.datasets)]
        if self.task_share and torch.rand(()) < self.task_share:
            name = self.task_ids[int(torch.randint(len(self.task_ids), ()))]
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


def build_combined_similarity_datasets(cfg: RankingDataConfig, layout: Layout,
                                       splits: Sequence[str] = ("train", "val", "test"),
                                       ) -> tuple[dict[str, CombinedSimilarityDataset], dict[str, list[str]]]:
    """Datasets for the requested splits of a `[ranking_data]` section, and the split definition."""
    performance = read_performance(cfg.performance_file)
    families = read_families(cfg.dataset_index, list(performance))
    split = split_by_family(list(performance), families, cfg.val_families, cfg.test_families)
    tokens_dir = cfg.tokens_dir(layout)
    tokens = DatasetTokenDataset(tokens_dir, split=cfg.token_split, datasets=sorted(performance))
    source = (source_tokens(cfg.model_index, tokens_dir, cfg.token_split)
              if "source" in cfg.model_token_parts else None)
    probes = ProbeProfiles(cfg.profiles(layout), exclude=cfg.probe_exclude) if "probe" in cfg.model_token_parts else None
    labels = ModelLabels(cfg.labels(layout)) if "labels" in cfg.model_token_parts else None
    if labels is not None:
        labels.check_fingerprint(tokens.fingerprint)
    models = ModelTable(cfg.embeddings(layout), cfg.model_token_parts, source, probes=probes, labels=labels)
    token_sets = tokens
    if cfg.tasks or probes is not None:  # task tokens come from the datasets'; the ranker holds the probes'
        needed = sorted(set(performance) | set(probes.probes if probes is not None else ()))
        token_sets = DatasetTokenDataset(tokens_dir, split=cfg.token_split, datasets=needed)
    tasks = usable(read_tasks(cfg.tasks_path(layout)), split["train"]) if cfg.tasks else []
    out = {}
    for name in splits:
        if split[name]:
            train = name == "train"
            out[name] = CombinedSimilarityDataset(
                performance, token_sets, models, split[name], name, cfg.candidates_per_item if train else 0,
                length=cfg.items_per_epoch if train else None, target=cfg.target,
                tasks=tasks if train else (), task_share=cfg.task_share if train else 0.0)
    return out, {**split, "families": {d: families.get(d, d) for d in performance}, "_performance": performance,
                 "num_tasks": len(tasks), "_tokens": token_sets}


def build_combined_similarity_loader(cfg: RankingDataConfig, layout: Layout, splits: Sequence[str] = ("test",),
                                     shuffle: bool = False, batch_size: int = 8) -> DataLoader:
    """One loader over the union of `splits` (e.g. ("val", "test") for evaluation)."""
    sets, _ = build_combined_similarity_datasets(cfg, layout, splits)
    joined = torch.utils.data.ConcatDataset(list(sets.values()))
    return DataLoader(joined, batch_size=batch_size, shuffle=shuffle, collate_fn=collate_ranking)
