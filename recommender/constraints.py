"""The hardware side of a ranking: each model's numbers in a device profile, the limits, the Pareto front.

A model without an entry in the profile (or without the constrained metric) is never guessed: it is
reported per model as unprofiled, and stays in the ranking with empty hardware columns (its limits
unchecked) unless `only_profiled` drops it.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from hardware import Profile, apply_constraints
from utils.errors import ZooRankError

HW_KEYS = ("latency_ms", "throughput", "batch_size", "peak_memory_mb", "gflops")
FLAGS = {"max_latency_ms": "--max-latency-ms", "min_throughput": "--min-throughput", "max_memory_mb": "--max-memory-mb"}


@dataclasses.dataclass
class Limits:
    max_latency_ms: float | None = None
    min_throughput: float | None = None  # images/s at the profile's batch size
    max_params: float | None = None  # checked against the models' own parameter counts, no profile needed
    max_memory_mb: float | None = None

    def active(self) -> dict[str, float]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}

    def on_device(self) -> dict[str, float | None]:
        return {k: getattr(self, k) for k in FLAGS}

    def check(self, profile: Profile | None) -> None:
        for key, value in self.active().items():
            if value <= 0:
                raise ZooRankError(f"--{key.replace('_', '-')} must be a positive number, got {value:g}")
        needs = [FLAGS[k] for k, v in self.on_device().items() if v is not None]
        if needs and profile is None:
            raise ZooRankError(f"{', '.join(needs)} needs a device: add --device-profile NAME "
                               "(python profile_models.py list shows the profiles)")


def hardware_entry(profile: Profile | None, model_id: str) -> dict[str, Any] | None:
    """The model's numbers on the device (HW_KEYS, None where not measured), or None without an entry."""
    entry = profile.lookup(model_id) if profile is not None else None
    return None if entry is None else {k: entry.get(k) for k in HW_KEYS}


def missing_note(entry: dict[str, Any] | None, limits: Limits) -> str:
    """Short per-model note for the table: "no profile", or which constrained numbers the entry lacks."""
    if entry is None:
        return "no profile"
    missing = [k for k, v in limits.on_device().items() if v is not None and entry.get(k) is None]
    return f"not measured: {', '.join(missing)}" if missing else ""


def apply_limits(ids: list[str], params: dict[str, int], profile: Profile | None, limits: Limits,
                 only_profiled: bool = False) -> tuple[list[str], dict[str, str], dict[str, str]]:
    """(kept ids in input order, {dropped id: why}, {unprofiled id: why}); unprofiled models stay in
    `kept` unless `only_profiled`."""
    dropped: dict[str, str] = {}
    if limits.max_params is not None:
        dropped = {m: f"params {params[m]:,} > {limits.max_params:,.0f}" for m in ids if params[m] > limits.max_params}
    rest = [m for m in ids if m not in dropped]
    if profile is None:
        return rest, dropped, {}
    _, over, unprofiled = apply_constraints(rest, profile, **limits.on_device())
    dropped.update(over)
    if only_profiled:
        dropped.update({m: f"{why} (--only-profiled)" for m, why in unprofiled.items()})
    return [m for m in rest if m not in dropped], dropped, unprofiled


def pareto_axis(profile: Profile, ids: list[str]) -> tuple[str, str]:
    """(metric, axis label) for the score / speed trade-off: batch-1 latency where the profile has it
    (measured profiles, timm CPU tables); timm's GPU tables only have large-batch throughput, so there
    the time per image at that batch (1000 / throughput), named as such."""
    entries = [e for e in (hardware_entry(profile, m) for m in ids) if e is not None]
    if any(e["latency_ms"] is not None for e in entries) or not entries:
        return "latency_ms", "latency at batch size 1 (ms)"
    batch = next((e["batch_size"] for e in entries if e["batch_size"]), "?")
    return "ms_per_image", f"ms per image at batch size {batch} (1000 / throughput)"


def pareto_value(entry: dict[str, Any] | None, metric: str) -> float | None:
    if entry is None:
        return None
    if metric == "ms_per_image":
        return 1000.0 / entry["throughput"] if entry.get("throughput") else None
    return entry.get(metric)
