"""JSON indexes of models or datasets: `{"models": [...]}` / `{"datasets": [...]}` or a plain JSON list."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from utils.errors import ZooRankError


def read_index(path: str | Path, key: str, what: str) -> list[Any]:
    """The entries under `key` (or the whole file when it is a list). `what` names the file in errors,
    e.g. "model index"; an unreadable file or another shape is a ZooRankError naming the file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise ZooRankError(f"{path}: cannot read the {what} ({err})") from None
    entries = data.get(key) if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise ZooRankError(f"{path}: expected {{\"{key}\": [...]}} or a JSON list of {key}")
    return entries
