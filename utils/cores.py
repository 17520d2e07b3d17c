"""How many CPU cores this process may use: what a thread pool should size itself to on a shared node.

`os.cpu_count()` (and torch's default thread count) is the machine's cores, not this process's share:
on a node shared with other jobs, threads beyond the share compete for the same cores and a run
slows down many-fold instead of a little.
"""
from __future__ import annotations

import os


def available_cores() -> int:
    """SLURM_CPUS_PER_TASK when set to a positive integer (the job's allocation), else the size of this
    process's CPU affinity (taskset, cgroup cpusets), else `os.cpu_count()`; always >= 1."""
    slurm = os.environ.get("SLURM_CPUS_PER_TASK", "").strip()
    if slurm.isdigit() and int(slurm) > 0:
        return int(slurm)
    if hasattr(os, "sched_getaffinity"):  # not on macOS / Windows
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except OSError:
            pass
    return max(1, os.cpu_count() or 1)
