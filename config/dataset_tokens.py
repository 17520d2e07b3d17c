"""[dataset_tokens]: turning each dataset into a set of feature tokens (the ranker's dataset input)."""
from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

from config.parser import PathOrName, config_section
from utils.errors import ConfigError


@config_section("dataset_tokens")
class DatasetTokensConfig:
    extractor: str = "clip"  # clip (open_clip) | hf_image (any transformers vision backbone, pooled)
    clip_model: str = "ViT-B-32"  # open_clip model name, or the name of a local model config JSON
    clip_pretrained: Optional[PathOrName] = None  # open_clip tag (e.g. laion2b_s34b_b79k), checkpoint file or folder
    clip_model_config: Optional[Path] = None  # JSON model config for a custom CLIP (a folder with <name>.json works too)
    hf_model: PathOrName = PathOrName("")  # hf_image: hub id or local folder
    trust_remote_code: bool = False
    per_class: int = 32  # class-balanced sample: up to this many images per class
    unlabelled_samples: int = 256  # without labels: this many random images instead
    tokens: Literal["class_means", "samples", "both"] = "both"  # what becomes a token
    max_sample_tokens: int = 64  # samples/both: at most this many image tokens (class-balanced)
    text_tokens: bool = False  # clip: add one text token per class from class-name prompts
    prompts: tuple[str, ...] = ("a photo of a {}.",)  # text tokens: templates, averaged per class
    batch_size: int = 64
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    seed: int = 0  # which images the sample picks
    output_dir: Optional[Path] = None  # default: <run.artifacts_dir>/dataset_tokens

    def check(self) -> None:
        for key in ("per_class", "unlabelled_samples", "max_sample_tokens", "batch_size"):
            if getattr(self, key) < 1:
                raise ConfigError(f"[dataset_tokens] {key} must be >= 1, got {getattr(self, key)}")
        if any("{}" not in p for p in self.prompts):
            raise ConfigError("[dataset_tokens] every prompt needs a {} for the class name")
