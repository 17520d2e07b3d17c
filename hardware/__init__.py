"""Hardware awareness: per-device model profiles, constraints and the score / latency trade-off.

    from hardware import load_profile, apply_constraints, pareto_front, plot_pareto
    profile = load_profile("rtx4090")            # constants/hardware/rtx4090.json (or a path, or "*4090*")
    profile.lookup("timm/resnet50.a1_in1k")      # {"params", "gflops", "latency_ms", "throughput", ...} or None
    kept, dropped, unprofiled = apply_constraints(ids, profile, max_latency_ms=20, max_params=30e6)

Profiles are written by `python profile_models.py` (measured on this machine: hardware/profiler.py,
hardware/measure.py) and `python profile_models.py import-timm` (timm's public benchmark tables:
hardware/timm_tables.py). Importing this package does not import torch.
"""
from hardware.constraints import apply_constraints, parse_count
from hardware.device import cpu_name, slugify
from hardware.pareto import pareto_front, plot_pareto
from hardware.profile import (
    DEFAULT_DIR,
    METRICS,
    Profile,
    list_profiles,
    load_profile,
    read_profile,
    write_profile,
)

__all__ = [
    "DEFAULT_DIR", "METRICS", "Profile", "apply_constraints", "cpu_name", "list_profiles", "load_profile",
    "pareto_front", "parse_count", "plot_pareto", "read_profile", "slugify", "write_profile",
]
