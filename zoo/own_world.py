"""`python -m zoo prepare --world my_world.ini`: the first stage of a world the user describes.

Checks what config/world_file.py cannot without reading files: every model loads (a folder, a hub id
or a timm weights file; its extractor exists), every target dataset has a labelled train and test split
with at least two classes, every probe dataset opens. Then writes the world's indexes (models,
target datasets with their families, probe datasets) below <artifacts>/worlds/<name>/world/, which
every later stage reads, and world.json (what recommend.py --world NAME needs). A model or dataset
whose fingerprint changed since the last run, or that left the world, loses its model vector and
dataset tokens, so the extraction stages redo exactly those; checks are cached by fingerprint too.
"""
from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

import torch

from config.layout import Layout
from config.world_file import WorldFile
from config.world_plan import world_overrides
from extractors import EXTRACTOR_REGISTRY
from extractors.dataset.store import token_path
from extractors.specs import load_index
from extractors.store import clear_failure, vector_path
from features.handle import ModelHandle
from features.images import open_split
from features.refs import Ref, dataset_ref, model_ref
from utils import io
from utils.artifacts import read_json
from utils.errors import ConfigError, RegistryError, ZooRankError
from utils.log import get_logger

logger = get_logger(__name__)


def _fix(wf: WorldFile, kind: str, item: str, err: Exception) -> ZooRankError:
    text = str(err.args[0] if err.args else err).rstrip(".")
    return ZooRankError(f"{text}; fix or remove [{kind} {item}] in {wf.path.name}")


def model_entries(wf: WorldFile) -> list[dict[str, Any]]:
    """The world file's models, then the entries of its JSON indexes (paths resolved)."""
    entries = [dict(m) for m in wf.models]
    for index in wf.model_indexes:
        for spec in load_index(Path(index)):
            entries.append({"id": spec.id, "path": spec.source, **spec.options,
                            **({"extractor": spec.extractor} if spec.extractor else {})})
    for e in entries:
        if e.get("extractor"):
            try:
                e["extractor"] = EXTRACTOR_REGISTRY.canonical(e["extractor"])
            except RegistryError as err:
                raise ConfigError(f"{wf.path.name} [model {e['id']}] extractor: {err.args[0]}") from None
    return entries


def _refs(wf: WorldFile, entries: list[dict[str, Any]]) -> tuple[list[Ref], list[Ref], list[Ref]]:
    """The refs of the world's models and datasets (folders and weights files checked, names unique)."""
    seen: set[str] = set()
    models, targets, probes = [], [], []
    try:
        for e in entries:
            if e["id"] in seen:
                raise ZooRankError(f"model '{e['id']}' is listed twice (a [model] section and a model index, or two "
                                   "indexes); ids must be unique: rename or remove one")
            seen.add(e["id"])
            size = e.get("image_size") if isinstance(e.get("image_size"), int) else None
            models.append(model_ref(e["id"], str(e["path"]), e.get("arch"), size))
        targets = [dataset_ref(d["name"], d["path"]) for d in wf.targets]
        probes = [dataset_ref(d["name"], d["path"]) for d in wf.probes]
    except ZooRankError as err:
        raise ZooRankError(f"{err.args[0]}; fix it in {wf.path.name}") from None
    return models, targets, probes


def write_indexes(wf: WorldFile, layout: Layout, entries: list[dict[str, Any]]) -> None:
    """What every later stage reads: models, target datasets (with families), probe datasets."""
    world = layout.world
    io.write_json(world.models_index, {"world": wf.name, "models": entries})
    io.write_json(world.datasets_index, {"world": wf.name, "datasets": wf.targets})
    io.write_json(world.probes_index, {"world": wf.name, "datasets": wf.probes})


def check_inputs(wf: WorldFile, models: list[Ref], targets: list[Ref], probes: list[Ref], gt: Any, loader: Any,
                 checked: dict[str, str]) -> dict[str, str]:
    """Load every model and open every dataset not checked before with the same fingerprint."""
    ok = {}
    for ref in models:
        if checked.get(f"model:{ref.id}") != ref.fingerprint:
            handle = ModelHandle(ref, torch.device("cpu"))
            try:
                _ = handle.model, handle.processor
            except ZooRankError as err:
                raise _fix(wf, "model", ref.id, err) from None
        ok[f"model:{ref.id}"] = ref.fingerprint
    for refs, splits in ((targets, (gt.train_split, gt.test_split)), (probes, (gt.train_split,))):
        for ref in refs:
            if checked.get(f"dataset:{ref.id}") != ref.fingerprint:
                try:
                    for split in splits:
                        open_split(ref.source, split, loader)
                except ZooRankError as err:
                    raise _fix(wf, "dataset", ref.id, err) from None
            ok[f"dataset:{ref.id}"] = ref.fingerprint
    return ok


def invalidate(previous: dict[str, str], current: dict[str, str], vectors: Path, tokens: Path) -> list[str]:
    """Remove the model vectors and dataset tokens of what changed or left the world; returns their names."""
    gone = []
    for key, fp in previous.items():
        if current.get(key) == fp:
            continue
        kind, _, name = key.partition(":")
        if kind == "model":
            with contextlib.suppress(FileNotFoundError):
                vector_path(vectors, name).unlink()
            clear_failure(vectors, name)
        else:
            stem = token_path(tokens, name, "*").name
            for path in token_path(tokens, name, "x").parent.glob(stem):
                path.unlink()
        gone.append(name)
    return gone


def prepare_world(wf: WorldFile, layout: Layout, gt: Any, loader: Any, vectors: Path, tokens: Path) -> dict[str, Any]:
    """Check the world's inputs, write its indexes, drop what changed; returns the summary."""
    start = time.perf_counter()
    world = layout.world
    entries = model_entries(wf)
    models, targets, probes = _refs(wf, entries)
    previous = {}
    if world.inputs.is_file():
        with contextlib.suppress(ZooRankError):
            previous = read_json(world.inputs, what="world inputs", rebuild="every input is checked again")
    current = check_inputs(wf, models, targets, probes, gt, loader, previous)
    # only a world that passed every check replaces the last one's indexes (a failed run changes nothing)
    write_indexes(wf, layout, entries)
    redo = invalidate(previous, current, vectors, tokens)
    io.write_json(world.inputs, current)
    io.write_json(world.record, {"world_file": str(wf.path), "name": wf.name,
                                 "overrides": world_overrides(wf, layout)})
    summary = {"models": len(models), "targets": len(targets), "families": len(wf.families()), "probes": len(probes),
               "checked": sum(previous.get(k) != v for k, v in current.items()), "redo": redo,
               "seconds": round(time.perf_counter() - start, 2)}
    io.write_json(world.root / "summary.json", summary)
    logger.info("world '%s': %d models, %d target datasets in %d families, %d probe datasets (%d checked now, %d "
                "changed) in %.1f s", wf.name, len(models), len(targets), summary["families"], len(probes),
                summary["checked"], len(redo), summary["seconds"])
    return summary
