"""[run]: settings shared by every command (seeds, device, where artifacts go)."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from config.parser import config_section


@config_section("run")
class RunConfig:
    seed: int = 0  # seeds python, numpy and torch; same seed, same numbers
    deterministic: bool = True  # deterministic kernels (bit-reproducible on CPU; slower cuDNN on GPU)
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    num_threads: int = 0  # torch CPU threads; 0 = OMP_NUM_THREADS when set, else the cores this process may use (SLURM_CPUS_PER_TASK, else its CPU affinity)
    artifacts_dir: Path = Path("artifacts")  # everything a run writes goes below here
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
