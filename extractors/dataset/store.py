"""Token files: one NPZ per (dataset, split) -- the shards -- and an index rebuilt from them.

    <out>/tokens/<safe name>-<hash>__<split>.npz   tokens [T, D], token_types [T], token_labels [T],
                                                  class_names [K], class_counts [K], metadata (JSON)
    <out>/index.json                              every finished (dataset, split), sorted
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from extractors.store import file_stem, index_lock
from utils import log
from utils.artifacts import damaged, read_npz
from utils.errors import ZooRankError
from utils.io import save_npz, write_json

logger = log.get_logger(__name__)
FORMAT = "zoorank.dataset_tokens/1"


def token_path(out: Path, dataset: str, split: str) -> Path:
    return out / "tokens" / f"{file_stem(dataset)}__{split}.npz"


def write_tokens(out: Path, dataset: str, split: str, result: dict[str, Any], metadata: dict[str, Any]) -> Path:
    path = token_path(out, dataset, split)
    meta = {"dataset": dataset, "split": split, "num_tokens": int(len(result["tokens"])),
            "dim": int(result["tokens"].shape[1]), "num_images": int(result["num_images"]),
            "labelled": bool(result["labelled"]), **metadata}
    save_npz(path, tokens=result["tokens"], token_types=result["token_types"], token_labels=result["token_labels"],
             class_names=np.array(result["class_names"], dtype=str), class_counts=result["class_counts"],
             metadata=np.array(json.dumps(meta)))
    return path


TOKEN_KEYS = {"tokens": ("f", 2), "token_types": ("iu", 1), "token_labels": ("iu", 1), "class_counts": ("iu", 1),
              "class_names": ("U", 1), "metadata": "json"}
REEXTRACT = "delete it and re-run python extract_dataset_tokens.py"


def read_tokens(path: Path) -> dict[str, Any]:
    """tokens [T, D], token_types [T], token_labels [T], class_counts [K], class_names (list), metadata (dict)."""
    out = read_npz(path, TOKEN_KEYS, what="dataset token file", rebuild=REEXTRACT,
                   same_rows=("tokens", "token_types", "token_labels"))
    if not isinstance(out["metadata"], dict):
        raise damaged(path, "dataset token file", "'metadata' is not a JSON object", REEXTRACT)
    out["class_names"] = out["class_names"].tolist()
    return out


def rebuild_index(out: Path) -> dict[str, Any]:
    with index_lock(out):
        entries = []
        for path in sorted((out / "tokens").glob("*.npz")):
            try:
                meta = read_tokens(path)["metadata"]
            except ZooRankError as err:
                logger.warning("index: skipping %s", err)
                continue
            entries.append({"file": str(path.relative_to(out)), **meta})
        entries.sort(key=lambda e: (e["dataset"], e["split"]))
        index = {"format": FORMAT, "count": len(entries), "datasets": entries}
        write_json(out / "index.json", index)
    return index
