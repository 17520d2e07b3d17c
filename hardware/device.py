"""Which device this is: its name (CPU model or GPU name), its kind and the file-name slug of its profile."""
from __future__ import annotations

import platform
import re
from pathlib import Path

from utils.device import pick_device


def slugify(name: str) -> str:
    """"Intel(R) Core(TM) i9-10940X CPU @ 3.30GHz" -> "intel-core-i9-10940x-cpu-3-30ghz"."""
    text = re.sub(r"\((r|tm|c)\)", " ", name, flags=re.IGNORECASE).lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-") or "unknown-device"


def cpu_name(cpuinfo: str | Path = "/proc/cpuinfo") -> str:
    """The `model name` of /proc/cpuinfo (Linux), else what `platform` knows."""
    try:
        for line in Path(cpuinfo).read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "cpu model") and value.strip():
                return " ".join(value.split())
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def resolve_device(spec: str = "auto") -> str:
    """[run] device -> "cpu" or "cuda:N" (auto: the first GPU when one is visible)."""
    if (spec or "auto").strip().lower() == "cpu":
        return "cpu"
    device = pick_device(spec)
    return f"cuda:{device.index or 0}" if device.type == "cuda" else "cpu"


def device_name(device: str) -> str:
    """Human name of a resolved device: the GPU's name, or the CPU model."""
    if device.startswith("cuda"):
        import torch

        return torch.cuda.get_device_name(int(device.partition(":")[2] or 0))
    return cpu_name()


def device_kind(device: str) -> str:
    return "gpu" if device.startswith("cuda") else "cpu"
