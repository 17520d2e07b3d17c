"""[world], [zoo] and [ground_truth]: the embedded benchmark world (`python -m zoo`).

[world] says where a preset's world lives and how it is built; [zoo] how the model zoo is
pretrained; [ground_truth] how each (model, target dataset) pair is scored.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from config.parser import config_section
from utils.errors import ConfigError


@config_section("world")
class WorldConfig:
    preset: Literal["tiny", "default", "large"] = "default"  # used when a command gets no --preset
    root: Path | None = None  # none: <run.artifacts_dir>/zoo/<preset>
    seed: int = 0  # shifts every dataset and the zoo's sampling: another seed, another world
    image_size: int = 32  # side of the synthetic images and of the zoo models' inputs
    workers: int = 2  # processes for the models and ground-truth stages; 1 = in this process
    progress: bool = True  # tqdm progress bars
    clip: bool = True  # run the CLIP stage (zoo/clip.py) when it exists

    def check(self) -> None:
        if self.workers < 1:
            raise ConfigError(f"[world] workers must be >= 1, got {self.workers}")
        if not 8 <= self.image_size <= 512:
            raise ConfigError(f"[world] image_size must be in 8..512, got {self.image_size}")


@config_section("zoo")
class ZooConfig:
    architectures: tuple[str, ...] = ("all",)  # ARCH_REGISTRY names of the preset to build; all = every one
    batch_size: int = 64
    weight_decay: float = 0.05
    warmup_fraction: float = 0.1  # share of the optimizer steps with a linear warmup (then cosine decay)
    eval_per_class: int = 50  # source accuracy on at most this many validation images per class

    def check(self) -> None:
        if self.batch_size < 1 or self.eval_per_class < 1:
            raise ConfigError("[zoo] batch_size and eval_per_class must be >= 1")
        if not 0 <= self.warmup_fraction < 1:
            raise ConfigError(f"[zoo] warmup_fraction must be in [0, 1), got {self.warmup_fraction}")


@config_section("ground_truth")
class GroundTruthConfig:
    method: str = "linear_probe"  # METHOD_REGISTRY: linear_probe | finetune
    features: str = "auto"  # FEATURE_REGISTRY: auto | head_input | pooler | mean_hidden
    train_split: str = "train"  # the probe / fine-tuning is fit on this split
    test_split: str = "test"  # and scored (accuracy) on this one
    train_per_class: int = 0  # class-balanced seeded cap per class (large real datasets); 0 = all
    test_per_class: int = 0  # same for the test split; 0 = all
    probe_c: float = 1.0  # inverse L2 strength of the logistic regression on standardized features
    probe_max_iter: int = 100  # lbfgs iterations (sklearn's default; accuracy is settled by then)
    batch_size: int = 256  # images per forward pass
    finetune_epochs: int = 3  # method finetune: full fine-tuning epochs, new head
    finetune_lr: float = 1e-3  # method finetune: AdamW learning rate (cosine decay)
    output: Path | None = None  # matrix file; none: <world root>/dataset_model_performance.json
    cache_dir: Path | None = None  # per-pair results; none: <output folder>/ground_truth/<method>/
    keep_features: bool = True  # linear_probe: keep every pair's frozen features (float32) for the sampled training tasks
    features_dir: Path | None = None  # where; none: <output folder>/features/
    constants: Literal["auto", "on", "off"] = "auto"  # also write constants/dataset_model_performance.json; auto: default preset only
    preprocess_cache_mb: int = 1024  # keep preprocessed datasets in memory up to this size (per process)

    def check(self) -> None:
        if min(self.train_per_class, self.test_per_class) < 0:
            raise ConfigError("[ground_truth] train_per_class and test_per_class must be >= 0 (0 = all)")
        if self.batch_size < 1 or self.probe_max_iter < 1 or self.finetune_epochs < 1:
            raise ConfigError("[ground_truth] batch_size, probe_max_iter and finetune_epochs must be >= 1")
        if self.probe_c <= 0 or self.finetune_lr <= 0:
            raise ConfigError("[ground_truth] probe_c and finetune_lr must be > 0")
