"""Hardware constraints on candidate models: keep, drop (with the reason) or report as unprofiled.

A model without a profile entry, or whose entry lacks a constrained metric (e.g. batch-1 latency in
timm's GPU tables, which only measured large batches), is never guessed: it is listed as unprofiled.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

from hardware.profile import Profile
from utils.errors import ZooRankError

SUFFIXES = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9, "b": 1e9}


def parse_count(text: str | float | int) -> float:
    """"25M" -> 25e6, "1.5B" -> 1.5e9, "3000" -> 3000 (for --max-params)."""
    if isinstance(text, (int, float)):
        return float(text)
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[+-]?\d+)?)\s*([kmgb]?)\s*", str(text), re.IGNORECASE)
    if m is None:
        raise ZooRankError(f"cannot read {text!r} as a count; write e.g. 25M, 1.5B or 3000")
    return float(m.group(1)) * SUFFIXES[m.group(2).lower()]


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def apply_constraints(models: Iterable[str], profile: Profile, max_latency_ms: float | None = None,
                      min_throughput: float | None = None, max_params: float | None = None,
                      max_memory_mb: float | None = None) -> tuple[list[str], dict[str, str], dict[str, str]]:
    """(kept ids in input order, {dropped id: reason}, {unprofiled id: reason}).

    A model violating any bound is dropped (all violated bounds named); otherwise one whose entry lacks a
    constrained metric is unprofiled. `min_throughput` is images/s at the profile's batch size.
    """
    rules: list[tuple[str, float, str, str]] = []  # metric, bound, "max"|"min", unit
    for metric, bound, sense, unit in (("latency_ms", max_latency_ms, "max", " ms"),
                                       ("throughput", min_throughput, "min", " img/s"),
                                       ("params", max_params, "max", ""),
                                       ("peak_memory_mb", max_memory_mb, "max", " MiB")):
        if bound is None:
            continue
        if not isinstance(bound, (int, float)) or math.isnan(bound) or bound <= 0:
            raise ZooRankError(f"hardware constraint {sense}_{metric} must be a positive number, got {bound!r}")
        rules.append((metric, float(bound), sense, unit))
    where = f"device '{profile.device}' (profile {profile.name})"
    kept: list[str] = []
    dropped: dict[str, str] = {}
    unprofiled: dict[str, str] = {}
    for model_id in models:
        entry: dict[str, Any] | None = profile.lookup(model_id)
        if entry is None:
            unprofiled[model_id] = f"no profile for model {model_id} on {where}"
            continue
        reasons, missing = [], []
        for metric, bound, sense, unit in rules:
            value = entry.get(metric)
            if value is None:
                missing.append(metric)
            elif (sense == "max" and value > bound) or (sense == "min" and value < bound):
                op = ">" if sense == "max" else "<"
                reasons.append(f"{metric} {_fmt(value)}{unit} {op} {_fmt(bound)}{unit}")
        if reasons:
            dropped[model_id] = "; ".join(reasons)
        elif missing:
            unprofiled[model_id] = f"no {', '.join(missing)} for model {model_id} on {where}"
        else:
            kept.append(model_id)
    return kept, dropped, unprofiled
