"""[recommend]: `python recommend.py` (rank the zoo for a dataset) and `recommend.py add-model`.

The ranker's own settings (architecture, model token parts) come from its run folder's config.ini,
not from [transformer], so a later edit of config.ini cannot silently mismatch a trained ranker.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from config.parser import config_section
from utils.errors import ConfigError


@config_section("recommend")
class RecommendConfig:
    ranker: Optional[Path] = None  # transformer run folder or checkpoint; none: the newest run under <artifacts>/models/transformer/runs
    added_models_dir: Optional[Path] = None  # models registered with add-model; none: <artifacts>/added_models
    top_k: int = 0  # rows in the table; 0: every model
    fusion_file: Optional[Path] = None  # --budget's fusion weight: the benchmark's fusion.json; none: <artifacts>/benchmark/<preset>/fusion.json
    pareto_plot: Optional[Path] = None  # --pareto without a file: none = <artifacts>/recommend/pareto_<dataset>_<profile>.png

    def check(self) -> None:
        if self.top_k < 0:
            raise ConfigError(f"[recommend] top_k must be >= 0 (0: all models), got {self.top_k}")
