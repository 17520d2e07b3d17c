"""Vectorize a list of models into an output folder: resumable, shardable, one model at a time.

A model whose NPZ exists with the same settings fingerprint is skipped (resume); one made with other
settings is an error unless `force`. A failing model raises ExtractionError ([extractor] on_error =
fail) or is noted in <out>/failed/ with a warning (skip); either way finished NPZs stay and the
index is rebuilt before returning or raising.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

from extractors import EXTRACTOR_REGISTRY
from extractors.base import ExtractionError, Extractor, ModelSpec
from extractors.store import (
    FORMAT,
    LAYOUT,
    clear_failure,
    read_vector,
    rebuild_index,
    record_failure,
    vector_path,
    write_vector,
)
from extractors.vectorizers import Vectorizer, build_vectorizer
from utils import log
from utils.errors import ZooRankError
from utils.hashing import stable_hash
from utils.io import write_json

logger = log.get_logger("extractors.runner")


@dataclasses.dataclass
class Summary:
    done: list[str] = dataclasses.field(default_factory=list)
    resumed: list[str] = dataclasses.field(default_factory=list)  # finished earlier, skipped
    failed: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (id, message)


def fingerprint(spec: ModelSpec, extractor: Extractor, vectorizer: Vectorizer) -> str:
    """Hash of the settings that shape a model's vector. A model is identified by its id, so moving
    the files (source, pretrained path) does not invalidate finished vectors."""
    options = {k: v for k, v in spec.options.items() if k != "pretrained"}
    settings = {"vectorizer": vectorizer.fingerprint(), "extractor": extractor.name,
                "extractor_settings": extractor.fingerprint(), "options": options}
    return stable_hash(settings)


def _message(spec: ModelSpec, err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    if not isinstance(err, ZooRankError):
        text = f"{type(err).__name__}: {text}"
    return text if f"'{spec.id}'" in text else f"model '{spec.id}': {text}"


def run_extraction(specs: list[ModelSpec], extractor_cfg: Any, vectorizer_cfg: Any, out: Path,
                   force: bool = False) -> Summary:
    vectorizer = build_vectorizer(vectorizer_cfg)  # unknown names fail before any work
    extractors: dict[str, Extractor] = {}
    for spec in specs:
        name = spec.extractor or extractor_cfg.name
        if name not in extractors:
            extractors[name] = EXTRACTOR_REGISTRY.get(name)(extractor_cfg)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / LAYOUT, {"vectorizer": vectorizer.name, "size": vectorizer_cfg.size, "dims": vectorizer.layout()})
    summary, todo = Summary(), []
    for spec in specs:
        extractor = extractors[spec.extractor or extractor_cfg.name]
        fp, path = fingerprint(spec, extractor, vectorizer), vector_path(out, spec.id)
        if path.is_file() and not force:
            try:
                old = read_vector(path, with_arrays=False)["metadata"].get("fingerprint")
            except ZooRankError as err:
                logger.warning("%s; recomputing it", err)
                old = None
            if old == fp:
                summary.resumed.append(spec.id)
                continue
            if old is not None:
                raise ZooRankError(
                    f"{path} holds '{spec.id}' vectorized with other settings; pass --force to recompute "
                    "or use another output folder"
                )
        todo.append((spec, extractor, fp, path))
    logger.info("%d models: %d to vectorize, %d already done", len(specs), len(todo), len(summary.resumed))
    try:
        for n, (spec, extractor, fp, path) in enumerate(todo, 1):
            start = time.perf_counter()
            try:
                result = vectorizer.vectorize(extractor.tensors(spec))
                if not result.names:
                    raise ExtractionError(f"model '{spec.id}': no floating-point tensors to vectorize")
            except Exception as err:  # any per-model failure (incl. MemoryError) is reported per model
                message = _message(spec, err)
                logger.debug("model '%s' failed", spec.id, exc_info=True)
                record_failure(out, spec.id, message)
                if extractor_cfg.on_error == "fail":
                    raise ExtractionError(message) from err
                logger.warning("skipping: %s", message)
                summary.failed.append((spec.id, message))
                continue
            seconds = time.perf_counter() - start
            meta = {
                "id": spec.id, "source": spec.source, "extractor": extractor.name, "vectorizer": vectorizer.name,
                "size": int(result.vector.size), "fingerprint": fp, "format": FORMAT, "seconds": round(seconds, 3),
                **result.info, "options": spec.options, "metadata": spec.metadata,
            }
            write_vector(path, result.vector, result.names, result.shapes, result.roles, meta)
            clear_failure(out, spec.id)
            summary.done.append(spec.id)
            logger.info("[%d/%d] %s: %d tensors, %d parameters, %.1f s", n, len(todo), spec.id,
                        result.info.get("num_tensors", 0), result.info.get("num_params", 0), seconds)
    finally:
        rebuild_index(out)
    return summary
