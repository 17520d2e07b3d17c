"""Model tokens of the candidates: the autoencoder's embeddings NPZ, optionally with what their
pretraining data looks like (the `source` part)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from dataloader.dataset_tokens import DatasetTokenDataset
from dataloader.model_labels import ModelLabels
from dataloader.probe_profiles import ProbeProfiles
from utils.artifacts import read_npz
from utils.errors import ZooRankError
from utils.index import read_index

EMBEDDING_KEYS = {"ids": ("U", 1), "embeddings": ("f", 2), "vectors": ("f", 2), "log_params": ("f", 1)}
EMBEDDING_EXTRA = {"role": ("U", 1), "autoencoder": ("U", 0)}
RETRAIN = "python train.py modelautoencoder"


def read_embeddings(path: Path, rebuild: str = RETRAIN) -> dict[str, np.ndarray]:
    """The arrays of an embeddings NPZ, checked: ids [N], embeddings [N, E], vectors [N, D], log_params [N],
    and when present role [N] and autoencoder (the stamp of the encoder that made them)."""
    path = Path(path)
    if not path.is_file():
        raise ZooRankError(f"model embeddings {path} not found; train the autoencoder first ({rebuild})")
    return read_npz(path, EMBEDDING_KEYS, optional=EMBEDDING_EXTRA, what="model embeddings", rebuild=rebuild,
                    same_rows=("ids", "embeddings", "vectors", "log_params", "role"))


class ModelTable:
    """Model tokens [N, Dm] from the autoencoder's embeddings NPZ (ids, embeddings, vectors, log_params) and,
    for the `probe` part, the models' probe profiles; for the `labels` part, their label vectors. `part_columns`:
    where each part sits in a token."""

    def __init__(self, path: Path, parts: Sequence[str] = ("embedding", "log_params"),
                 source: dict[str, np.ndarray] | None = None, rebuild: str = RETRAIN,
                 probes: ProbeProfiles | None = None, labels: ModelLabels | None = None) -> None:
        data = read_embeddings(path, rebuild)
        self.ids = [str(i) for i in data["ids"]]
        blocks = {"embedding": data["embeddings"], "raw": data["vectors"], "log_params": data["log_params"][:, None]}
        self.log_params = data["log_params"].astype(np.float64)
        self.probes = probes
        if "probe" in parts:
            if probes is None:
                raise ZooRankError("model token part 'probe' needs probe profiles ([ranking_data] probe_profiles; "
                                   "python extract_probe_profiles.py)")
            blocks["probe"] = probes.block(self.ids)
        if "labels" in parts:
            if labels is None:
                raise ZooRankError("model token part 'labels' needs model labels ([ranking_data] model_labels; "
                                   "python extract_model_labels.py)")
            blocks["labels"] = labels.block(self.ids)
        if "source" in parts:
            if not source:
                raise ZooRankError("model token part 'source' needs the models' source-data tokens "
                                   "([transformer] model_index); this command supports weights-only rankers")
            dim = len(next(iter(source.values())))
            blocks["source"] = np.stack([source.get(m, np.zeros(dim, np.float32)) for m in self.ids])
        self.tokens = torch.from_numpy(np.concatenate([blocks[p] for p in parts], axis=1).astype(np.float32))
        self.row = {m: i for i, m in enumerate(self.ids)}
        starts = np.cumsum([0] + [blocks[p].shape[1] for p in parts])
        self.part_columns = {p: (int(a), int(b)) for p, a, b in zip(parts, starts, starts[1:])}

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


def source_tokens(model_index: Path, tokens_dir: Path, split: str) -> dict[str, np.ndarray]:
    """model id -> what its pretraining data looks like to the CLIP: the L2-normalized mean of the token
    means of its source datasets [D]. Metadata, not weights: models without known sources get zeros."""
    entries = read_index(model_index, "models", "model index", rebuild="python -m zoo build (or set model_index)")
    names = sorted({s for e in entries for s in e.get("sources", [])})
    tokens = DatasetTokenDataset(tokens_dir, split=split, datasets=names)
    means = {n: tokens.by_name(n)["tokens"].numpy().mean(0) for n in names}
    out = {}
    for e in entries:
        if e.get("sources"):
            v = np.mean([means[s] for s in e["sources"]], axis=0)
            out[str(e["id"])] = (v / max(np.linalg.norm(v), 1e-12)).astype(np.float32)
    return out
