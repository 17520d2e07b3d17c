"""The sampled training tasks (make_tasks.py, features/tasks.py) as ranking items: ground truth per model
and tokens made from the task's datasets' own CLIP tokens (no CLIP pass).

    tasks.json   {"tasks": [{"id", "kind", "train_per_class", "parts": [{"dataset", "classes"}],
                             "scores": {model: accuracy}}], "metadata": {...}}
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from dataloader.dataset_tokens import DatasetTokenDataset
from utils.artifacts import read_json
from utils.errors import ZooRankError

REBUILD = "python make_tasks.py"
CLASS_MEAN, SAMPLE = 0, 1  # extractors.dataset.TOKEN_TYPES


def read_tasks(path: Path) -> list[dict[str, Any]]:
    data = read_json(path, what="sampled tasks", rebuild=REBUILD)
    tasks = data.get("tasks")
    if not isinstance(tasks, list) or not all(isinstance(t, dict) and "parts" in t and "scores" in t for t in tasks):
        raise ZooRankError(f"{path}: not a tasks file ({{\"tasks\": [{{\"parts\", \"scores\", ...}}]}}); "
                           f"rebuild it ({REBUILD})")
    return tasks


def usable(tasks: list[dict[str, Any]], allowed: Sequence[str]) -> list[dict[str, Any]]:
    """The tasks all of whose datasets are in `allowed` (a fold's training datasets)."""
    ok = set(allowed)
    return [t for t in tasks if all(p["dataset"] in ok for p in t["parts"])]


def task_tokens(task: dict[str, Any], tokens: DatasetTokenDataset, max_samples: int = 64) -> torch.Tensor:
    """[T, D]: the class-mean tokens of the task's classes, then (at most `max_samples`, spread evenly) its
    datasets' sample tokens of those classes."""
    means, samples = [], []
    for part in task["parts"]:
        item = tokens.by_name(part["dataset"])
        keep = np.isin(item["token_labels"], part["classes"])
        means.append(item["tokens"][torch.from_numpy(keep & (item["token_types"] == CLASS_MEAN))])
        samples.append(item["tokens"][torch.from_numpy(keep & (item["token_types"] == SAMPLE))])
    s = torch.cat(samples)
    if len(s) > max_samples:
        s = s[torch.linspace(0, len(s) - 1, max_samples).long()]
    return torch.cat([torch.cat(means), s])
