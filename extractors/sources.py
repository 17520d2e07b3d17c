"""Reading weights one tensor at a time: safetensors files (single or sharded), torch files, the hub.

Safetensors are read with `safe_open` in file-offset order; the handle is reopened every
`REOPEN_BYTES` so that the pages of finished tensors leave the process (a long-lived mmap keeps every
touched page resident). Dtypes are checked from the header before any data is read.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

from extractors.base import ExtractionError, keep_tensor
from utils.artifacts import DamagedFileError, read_safetensors_header

REOPEN_BYTES = 64 << 20
ST_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
    "BOOL": torch.bool,
}
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?$")
WEIGHT_KEYS = ("state_dict", "model_state_dict", "model", "module", "state_dict_ema", "model_ema", "ema")
Named = Iterator[tuple[str, torch.Tensor]]


def read_header(path: Path) -> dict:
    """The JSON header of a .safetensors file: name -> {dtype, shape, data_offsets}."""
    try:
        header = read_safetensors_header(path, what="weights file", rebuild="re-download or rebuild the model")
    except DamagedFileError as err:
        raise ExtractionError(str(err)) from None
    header.pop("__metadata__", None)
    return header


def stream_safetensors(files: list[Path], model_id: str, wanted: Callable[[str], bool], buffers: bool) -> Named:
    from safetensors import safe_open

    for path in files:
        header = read_header(path)
        items = sorted(((k, v) for k, v in header.items() if wanted(k)), key=lambda kv: kv[1]["data_offsets"][0])
        items = [(k, v) for k, v in items if keep_tensor(model_id, k, ST_DTYPES.get(v["dtype"], v["dtype"]), buffers)]
        handle, since = None, 0
        for name, info in items:
            nbytes = info["data_offsets"][1] - info["data_offsets"][0]
            if handle is None or since + nbytes > REOPEN_BYTES:
                handle, since = None, 0  # drop the old mapping before opening a new one
                handle = safe_open(str(path), framework="pt", device="cpu")
            since += nbytes
            yield name, handle.get_tensor(name)
        handle = None


def pick_state_dict(obj: object, key: str | None, where: str) -> dict:
    """The tensors of a loaded checkpoint: obj[key], or a guessed sub-dict, flattened to dotted names."""
    if key is not None:
        if not isinstance(obj, dict) or key not in obj:
            raise ExtractionError(f"{where}: has no key '{key}' (set [extractor] state_dict_key)")
        obj = obj[key]
    while isinstance(obj, dict) and not any(isinstance(v, torch.Tensor) for v in obj.values()):
        sub = next((obj[k] for k in WEIGHT_KEYS if isinstance(obj.get(k), dict)), None)
        if sub is None:
            break
        obj = sub
    flat: dict[str, torch.Tensor] = {}

    def walk(prefix: str, value: object) -> None:
        if isinstance(value, torch.Tensor):
            flat[prefix.removeprefix("module.")] = value
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)

    walk("", obj)
    if not flat:
        raise ExtractionError(f"{where}: no tensors found in the checkpoint")
    return flat


def load_torch_file(path: Path, key: str | None = None) -> dict[str, torch.Tensor]:
    """torch.load with weights_only=True (never runs pickled code); memory-mapped when possible."""
    try:
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as err:
            if "mmap" not in str(err):
                raise
            obj = torch.load(path, map_location="cpu", weights_only=True)  # legacy (non-zip) format
    except Exception as err:  # UnpicklingError for anything but plain tensors and containers
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ExtractionError(f"{path.name}: cannot load with torch.load(weights_only=True): {first}") from None
    return pick_state_dict(obj, key, path.name)


def stream_torch(files: list[Path], model_id: str, wanted: Callable[[str], bool], buffers: bool,
                 key: str | None = None) -> Named:
    for path in files:
        tensors = load_torch_file(path, key)
        for name in list(tensors):
            tensor = tensors.pop(name)  # release each tensor once it has been used
            if wanted(name) and keep_tensor(model_id, name, tensor.dtype, buffers):
                yield name, tensor


def weight_files(folder: Path) -> tuple[str, list[Path]] | None:
    """("safetensors" | "torch", files) of a checkpoint folder, sharded or not; None when it has none."""
    for index, kind in (("model.safetensors.index.json", "safetensors"), ("pytorch_model.bin.index.json", "torch")):
        if (folder / index).is_file():
            weight_map = json.loads((folder / index).read_text()).get("weight_map", {})
            return kind, [folder / f for f in sorted(set(weight_map.values()))]
    if (folder / "model.safetensors").is_file():
        return "safetensors", [folder / "model.safetensors"]
    if found := sorted(folder.glob("*.safetensors")):
        return "safetensors", found
    if (folder / "pytorch_model.bin").is_file():
        return "torch", [folder / "pytorch_model.bin"]
    return None


def stream_files(found: tuple[str, list[Path]], model_id: str, wanted: Callable[[str], bool], buffers: bool,
                 key: str | None = None) -> Named:
    kind, files = found
    if kind == "safetensors":
        return stream_safetensors(files, model_id, wanted, buffers)
    return stream_torch(files, model_id, wanted, buffers, key)


def local_path(source: str) -> Path | None:
    path = Path(source).expanduser()
    return path if path.exists() else None


def is_hub_id(source: str) -> bool:
    return bool(HUB_ID.match(source)) and not source.startswith((".", "/"))


def hub_snapshot(repo_id: str, revision: str | None, patterns: list[str]) -> Path:
    """Download (or find in the cache, offline) the files of a hub repo that match `patterns`."""
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(repo_id, revision=revision, allow_patterns=patterns))
