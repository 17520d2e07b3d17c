"""[tasks]: the sampled training tasks of the ranker (make_tasks.py, features/tasks.py)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from config.parser import config_section
from utils.errors import ConfigError


@config_section("tasks")
class TasksConfig:
    count: int = 300  # tasks drawn over the world's target datasets (a fold uses those of its training datasets)
    kinds: tuple[str, ...] = ("subset", "fewshot", "mixture")  # class subsets, fewer images, mixtures of 2-4 datasets
    fewshot_min: int = 10  # fewshot tasks: train images per class, drawn in [min, max]
    fewshot_max: int = 40
    max_classes: int = 12  # at most this many classes per task
    seed: int = 0
    workers: int = 2  # processes (one model each at a time)
    output_dir: Optional[Path] = None  # none: <artifacts_dir>/tasks

    def check(self) -> None:
        bad = set(self.kinds) - {"subset", "fewshot", "mixture"}
        if bad or not self.kinds:
            raise ConfigError(f"[tasks] kinds: unknown {sorted(bad)}; use subset, fewshot, mixture")
        if self.count < 1 or self.workers < 1 or not 2 <= self.fewshot_min <= self.fewshot_max or self.max_classes < 2:
            raise ConfigError("[tasks] need count, workers >= 1, 2 <= fewshot_min <= fewshot_max, max_classes >= 2")
