"""Profile a list of models on this machine's device into `<profiles_dir>/<device-slug>.json`.

The profile is rewritten atomically after every model, so an interrupted run loses at most the model
it was measuring; a rerun skips the models already in the profile (unless `force`).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hardware.device import device_kind, device_name, resolve_device, slugify
from hardware.profile import DEFAULT_DIR, Profile, read_profile
from utils.errors import ZooRankError
from utils.log import get_logger

logger = get_logger(__name__)
FLOPS_NOTE = "torch.utils.flop_counter.FlopCounterMode, one batch-1 forward pass (matmul/conv/attention, 2 per MAC)"
MEMORY_NOTE = {
    True: "cpu: growth of the peak RSS (VmHWM reset via /proc/self/clear_refs) in a fresh process per model; "
          "gpu: torch.cuda.max_memory_allocated minus the allocation before the weights were loaded",
    False: "cpu: not measured (null) in-process; gpu: torch.cuda.max_memory_allocated minus the allocation "
           "before the weights were loaded",
}


@dataclasses.dataclass
class MeasureSettings:
    image_size: int = 0  # > 0 forces the input side
    default_image_size: int = 224
    batch_size: int = 32
    warmup: int = 3
    repeats: int = 10
    max_seconds: float = 30.0
    isolate: bool = True
    num_threads: int = 0  # 0: torch's default

    @classmethod
    def from_config(cls, hw: Any, num_threads: int = 0) -> MeasureSettings:
        names = [f.name for f in dataclasses.fields(cls) if f.name != "num_threads"]
        return cls(**{n: getattr(hw, n) for n in names}, num_threads=num_threads)

    def describe(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out.update(dtype="float32", flops=FLOPS_NOTE, memory=MEMORY_NOTE[self.isolate],
                   latency="median of timed batch-1 forward passes, ms (eval, inference_mode)",
                   throughput="batch_size / median time of one batch, images/s")
        return out


@dataclasses.dataclass
class ProfileRun:
    profile: Profile
    measured: list[str]
    skipped: list[str]


def check_sources(specs: Sequence[Any]) -> None:
    """Fail before measuring anything when a local model folder is missing or is not a checkpoint."""
    for spec in specs:
        src = str(spec.source)
        path = Path(src).expanduser()
        local = path.exists() or src.startswith((".", "/", "~")) or src.count("/") > 1
        if not local:
            continue  # a hub id: transformers reads it from the cache (HF_HUB_OFFLINE) or the hub
        if not path.is_dir():
            raise ZooRankError(f"model '{spec.id}': folder {path} not found")
        if not (path / "config.json").is_file():
            raise ZooRankError(f"model '{spec.id}': {path} has no config.json (expected a transformers "
                               "save_pretrained folder)")


def open_profile(path: Path, name: str, kind: str, settings: dict[str, Any]) -> Profile:
    """The existing measured profile at `path` (checked to be this device's), or a new empty one."""
    import torch

    if not path.exists():
        return Profile(name=path.stem, device=name, kind=kind, source="measured", torch=torch.__version__,
                       settings=settings, path=path)
    profile = read_profile(path)
    if profile.source != "measured":
        raise ZooRankError(f"{path} is a '{profile.source}' profile; measured profiles need their own file "
                           "(pass another --output)")
    if profile.device != name:
        raise ZooRankError(f"{path} profiles '{profile.device}', but this device is '{name}'; pass another --output")
    old = {k: v for k, v in profile.settings.items() if k != "updated"}
    if old and old != {k: v for k, v in settings.items() if k != "updated"}:
        logger.warning("%s was measured with other settings; models already in it keep their numbers "
                       "(use --force to re-measure them)", path)
    profile.settings, profile.torch = settings, torch.__version__
    return profile


def profile_models(specs: Sequence[Any], settings: MeasureSettings, device: str = "auto",
                   profiles_dir: str | Path | None = None, output: str | Path | None = None,
                   force: bool = False) -> ProfileRun:
    """Measure `specs` (objects with .id, .source and .metadata, e.g. extractors.specs.ModelSpec) on
    `device` ([run] device) into `output` (a .json file) or `<profiles_dir>/<device-slug>.json`."""
    from hardware.measure import measure_model
    from hardware.worker import MeasureError, run_isolated

    check_sources(specs)
    resolved = resolve_device(device)
    name, kind = device_name(resolved), device_kind(resolved)
    out = Path(output) if output is not None and str(output).endswith(".json") else None
    path = out or Path(output or profiles_dir or DEFAULT_DIR) / f"{slugify(name)}.json"
    info = settings.describe() | {"updated": dt.datetime.now().isoformat(timespec="seconds")}
    profile = open_profile(path, name, kind, info)
    measured, skipped = [], []
    for i, spec in enumerate(specs):
        if spec.id in profile.models and not force:
            skipped.append(spec.id)
            continue
        request = dict(source=str(spec.source), device=resolved, image_size=settings.image_size,
                       entry_image_size=(spec.metadata or {}).get("image_size"),
                       default_image_size=settings.default_image_size, batch_size=settings.batch_size,
                       warmup=settings.warmup, repeats=settings.repeats, max_seconds=settings.max_seconds)
        try:
            if settings.isolate:
                entry = run_isolated(dict(request, num_threads=settings.num_threads))
            else:
                if settings.num_threads > 0:
                    import torch

                    torch.set_num_threads(settings.num_threads)
                entry = measure_model(**request, track_memory=False)
        except ZooRankError as err:
            kept = f"; the {len(measured)} model(s) measured before it are in {path}" if measured else ""
            raise MeasureError(f"model '{spec.id}': {err}{kept}") from None
        profile.models[spec.id] = entry
        profile.save(path)
        measured.append(spec.id)
        logger.info("[%d/%d] %s: %.3g GFLOPs, %.3g ms, %.4g img/s, %s MiB", i + 1, len(specs), spec.id,
                    entry["gflops"], entry["latency_ms"], entry["throughput"], entry["peak_memory_mb"])
    if not path.exists():  # nothing measured, nothing there yet: still leave a (valid, empty) profile
        profile.save(path)
    return ProfileRun(profile, measured, skipped)
