"""The ground truth the ranker learns from: `constants/dataset_model_performance.json` as {dataset: {model: score}}."""
from __future__ import annotations

import json
import math
from pathlib import Path

from utils.artifacts import damaged, read_json
from utils.errors import ZooRankError

REBUILD = "python -m zoo build"


def read_performance(path: Path) -> dict[str, dict[str, float]]:
    """{dataset: {model_id: score}} from `{"performance": {...}}` or a flat dict (keys '_...' are metadata)."""
    path = Path(path)
    if not path.is_file():
        raise ZooRankError(f"ground-truth file {path} not found; build it (python -m zoo build) or set performance_file")
    data = read_json(path, what="ground-truth file", rebuild=REBUILD)
    table = data.get("performance", data)
    if not isinstance(table, dict):
        raise damaged(path, "ground-truth file", "'performance' is not a JSON object", REBUILD)
    out: dict[str, dict[str, float]] = {}
    for d, row in table.items():
        if d.startswith("_") or d == "metadata" or not isinstance(row, dict):
            continue
        out[d] = {m: _score(path, d, m, s) for m, s in row.items()}
    return out


def _score(path: Path, dataset: str, model: str, value: object) -> float:
    """A finite number; anything else names the file, the dataset and the model (before training starts)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ZooRankError(f"ground-truth file {path}: the score of model '{model}' on dataset '{dataset}' is "
                           f"{json.dumps(value)[:40]}, not a finite number; fix that entry or rebuild the file "
                           f"({REBUILD})")
    return float(value)
