"""A `device` setting (auto | cpu | cuda | cuda:N) as a torch device, checked against what is visible."""
from __future__ import annotations

import re
from typing import Any

from utils.errors import ZooRankError


def pick_device(spec: str = "auto", section: str = "run") -> Any:
    """torch.device for `spec`: auto = the GPU when there is one (`cuda`, no index), else the CPU.
    `section` names where the setting came from in the error message."""
    import torch  # lazily: `profile_models.py list` and the CLI's --help do not need torch

    spec = (spec or "auto").strip().lower()
    if spec == "auto":
        spec = "cuda" if torch.cuda.is_available() else "cpu"
    if spec == "cpu":
        return torch.device("cpu")
    if not re.fullmatch(r"cuda(:\d+)?", spec):
        raise ZooRankError(f"[{section}] device = {spec!r}: expected auto, cpu, cuda or cuda:N")
    if not torch.cuda.is_available():
        raise ZooRankError(f"[{section}] device = {spec} but no CUDA device is visible; use device = cpu or auto")
    index = int(spec.partition(":")[2] or 0)
    if index >= torch.cuda.device_count():
        raise ZooRankError(f"[{section}] device = {spec}: only {torch.cuda.device_count()} CUDA device(s) visible")
    return torch.device(spec)
