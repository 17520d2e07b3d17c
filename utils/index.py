"""JSON indexes of models or datasets: `{"models": [...]}` / `{"datasets": [...]}` or a plain JSON list."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from utils.artifacts import read_json
from utils.errors import ZooRankError


def read_index(path: str | Path, key: str, what: str, rebuild: str | None = None) -> list[Any]:
    """The entries under `key` (or the whole file when it is a list). `what` names the file in errors,
    e.g. "model index"; an unreadable file or another shape is a ZooRankError naming the file."""
    path = Path(path)
    data = read_json(path, what=what, rebuild=rebuild, expect=None)
    entries = data.get(key) if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise ZooRankError(f"{path}: expected {{\"{key}\": [...]}} or a JSON list of {key}")
    return entries
