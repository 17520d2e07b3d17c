"""A world the user describes: their candidate models and datasets in one INI file (`--world my_world.ini`).

    [world]               name, the CLIP for dataset tokens, the ground-truth method, images per class
    [model <id>]          one candidate: source (hub id, folder or weights file), optional extractor, arch, image_size
    [dataset <name>]      one dataset: source (hub name or folder), family, role (target | probe)
    [settings]            any other config value: section.key = value (as --set)

config/worlds/example_world.ini is the commented example; config/world_plan.py turns a world into the
--set values of its stages. Everything here is checked without reading a model or a dataset (unknown
keys, missing fields, duplicate ids, families); `python -m zoo prepare` then loads every model and opens
every dataset. Relative paths resolve against the world file's folder.
"""
from __future__ import annotations

import configparser
import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from utils.errors import ConfigError

WORLD_KEYS = {  # key: default (None: required)
    "name": None,
    "model_indexes": "",  # JSON model indexes {"models": [{"id", "path", "extractor", ...}]}, comma-separated
    "clip_model": None, "clip_pretrained": None, "clip_model_config": "none",
    "method": "linear_probe", "train_per_class": "0", "test_per_class": "0", "token_per_class": "16",
    "val_families": "",  # the final ranker's early-stopping families; empty: the last family by name
}
MODEL_KEYS = {"source": None, "extractor": "", "arch": "", "image_size": "0"}
DATASET_KEYS = {"source": None, "family": "", "role": "target"}
ROLES = ("target", "probe")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
HELP = "sections: [world], [settings], [model <id>], [dataset <name>]; see config/worlds/example_world.ini"


@dataclass(frozen=True)
class WorldFile:
    path: Path
    name: str
    options: dict[str, str]  # [world], defaults filled in, paths resolved
    models: list[dict[str, Any]]  # {"id", "path", "extractor"?, "arch"?, "image_size"?}
    model_indexes: list[str]
    datasets: list[dict[str, Any]]  # {"name", "path", "family", "role"}
    settings: list[str] = field(default_factory=list)  # section.key=value

    @property
    def targets(self) -> list[dict[str, Any]]:
        return [d for d in self.datasets if d["role"] == "target"]

    @property
    def probes(self) -> list[dict[str, Any]]:
        return [d for d in self.datasets if d["role"] == "probe"]

    def families(self) -> list[str]:
        return sorted({d["family"] for d in self.targets})

    def content(self) -> dict[str, Any]:
        """What the world stage's cache key hashes (with the inputs' fingerprints)."""
        return {"name": self.name, "options": self.options, "models": self.models, "indexes": self.model_indexes,
                "datasets": self.datasets, "settings": self.settings}


def _where(path: Path, section: str) -> str:
    return f"{path.name} [{section}]"


def _keys(ini: configparser.ConfigParser, section: str, allowed: dict[str, str | None], path: Path) -> dict[str, str]:
    got = dict(ini.items(section, raw=True))
    for key in got:
        if key not in allowed:
            match = difflib.get_close_matches(key, list(allowed), n=1, cutoff=0.5)
            hint = f"did you mean '{match[0]}'?" if match else f"keys: {', '.join(allowed)}"
            raise ConfigError(f"{_where(path, section)}: unknown key '{key}'; {hint}")
    for key, default in allowed.items():
        if default is None and not got.get(key, "").strip():
            raise ConfigError(f"{_where(path, section)}: missing '{key}'; add `{key} = ...` to the section")
    return {k: os.path.expandvars(got.get(k, d or "").strip()) for k, d in allowed.items()}


def _local(value: str, base: Path) -> str:
    """A path when it looks like one or exists beside the world file; otherwise a hub id, as written."""
    if not value or value.lower() == "none":
        return value
    path = Path(value).expanduser()
    if not path.is_absolute() and (value.startswith((".", "~")) or (base / path).exists()):
        path = base / path
    return str(path.resolve()) if path.is_absolute() else value


def _int(value: str, where: str, key: str) -> int:
    try:
        out = int(value)
    except ValueError:
        raise ConfigError(f"{where}: {key} must be a whole number, got '{value}'") from None
    if out < 0:
        raise ConfigError(f"{where}: {key} must be >= 0, got {out}")
    return out


def split_list(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def read_world_file(path: str | os.PathLike) -> WorldFile:
    """Parse and check a world file; ConfigError naming the section and key (or item) otherwise."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ConfigError(f"world file {path} not found; write one (see config/worlds/example_world.ini)")
    ini = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=(";", "#"), strict=True)
    ini.optionxform = str
    try:
        ini.read(path, encoding="utf-8")
    except configparser.DuplicateSectionError as err:
        raise ConfigError(f"{path.name}: [{err.section}] is listed twice (line {err.lineno}); ids and names must be "
                          "unique: rename or remove one") from None
    except configparser.DuplicateOptionError as err:
        raise ConfigError(f"{path.name} [{err.section}]: '{err.option}' is set twice (line {err.lineno}); keep one") from None
    except configparser.Error as err:
        raise ConfigError(f"{path.name}: not a valid INI file ({str(err).splitlines()[0]})") from None
    base = path.parent.resolve()
    if not ini.has_section("world"):
        raise ConfigError(f"{path.name}: missing section [world]; {HELP}")
    opts = _keys(ini, "world", WORLD_KEYS, path)
    if not NAME.match(opts["name"]):
        raise ConfigError(f"{_where(path, 'world')}: name '{opts['name']}' must be letters, digits, '.', '_', '-' "
                          "(it names the world's folder)")
    for key in ("train_per_class", "test_per_class", "token_per_class"):
        _int(opts[key], _where(path, "world"), key)
    for key in ("clip_pretrained", "clip_model_config"):
        opts[key] = _local(opts[key], base)
    models, datasets, settings, seen = [], [], [], {}
    for section in ini.sections():
        kind, _, item = section.partition(" ")
        item = item.strip()
        if section == "world":
            continue
        if section == "settings":
            for key, value in ini.items(section, raw=True):
                if "." not in key:
                    raise ConfigError(f"{_where(path, section)}: '{key}' must be section.key (e.g. transformer.epochs)")
                settings.append(f"{key}={value.strip()}")
            continue
        if kind not in ("model", "dataset") or not item:
            raise ConfigError(f"{path.name}: unknown section [{section}]; {HELP}")
        if not NAME.match(item.replace("/", "_")):
            raise ConfigError(f"{path.name}: [{section}]: '{item}' may use letters, digits, '.', '_', '-', '/'")
        if (kind, item) in seen:
            raise ConfigError(f"{path.name}: {kind} '{item}' is listed twice ([{seen[(kind, item)]}] and [{section}]); "
                              "ids and names must be unique")
        seen[(kind, item)] = section
        where = _where(path, section)
        if kind == "model":
            v = _keys(ini, section, MODEL_KEYS, path)
            entry: dict[str, Any] = {"id": item, "path": _local(v["source"], base)}
            if v["extractor"]:
                entry["extractor"] = v["extractor"]
            if v["arch"]:
                entry["arch"] = v["arch"]
            if _int(v["image_size"], where, "image_size"):
                entry["image_size"] = int(v["image_size"])
            models.append(entry)
        else:
            v = _keys(ini, section, DATASET_KEYS, path)
            if v["role"] not in ROLES:
                raise ConfigError(f"{where}: role '{v['role']}' is not one of {', '.join(ROLES)}")
            if v["role"] == "target" and not v["family"]:
                raise ConfigError(f"{where}: missing 'family'; every target dataset needs one (families are held out "
                                  "whole in the benchmark)")
            datasets.append({"name": item, "path": _local(v["source"], base), "family": v["family"] or item,
                             "role": v["role"]})
    indexes = [_local(i, base) for i in split_list(opts["model_indexes"])]
    for index in indexes:
        if not Path(index).is_file():
            raise ConfigError(f"{_where(path, 'world')}: model index {index} not found; fix model_indexes")
    if not models and not indexes:
        raise ConfigError(f"{path.name}: no models; add a [model <id>] section with source = ... (or model_indexes)")
    wf = WorldFile(path.resolve(), opts["name"], opts, models, indexes, datasets, settings)
    _check_families(wf)
    return wf


def _check_families(wf: WorldFile) -> None:
    members: dict[str, list[str]] = {}
    for d in wf.targets:
        members.setdefault(d["family"], []).append(d["name"])
    for family, names in sorted(members.items()):
        if len(names) < 2:
            raise ConfigError(f"{wf.path.name}: family '{family}' has a single dataset ('{names[0]}'); give it a "
                              "second dataset or move that dataset to another family (a held-out family needs 2)")
    if len(members) < 3:
        raise ConfigError(f"{wf.path.name}: {len(members)} families of target datasets ({', '.join(sorted(members))}); "
                          "the benchmark holds out whole families and needs at least 3 (test, validation, training)")
    for fam in split_list(wf.options["val_families"]):
        if fam not in members:
            raise ConfigError(f"{wf.path.name} [world]: val_families: unknown family '{fam}'; "
                              f"families: {', '.join(sorted(members))}")
