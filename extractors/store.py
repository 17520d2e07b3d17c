"""The output folder: one NPZ per model, failure notes, the layout and an index rebuilt from the NPZs.

    <out>/vectors/<safe id>-<hash>.npz   vector float32 [D], names [T], shapes int64 [T, K] (-1 padded),
                                         roles [T], metadata (a JSON string)
    <out>/failed/<safe id>-<hash>.json   why the last attempt failed (removed on success)
    <out>/layout.json                    the name of every vector dimension
    <out>/index.json                     every finished model (and failure), sorted by id

Every file is written atomically. Shards of a job array share the folder: each writes its own NPZs,
then rebuilds index.json from all NPZs present under an exclusive lock, so the last shard to finish
leaves a complete index and concurrent shards never tear it.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from utils import log
from utils.artifacts import damaged, read_npz
from utils.errors import ZooRankError
from utils.hashing import text_hash
from utils.io import save_npz, write_json

logger = log.get_logger("extractors.store")
FORMAT = "zoorank.model_vectors/1"
INDEX, LAYOUT, LOCK = "index.json", "layout.json", ".index.lock"


def file_stem(model_id: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", model_id.replace("/", "__")).strip("._")[:100] or "model"
    return f"{safe}-{text_hash(model_id, 8, 'sha1')}"


def vector_path(out: Path, model_id: str) -> Path:
    return out / "vectors" / f"{file_stem(model_id)}.npz"


def failure_path(out: Path, model_id: str) -> Path:
    return out / "failed" / f"{file_stem(model_id)}.json"


def write_vector(path: Path, vector: np.ndarray, names: Sequence[str], shapes: Sequence[tuple[int, ...]],
                 roles: Sequence[str], metadata: dict[str, Any]) -> None:
    width = max((len(s) for s in shapes), default=0)
    shape_arr = np.full((len(shapes), width), -1, dtype=np.int64)
    for i, s in enumerate(shapes):
        shape_arr[i, : len(s)] = s
    save_npz(path, vector=np.asarray(vector, dtype=np.float32), names=np.array(list(names), dtype=str),
             shapes=shape_arr, roles=np.array(list(roles), dtype=str), metadata=np.array(json.dumps(metadata)))


VECTOR_KEYS = {"vector": ("f", 1), "names": ("U", 1), "shapes": ("iu", 2), "roles": ("U", 1)}
REEXTRACT = "delete it and re-run python extract_model_vectors.py (or recommend.py add-model for an added model)"


def read_vector(path: Path, with_arrays: bool = True) -> dict[str, Any]:
    """{"metadata": {...}} plus vector, names, shapes (list of tuples), roles when `with_arrays`."""
    keys = {"metadata": "json", **(VECTOR_KEYS if with_arrays else {})}
    data = read_npz(path, keys, what="model vector file", rebuild=REEXTRACT, finite=False,
                    same_rows=("names", "shapes", "roles"))
    if not isinstance(data["metadata"], dict) or not isinstance(data["metadata"].get("id"), str):
        raise damaged(path, "model vector file", "'metadata' is not a JSON object with the model's 'id'", REEXTRACT)
    out: dict[str, Any] = {"metadata": data["metadata"]}
    if with_arrays:
        out["vector"] = data["vector"]
        out["names"] = data["names"].tolist()
        out["shapes"] = [tuple(int(v) for v in row if v >= 0) for row in data["shapes"]]
        out["roles"] = data["roles"].tolist()
    if with_arrays and not np.isfinite(out["vector"]).all():
        raise ZooRankError(f"{path}: the vector of model '{out['metadata'].get('id')}' has NaN or inf values; "
                           "delete the file and extract it again")
    return out


def record_failure(out: Path, model_id: str, message: str) -> None:
    write_json(failure_path(out, model_id), {"id": model_id, "error": message})


def clear_failure(out: Path, model_id: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        failure_path(out, model_id).unlink()


@contextlib.contextmanager
def index_lock(out: Path) -> Iterator[None]:
    """Exclusive advisory lock on <out>/.index.lock (a no-op where the filesystem has no locks)."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / LOCK, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX)
        except OSError as err:  # e.g. some network filesystems
            logger.warning("cannot lock %s (%s); rebuilding the index without a lock", out / LOCK, err)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                fcntl.flock(fh, fcntl.LOCK_UN)


def rebuild_index(out: Path) -> dict[str, Any]:
    """Rewrite <out>/index.json from the NPZs and failure notes present; returns the index."""
    with index_lock(out):
        models, failed = [], []
        for path in sorted((out / "vectors").glob("*.npz")):
            try:
                meta = read_vector(path, with_arrays=False)["metadata"]
            except ZooRankError as err:
                logger.warning("index: skipping %s", err)
                continue
            models.append({"file": str(path.relative_to(out)), **meta})
        for path in sorted((out / "failed").glob("*.json")):
            with contextlib.suppress(OSError, json.JSONDecodeError):
                failed.append(json.loads(path.read_text()))
        models.sort(key=lambda m: m["id"])
        failed.sort(key=lambda m: str(m.get("id")))
        index = {"format": FORMAT, "count": len(models), "layout": LAYOUT, "models": models, "failed": failed}
        write_json(out / INDEX, index)
    return index


def load_vectors(out: str | os.PathLike, ids: Sequence[str] | None = None) -> tuple[list[str], np.ndarray]:
    """(ids, float32 [N, D]) of the finished models in <out> (all, sorted by id, or `ids` in order)."""
    out = Path(out)
    if ids is None:
        ids = sorted(read_vector(p, with_arrays=False)["metadata"]["id"] for p in (out / "vectors").glob("*.npz"))
    missing = [i for i in ids if not vector_path(out, i).is_file()]
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise ZooRankError(f"{out}: no vectors for {', '.join(map(repr, missing[:3]))}{more}; run the extraction first")
    vectors = [read_vector(vector_path(out, i))["vector"] for i in ids]
    if len({v.shape for v in vectors}) > 1:
        raise ZooRankError(f"{out}: vectors of different sizes; re-extract with one [vectorizer] setting")
    return list(ids), (np.stack(vectors) if vectors else np.zeros((0, 0), dtype=np.float32))
