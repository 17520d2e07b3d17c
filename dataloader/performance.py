"""The ground truth the ranker learns from: `constants/dataset_model_performance.json` as {dataset: {model: score}}."""
from __future__ import annotations

import json
from pathlib import Path

from utils.errors import ZooRankError


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
