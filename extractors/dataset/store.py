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


def read_tokens(path: Path) -> dict[str, Any]:
    try:
        with np.load(path, allow_pickle=False) as data:
            out = {k: data[k] for k in ("tokens", "token_types", "token_labels", "class_counts")}
            out["class_names"] = data["class_names"].tolist()
            out["metadata"] = json.loads(str(data["metadata"]))
    except (OSError, KeyError, ValueError, EOFError) as err:
        raise ZooRankError(f"{path}: not a readable token file ({err}); delete it to recompute") from None
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
