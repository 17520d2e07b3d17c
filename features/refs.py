"""Which models and datasets the ground truth covers: names, where they are, and their fingerprints.

`--models` items: a JSON model index (`{"models": [{"id", "path", ...}]}`, paths relative to its
folder), a local model folder, or a hub id. `--datasets` items: a synthetic dataset index
(`index.json`, or a folder holding one: its target datasets), a local dataset folder, or a hub
name. A fingerprint changes when the model or dataset does, so cached pair results are redone.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from dataloader.synthetic import META_FILE as DATA_MARKER
from utils.artifacts import read_json, read_safetensors_header
from utils.errors import ZooRankError
from utils.hashing import stable_hash
from utils.index import read_index

WEIGHT_GLOBS = ("*.safetensors", "pytorch_model*.bin", "*.safetensors.index.json")
# written by the zoo's pretraining into every model folder; its spec_hash is the model's fingerprint
MODEL_MARKER = "zoorank_model.json"


@dataclass(frozen=True)
class Ref:
    """A model or a dataset: `id` names it in the matrix, `source` is a hub id or a local folder."""

    id: str
    source: str
    fingerprint: str
    arch: str | None = None  # a bare weights file: the timm architecture it is loaded into
    image_size: int | None = None  # such a model's input side (default: timm's for the architecture)


def _looks_local(item: str) -> bool:
    # same rule as the hf dataset loader: "org/name" is a hub id, "./x", "/x", "~/x", "a/b/c" are paths
    return item.startswith((".", "/", "~")) or item.count("/") > 1


def _files_digest(folder: Path, names: list[Path]) -> str:
    stats = [(str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(names)]
    return stable_hash(stats)


def _marker_hash(path: Path) -> str | None:
    try:
        return str(json.loads(path.read_text(encoding="utf-8"))["spec_hash"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def weights_ref(model_id: str, path: Path, arch: str | None, image_size: int | None = None) -> Ref:
    """A bare .safetensors file (a timm model): built as `arch`, so that has to be given."""
    if path.suffix != ".safetensors":
        raise ZooRankError(f"model '{model_id}': {path} is a file; give a model folder, or a .safetensors file "
                           "with its timm arch")
    if not arch:
        raise ZooRankError(f"model '{model_id}': {path.name} is a bare weights file; name its timm architecture "
                           "(\"arch\" in the index, arch = ... in a world file)")
    read_safetensors_header(path, what=f"model '{model_id}': weights", rebuild="replace the file")
    return Ref(model_id, str(path.resolve()), _files_digest(path.parent, [path]) + f":{arch}", arch, image_size)


def model_ref(model_id: str, source: str, arch: str | None = None, image_size: int | None = None) -> Ref:
    """Checks a local model folder (config.json and weights) or weights file; hub ids are checked when loaded."""
    path = Path(source).expanduser()
    if not path.exists():
        if _looks_local(source):
            raise ZooRankError(f"model '{model_id}': folder {source} does not exist; check the path")
        return Ref(model_id, source, f"hub:{source}")
    if path.is_file():
        return weights_ref(model_id, path, arch, image_size)
    if not (path / "config.json").is_file():
        raise ZooRankError(f"model '{model_id}': {path} has no config.json; is it a transformers model folder?")
    weights = [p for g in WEIGHT_GLOBS for p in path.glob(g)]
    if not weights:
        raise ZooRankError(f"model '{model_id}': {path} has no weights (*.safetensors or pytorch_model.bin); "
                           "rebuild or re-download it")
    fix = "replace the folder (python -m zoo build rebuilds the zoo's own models)"
    read_json(path / "config.json", what=f"model '{model_id}': config", rebuild=fix)
    for file in weights:
        if file.suffix == ".safetensors":  # a truncated file is found here, before any pair is run
            read_safetensors_header(file, what=f"model '{model_id}': weights", rebuild=fix)
    digest = _marker_hash(path / MODEL_MARKER) or _files_digest(path, weights + [path / "config.json"])
    return Ref(model_id, str(path.resolve()), digest)


def dataset_ref(name: str, source: str) -> Ref:
    path = Path(source).expanduser()
    if not path.exists():
        if _looks_local(source):
            raise ZooRankError(f"dataset '{name}': folder {source} does not exist; check the path")
        return Ref(name, source, f"hub:{source}")
    digest = _marker_hash(path / DATA_MARKER) or _files_digest(path, [p for p in path.rglob("*") if p.is_file()])
    return Ref(name, str(path.resolve()), digest)


def _index_entries(path: Path, key: str, what: str) -> list[dict]:
    """The entries of a JSON index ({key: [...]} or a plain list); strings become {"id": s}."""
    entries = [{"id": e} if isinstance(e, str) else e for e in read_index(path, key, what)]
    name = "id" if key == "models" else "name"
    for e in entries:
        if not isinstance(e, dict) or not e.get(name):
            raise ZooRankError(f"{path}: every {what} entry needs a \"{name}\", got {e!r:.80}")
    return entries


def parse_models(items: list[str]) -> list[Ref]:
    """Model refs, JSON indexes expanded (paths relative to the index's folder); ids must be unique."""
    refs = []
    for item in filter(None, (i.strip() for i in items)):
        path = Path(item).expanduser()
        if path.suffix == ".json" and path.is_file():
            for e in _index_entries(path, "models", "model index"):
                src = str(e.get("path") or e.get("source") or e["id"])
                local = path.parent / src
                size = e.get("image_size") if isinstance(e.get("image_size"), int) else None
                refs.append(model_ref(str(e["id"]), str(local) if local.exists() else src, e.get("arch"), size))
        else:
            refs.append(model_ref(_name(item), item))
    return _unique(refs, "model")


def parse_datasets(items: list[str], roles: tuple[str, ...] = ("target",)) -> list[Ref]:
    """Dataset refs; a synthetic index (or its folder) contributes its datasets of `roles` (its targets)."""
    refs = []
    for item in filter(None, (i.strip() for i in items)):
        path = Path(item).expanduser()
        index = path if path.suffix == ".json" else path / "index.json"
        if index.is_file() and not (path / "dataset_dict.json").exists():
            refs += [dataset_ref(e["name"], _beside(index, str(e.get("path", e["name"]))))
                     for e in _index_entries(index, "datasets", "dataset index") if e.get("role", "target") in roles]
        else:
            refs.append(dataset_ref(_name(item), item))
    return _unique(refs, "dataset")


def _beside(index: Path, src: str) -> str:
    """An index entry's path, relative to the index's folder; a hub name (org/name) not there stays as written."""
    local = index.parent / src
    return str(local) if local.exists() or _looks_local(src) or "/" not in src else src


def _name(item: str) -> str:
    """A local folder is named by its last component, a hub id by itself ("org/name")."""
    path = Path(item).expanduser()
    return path.name if path.exists() or _looks_local(item) else item


def _unique(refs: list[Ref], what: str) -> list[Ref]:
    seen: set[str] = set()
    for r in refs:
        if r.id in seen:
            raise ZooRankError(f"{what} '{r.id}' is listed twice; names must be unique")
        seen.add(r.id)
    return refs
