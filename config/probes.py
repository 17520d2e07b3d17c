"""[probes]: the probe collection and how each model's behaviour on it is measured (extract_probe_profiles.py).

A model's probe profile is computed once, from the model alone and a fixed collection of datasets that
is never a target: per probe dataset, the linear probe's accuracy by the ground truth's method on a few
images per class, plus separability and feature statistics (features/profiles.py).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from config.parser import config_section
from utils.errors import ConfigError


@config_section("probes")
class ProbesConfig:
    datasets: tuple[str, ...] = ()  # dataset folders, hub names or an index.json; empty: the world's source and probe datasets
    train_split: str = "train"  # the probe is fit on this split
    test_split: str = "test"  # and its accuracy measured on this one
    train_per_class: int = 40  # images per class (class-balanced, seeded): small, so a profile is cheap
    test_per_class: int = 20
    features: str = "auto"  # FEATURE_REGISTRY: auto | head_input | pooler | mean_hidden
    probe_c: float = 1.0  # as [ground_truth] probe_c
    probe_max_iter: int = 100
    batch_size: int = 256  # images per forward pass
    workers: int = 2  # processes (CPU); 1 = in this process
    seed: int = 0  # the class-balanced image sample
    output_dir: Optional[Path] = None  # none: <artifacts_dir>/probe_profiles
    progress: bool = True

    def check(self) -> None:
        if self.train_per_class < 2 or self.test_per_class < 1:
            raise ConfigError("[probes] need train_per_class >= 2 and test_per_class >= 1")
        if self.workers < 1 or self.batch_size < 1 or self.probe_max_iter < 1 or self.probe_c <= 0:
            raise ConfigError("[probes] workers, batch_size, probe_max_iter must be >= 1 and probe_c > 0")
