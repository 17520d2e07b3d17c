"""Dataset families and the split by family: whole families are held out, so nothing of a test dataset
reaches training."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from utils.errors import ZooRankError
from utils.index import read_index


def read_families(path: Path | None, datasets: Sequence[str]) -> dict[str, str]:
    """dataset -> family from a JSON index (`datasets[].name/family`); without one, each dataset is its own family."""
    if path is None:
        return {d: d for d in datasets}
    entries = read_index(path, "datasets", "dataset index", rebuild="python -m zoo build (or set dataset_index)")
    try:
        return {e["name"]: e.get("family", e["name"]) for e in entries}
    except (KeyError, TypeError, AttributeError) as err:
        raise ZooRankError(f"dataset index {path}: an entry without a 'name' ({err}); fix it or rebuild it "
                           "(python -m zoo build)") from None


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
