"""Hardware profiles: one JSON per device, `{"device", "kind", "source", "torch", "settings", "models"}`.

`models` maps a model id to `{"params", "gflops", "latency_ms", "throughput", "batch_size",
"peak_memory_mb", ...}`; a value that was not measured is null (never guessed). Profiles live in
`[hardware] profiles_dir` (default `constants/hardware/`) as `<name>.json`; the name is the file stem.
"""
from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import json
from pathlib import Path
from typing import Any

from utils.errors import ZooRankError
from utils.io import write_text

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "constants" / "hardware"
METRICS = ("params", "gflops", "latency_ms", "throughput", "batch_size", "peak_memory_mb")
HUB_PREFIXES = ("hf-hub:", "hf_hub:", "timm/")


def normalize_id(model_id: str) -> str:
    """Lower-cased id without a `hf-hub:` / `timm/` prefix: "timm/ResNet50.a1_in1k" -> "resnet50.a1_in1k"."""
    key = model_id.strip().lower()
    for prefix in HUB_PREFIXES:
        key = key.removeprefix(prefix)
    return key


def without_tag(key: str) -> str:
    """timm's pretrained tag is what follows the first dot: "resnet50.a1_in1k" -> "resnet50"."""
    return key.split(".", 1)[0] if "/" not in key else key


@dataclasses.dataclass
class Profile:
    """One device's profile. `lookup(model_id)` finds a model's entry with tolerant id matching."""

    name: str
    device: str
    kind: str
    source: str
    torch: str | None = None
    settings: dict[str, Any] = dataclasses.field(default_factory=dict)
    models: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    path: Path | None = None

    def __post_init__(self) -> None:
        self._reindex()

    def _reindex(self) -> None:
        self._exact: dict[str, str] = {}
        self._untagged: dict[str, list[str]] = {}
        self._indexed = len(self.models)
        for key in self.models:
            norm = normalize_id(key)
            self._exact.setdefault(norm, key)
            self._untagged.setdefault(without_tag(norm), []).append(key)

    def match(self, model_id: str) -> str | None:
        """The profile's key for `model_id`: exact; case/`timm/`-insensitive; without the pretrained tag
        (timm tables list architectures, e.g. "resnet50" for "timm/resnet50.a1_in1k"); an untagged query
        matches a tagged entry only when exactly one entry has that architecture."""
        if model_id in self.models:
            return model_id
        if self._indexed != len(self.models):  # entries added since
            self._reindex()
        norm = normalize_id(model_id)
        if norm in self._exact:
            return self._exact[norm]
        arch = without_tag(norm)
        if arch in self._exact:
            return self._exact[arch]
        tagged = self._untagged.get(arch, [])
        return tagged[0] if arch == norm and len(tagged) == 1 else None

    def lookup(self, model_id: str, img_size: int | None = None) -> dict[str, Any] | None:
        """A copy of the model's entry (plus "profile_id": the matched key), or None when the profile has
        none. `img_size`: the row measured at that input size (timm tables list several), else None."""
        key = self.match(model_id)
        if key is None:
            return None
        entry = dict(self.models[key])
        sizes = entry.pop("sizes", None) or {}
        if img_size is not None and entry.get("img_size") != img_size:
            if str(img_size) not in sizes:
                return None
            entry.update(sizes[str(img_size)], img_size=img_size)
        entry["profile_id"] = key
        return entry

    def __contains__(self, model_id: str) -> bool:
        return self.match(model_id) is not None

    def __len__(self) -> int:
        return len(self.models)

    def to_dict(self) -> dict[str, Any]:
        return {"device": self.device, "kind": self.kind, "source": self.source, "torch": self.torch,
                "settings": self.settings, "models": self.models}

    def save(self, path: str | Path | None = None) -> Path:
        """Write atomically (a reader never sees half a file) to `path` or where it was loaded from."""
        self.path = write_profile(path or self.path or DEFAULT_DIR / f"{self.name}.json", self.to_dict())
        return self.path


def dumps_profile(data: dict[str, Any]) -> str:
    """Profile JSON with one line per model entry (small, readable diffs)."""
    head = [f"  {json.dumps(k)}: " + json.dumps(v, indent=2).replace("\n", "\n  ") for k, v in data.items()
            if k != "models"]
    rows = [f"    {json.dumps(k)}: {json.dumps(v)}" for k, v in data.get("models", {}).items()]
    head.append('  "models": {' + ("\n" + ",\n".join(rows) + "\n  }" if rows else "}"))
    return "{\n" + ",\n".join(head) + "\n}\n"


def write_profile(path: str | Path, data: dict[str, Any]) -> Path:
    """Write a profile dict atomically (a reader sees the old file or the new one, never half)."""
    path = Path(path)
    write_text(path, dumps_profile(data))
    return path


def read_profile(path: Path) -> Profile:
    """Load one profile file; a missing, unreadable or malformed file is a one-line ZooRankError."""
    if not path.is_file():
        raise ZooRankError(f"hardware profile {path} not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ZooRankError(f"hardware profile {path} is not valid JSON ({err}); re-create it with "
                           "profile_models.py or delete it") from None
    if not isinstance(data, dict) or not isinstance(data.get("device"), str) or not isinstance(data.get("models"), dict):
        raise ZooRankError(f"hardware profile {path} is malformed: expected an object with a \"device\" string "
                           "and a \"models\" object; re-create it with profile_models.py or delete it")
    bad = next((k for k, v in data["models"].items() if not isinstance(v, dict)), None)
    if bad is not None:
        raise ZooRankError(f"hardware profile {path} is malformed: models[{bad!r}] is not an object")
    return Profile(name=path.stem, device=data["device"], kind=str(data.get("kind", "cpu")),
                   source=str(data.get("source", "measured")), torch=data.get("torch"),
                   settings=dict(data.get("settings") or {}), models=data["models"], path=path)


def list_profiles(pattern: str = "*", profiles_dir: str | Path | None = None) -> list[str]:
    """Profile names (file stems) in `profiles_dir` matching a shell wildcard, case-insensitively."""
    folder = Path(profiles_dir or DEFAULT_DIR)
    names = sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []
    return [n for n in names if fnmatch.fnmatch(n.lower(), pattern.lower())]


def _device_of(path: Path) -> str | None:
    try:
        return str(json.loads(path.read_text(encoding="utf-8")).get("device", "")).lower()
    except (OSError, ValueError, AttributeError):
        return None


def load_profile(name_or_path: str | Path, profiles_dir: str | Path | None = None) -> Profile:
    """A profile by file path, by name ("rtx4090"), by device name ("NVIDIA GeForce RTX 4090", "AMD EPYC")
    or by a wildcard matching exactly one name ("*4090*"). Unknown or ambiguous: a ZooRankError listing
    the available profiles and the closest name."""
    from hardware.device import slugify

    text = str(name_or_path).strip()
    path = Path(text).expanduser()
    if text.endswith(".json") or path.is_file():
        return read_profile(path)
    folder = Path(profiles_dir or DEFAULT_DIR)
    names = list_profiles("*", folder)
    lowered = {n.lower(): n for n in names}
    for key in (text.lower(), slugify(text)):
        if key in lowered:
            return read_profile(folder / f"{lowered[key]}.json")
    matches = list_profiles(text, folder) if any(c in text for c in "*?[") else []
    if not matches:  # a device name that is not the file's slug ("NVIDIA GeForce RTX 4090" -> rtx4090.json)
        matches = [n for n in names if _device_of(folder / f"{n}.json") == text.lower()]
    if len(matches) == 1:
        return read_profile(folder / f"{matches[0]}.json")
    if len(matches) > 1:
        raise ZooRankError(f"hardware profile '{text}' matches {len(matches)} profiles "
                           f"({', '.join(matches)}); name one")
    close = [n for n in lowered if text.lower() in n] or difflib.get_close_matches(text.lower(), list(lowered), n=1,
                                                                                  cutoff=0.4)
    hint = f"; did you mean '{lowered[close[0]]}'?" if close else ""
    known = ", ".join(names) or "(none: run profile_models.py or profile_models.py import-timm)"
    raise ZooRankError(f"unknown hardware profile '{text}' in {folder}{hint} available: {known}")
