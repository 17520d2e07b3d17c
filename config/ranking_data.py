"""[ranking_data]: what the ranker learns from and is evaluated on (the ground truth, the dataset and model
tokens, the family split, the training items), apart from the network in [transformer].

Read by the ranking data builder (dataloader/combined_similarity_dataloader.py), the recommender's
candidates and the benchmark; none of them needs the network's settings.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

from config.layout import Layout
from config.parser import config_section
from utils.errors import ConfigError

TOKEN_PARTS = ("embedding", "raw", "log_params", "source", "probe", "labels")


@config_section("ranking_data")
class RankingDataConfig:
    performance_file: Path = Path("constants/dataset_model_performance.json")  # ground truth {dataset: {model: score}}
    dataset_tokens_dir: Optional[Path] = None  # extract_dataset_tokens.py output; none: the layout's dataset_tokens
    token_split: str = "train"  # which split's tokens describe a dataset
    model_embeddings: Optional[Path] = None  # autoencoder embeddings NPZ; none: the layout's (models/autoencoder)
    model_token_parts: tuple[str, ...] = ("embedding", "log_params", "probe", "labels")  # embedding | raw | log_params | source | probe | labels
    probe_profiles: Optional[Path] = None  # 'probe' part: extract_probe_profiles.py's profiles.npz; none: the layout's
    model_labels: Optional[Path] = None  # 'labels' part: extract_model_labels.py's labels.npz; none: the layout's
    probe_exclude: tuple[str, ...] = ()  # probe datasets left out of the profiles (strict novelty: the held-out family's)
    tasks: bool = True  # also train on the sampled tasks (make_tasks.py) whose datasets are all training datasets
    tasks_file: Optional[Path] = None  # none: the layout's tasks/tasks.json
    task_share: float = 0.5  # share of the training items that are sampled tasks (the rest: the real datasets)
    model_index: Optional[Path] = None  # 'source' part: JSON with models[].id/sources (the world's models/index.json)
    dataset_index: Optional[Path] = None  # JSON with datasets[].name / family (the world's index.json)
    val_families: tuple[str, ...] = ()  # whole families for validation (early stopping)
    test_families: tuple[str, ...] = ()  # whole families never seen in training
    candidates_per_item: int = 0  # random subset of candidate models per training item (0: all)
    items_per_epoch: int = 64  # training items per epoch (datasets are few; candidate subsets vary)
    target: Literal["raw", "zscore"] = "zscore"  # true scores per dataset as given or standardized

    def tokens_dir(self, layout: Layout) -> Path:
        return self.dataset_tokens_dir or layout.dataset_tokens

    def embeddings(self, layout: Layout) -> Path:
        return self.model_embeddings or layout.embeddings

    def profiles(self, layout: Layout) -> Path:
        return self.probe_profiles or layout.probe_profiles / "profiles.npz"

    def labels(self, layout: Layout) -> Path:
        return self.model_labels or layout.model_labels / "labels.npz"

    def tasks_path(self, layout: Layout) -> Path:
        return self.tasks_file or layout.tasks / "tasks.json"

    def check(self) -> None:
        bad = set(self.model_token_parts) - set(TOKEN_PARTS)
        if bad or not self.model_token_parts:
            raise ConfigError(f"[ranking_data] model_token_parts: unknown {sorted(bad)}; use {', '.join(TOKEN_PARTS)}")
        if "source" in self.model_token_parts and self.model_index is None:
            raise ConfigError("[ranking_data] model_token_parts has 'source' but model_index is not set; point it "
                              "at a models index.json whose entries list their pretraining 'sources'")
        overlap = set(self.val_families) & set(self.test_families)
        if overlap:
            raise ConfigError(f"[ranking_data] families both in val_families and test_families: {sorted(overlap)}")
        if not 0 <= self.task_share < 1:
            raise ConfigError(f"[ranking_data] task_share must be in [0, 1), got {self.task_share}")
        if self.candidates_per_item < 0 or self.items_per_epoch < 1:
            raise ConfigError("[ranking_data] need candidates_per_item >= 0 (0: all) and items_per_epoch >= 1")
