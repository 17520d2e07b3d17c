"""The performance-matrix file (`dataset_model_performance.json`): write, read, merge shards.

Format (stable; `load_matrix` also reads a flat `{dataset: {model_id: score}}` with an optional
`"_metadata"` key):

    {"metadata": {"format": "zoorank-performance", "metric": "accuracy", "split": "test",
                  "method": "linear_probe", "seed": 0, "preset": "default", "models": [...],
                  "datasets": [...], "settings": {...}, ...},
     "performance": {dataset: {model_id: score in [0, 1]}}}
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from utils.artifacts import read_json
from utils.errors import ZooRankError
from utils.io import write_json

FORMAT = "zoorank-performance"
CONSTANTS_FILE = Path(__file__).resolve().parent.parent / "constants" / "dataset_model_performance.json"
Performance = dict[str, dict[str, float]]


def write_matrix(path: Path, performance: Performance, metadata: dict[str, Any]) -> Path:
    write_json(path, {"metadata": {"format": FORMAT, **metadata}, "performance": performance})
    return path


def load_matrix(path: Path) -> tuple[Performance, dict[str, Any]]:
    data = read_json(path, what="performance matrix", rebuild="python -m zoo ground-truth", expect=None)
    if isinstance(data, dict) and isinstance(data.get("performance"), dict):
        return data["performance"], data.get("metadata", {})
    if isinstance(data, dict) and all(isinstance(v, dict) for v in data.values()):
        meta = data.pop("_metadata", {})
        return data, meta
    raise ZooRankError(f"{path}: not a performance matrix ({{\"performance\": {{dataset: {{model: score}}}}}})")


def shard_path(output: Path, index: int, count: int) -> Path:
    return output.with_name(f"{output.stem}.shard-{index}-of-{count}.json")


def merge_shards(output: Path, files: list[Path] | None = None) -> tuple[Performance, dict[str, Any]]:
    """Join shard files (default: the `<output>.shard-*-of-*.json` beside `output`) into one matrix.

    Every shard must come from the same models, datasets and settings, and together they must hold
    every pair; otherwise a ZooRankError says which shard or pair is missing.
    """
    files = sorted(files) if files else sorted(output.parent.glob(f"{output.stem}.shard-*-of-*.json"))
    if not files:
        raise ZooRankError(f"no shard files {output.stem}.shard-*-of-*.json in {output.parent}; "
                           "run `python -m zoo ground-truth --shard i/n` first")
    performance: Performance = {}
    first: dict[str, Any] = {}
    seen_shards = set()
    for f in files:
        perf, meta = load_matrix(f)
        key = {k: meta.get(k) for k in ("settings_hash", "models", "datasets", "preset")}
        if not first:
            first = meta
        elif key != {k: first.get(k) for k in key}:
            raise ZooRankError(f"{f}: shard of other models, datasets or settings than {files[0].name}; "
                               "merge shards of one run only")
        seen_shards.add(meta.get("shard"))
        for ds, scores in perf.items():
            performance.setdefault(ds, {}).update(scores)
    missing = [(m, d) for d in first["datasets"] for m in first["models"] if m not in performance.get(d, {})]
    if missing:
        m, d = missing[0]
        raise ZooRankError(f"merged shards miss {len(missing)} pair(s), e.g. model '{m}' on dataset '{d}' "
                           f"(shards found: {', '.join(sorted(map(str, seen_shards)))}); run the missing shards")
    ordered = {d: {m: performance[d][m] for m in first["models"]} for d in first["datasets"]}
    meta = {k: v for k, v in first.items() if k not in ("shard", "format")}
    meta["num_pairs"] = sum(len(v) for v in ordered.values())
    return ordered, meta


def spread_path(output: Path) -> Path:
    return output.with_name(f"{output.stem}.spread.json")


def finish_matrix(output: Path, performance: Performance, metadata: dict[str, Any], constants: bool = False
                  ) -> dict[str, Any]:
    """Write the matrix and its spread figures (beside it); with `constants`, also the constants/ copy."""
    from zoo.spread import matrix_spread

    write_matrix(output, performance, metadata)
    spread = matrix_spread(performance)
    write_json(spread_path(output), spread)
    if constants:
        write_matrix(CONSTANTS_FILE, performance, metadata)
    return spread
