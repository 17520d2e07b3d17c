"""Which models to vectorize: model lists and JSON indexes.

An item of `--models` / [extractor] models is a hub id, a local folder or file, an open_clip name, or a
JSON index: `{"models": [{"id": ..., "path": ..., ...}]}` or a plain list of such entries (or of
strings). An entry's "id" names the model in the outputs; "path" (or "source") says where it is (a
hub id, or a path resolved against the index's folder; default: the id); "extractor" overrides
[extractor] name; "arch", "pretrained", "task", "revision", "backend", "state_dict_key" are passed to
the extractor; the whole entry is kept as metadata.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from extractors.base import ModelSpec
from utils.errors import ZooRankError
from utils.index import read_index

OPTION_KEYS = ("arch", "pretrained", "task", "revision", "backend", "state_dict_key")


def _entry(entry: Any, base: Path | None, where: str) -> ModelSpec:
    if isinstance(entry, str):
        return ModelSpec(id=entry, source=_resolve(entry, base))
    if not isinstance(entry, Mapping) or not isinstance(entry.get("id"), str) or not entry["id"].strip():
        raise ZooRankError(f"{where}: every model entry needs a non-empty string \"id\", got {entry!r:.80}")
    source = entry.get("path") or entry.get("source") or entry["id"]
    options = {k: entry[k] for k in OPTION_KEYS if entry.get(k) is not None}
    if isinstance(options.get("pretrained"), str) and base is not None:
        options["pretrained"] = _resolve(options["pretrained"], base)
    return ModelSpec(id=entry["id"], source=_resolve(str(source), base), extractor=entry.get("extractor"),
                     options=options, metadata=dict(entry))


def _resolve(source: str, base: Path | None) -> str:
    """A path relative to the index's folder when it exists there; anything else stays as written."""
    if base is not None and not Path(source).is_absolute() and (base / source).exists():
        return str(base / source)
    return source


def load_index(path: Path) -> list[ModelSpec]:
    entries = read_index(path, "models", "model index")
    return [_entry(e, path.parent, f"{path.name} models[{i}]") for i, e in enumerate(entries)]


def parse_models(items: Iterable[str]) -> list[ModelSpec]:
    """Model specs from CLI/config items (JSON indexes expanded); ids must be unique."""
    specs: list[ModelSpec] = []
    for item in items:
        item = str(item).strip()
        if not item:
            continue
        path = Path(item).expanduser()
        specs += load_index(path) if path.suffix == ".json" and path.is_file() else [_entry(item, None, item)]
    seen: dict[str, int] = {}
    for i, spec in enumerate(specs):
        if spec.id in seen:
            raise ZooRankError(f"model id '{spec.id}' is listed twice (entries {seen[spec.id]} and {i}); ids must be unique")
        seen[spec.id] = i
    return specs
