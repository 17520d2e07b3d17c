"""[hardware]: hardware profiles (`python profile_models.py`, read by recommend.py).

A profile is one JSON per device under `profiles_dir`: measured on this machine (`profile_models.py`)
or imported from timm's public benchmark tables (`profile_models.py import-timm`). The device and the
CPU threads come from [run] (device, num_threads). See hardware/ for the format.
"""
from __future__ import annotations

from pathlib import Path

from config.parser import config_section
from utils.errors import ConfigError


@config_section("hardware")
class HardwareConfig:
    profiles_dir: Path = Path("constants/hardware")  # one <device-slug>.json per device; recommend.py reads them here
    timm_tables: Path = Path("../shared/data/timm_results")  # import-timm reads benchmark-infer-*.csv from here
    models: tuple[str, ...] = ()  # hub ids, folders, JSON indexes; empty: the embedded zoo's models/index.json
    image_size: int = 0  # 0: each model's own (index entry, else its config's image_size); > 0: force this side
    default_image_size: int = 224  # for models whose index entry and config name no image size
    batch_size: int = 32  # throughput is measured at this batch size (latency always at batch size 1)
    warmup: int = 3  # untimed forward passes before each timing loop
    repeats: int = 10  # timed forward passes per loop; the median is reported
    max_seconds: float = 30.0  # a timing loop stops after this many seconds (with at least 3 timed passes)
    isolate: bool = True  # measure each model in a fresh process (needed for the CPU peak memory)

    def check(self) -> None:
        if self.image_size < 0 or self.default_image_size < 1:
            raise ConfigError("[hardware] image_size must be >= 0 (0 = the model's) and default_image_size >= 1")
        if self.batch_size < 1 or self.repeats < 1 or self.warmup < 0:
            raise ConfigError("[hardware] batch_size and repeats must be >= 1, warmup >= 0")
        if self.max_seconds <= 0:
            raise ConfigError(f"[hardware] max_seconds must be > 0, got {self.max_seconds}")
