"""[extractor] and [vectorizer]: turning pre-trained models into fixed-size parameter vectors.

Used by `extract_model_vectors.py` and the `extractors` package. The extractor reads a model's
tensors one at a time; the vectorizer turns that stream into one float32 vector of `size` values.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from config.parser import config_section
from utils.errors import ConfigError

DETECTOR_PARTS = ("backbone", "neck", "heads")


@config_section("extractor")
class ExtractorConfig:
    name: str = "hf"  # hf | hf_pipeline | siglip | clip | detector | state_dict (a model entry may override it)
    models: tuple[str, ...] = ()  # hub ids, local folders/files, or JSON indexes {"models": [{"id", "path", ...}]}
    output_dir: Path | None = None  # default: <run.artifacts_dir>/model_vectors
    on_error: Literal["fail", "skip"] = "fail"  # skip: warn, go on with the other models, exit 2 at the end
    trust_remote_code: bool = False  # let transformers run code shipped with a checkpoint
    revision: str | None = None  # hub revision (branch, tag or commit) for hub ids
    read_files_directly: bool = True  # stream .safetensors files instead of instantiating the model
    auto_class: Literal["auto", "image_classification", "object_detection", "model"] = "auto"  # hf
    task: str = "image-classification"  # hf_pipeline: the pipeline task
    parts: tuple[str, ...] = DETECTOR_PARTS  # detector: which parts to keep
    include_buffers: bool = True  # keep BatchNorm running statistics (they describe the training data)
    state_dict_key: str | None = None  # state_dict: key holding the weights in a .pt dict (default: guess)

    def check(self) -> None:
        bad = [p for p in self.parts if p not in DETECTOR_PARTS]
        if bad or not self.parts:
            raise ConfigError(f"[extractor] parts must be a non-empty subset of {', '.join(DETECTOR_PARTS)}, got {bad}")


@config_section("vectorizer")
class VectorizerConfig:
    name: str = "layer_stats"  # layer_stats | flat
    size: int = 8192  # length of every vector (zero-padded or truncated to it)
    depth_bins: int = 0  # layer_stats: depth bins per role; 0 = as many as fit in `size`
    sample_size: int = 32768  # elements per tensor used for quantiles and moments (smaller tensors: all)
    svd_rank: int = 16  # singular values estimated per matrix
    svd_niter: int = 2  # power iterations of the randomized SVD
    row_sample: int = 64  # larger matrices: RMS, row/column norms and spectrum from this many seeded rows
    svd_exact_max: int = 256  # row sample with min(rows, cols) <= this: exact singular values (else randomized)
    seed: int = 0  # seeds the subsampling and the randomized SVD
    read_ahead: bool = True  # read the next tensor while describing this one (two tensors in memory)
    normalizer_clip: float = 10.0  # normalized values are clipped to [-clip, clip]; 0 disables

    def check(self) -> None:
        if self.size < 1:
            raise ConfigError(f"[vectorizer] size must be >= 1, got {self.size}")
        if self.depth_bins < 0:
            raise ConfigError(f"[vectorizer] depth_bins must be >= 0 (0 = auto), got {self.depth_bins}")
        for key in ("sample_size", "svd_rank", "row_sample"):
            if getattr(self, key) < 1:
                raise ConfigError(f"[vectorizer] {key} must be >= 1, got {getattr(self, key)}")
        if self.svd_niter < 0 or self.svd_exact_max < 0 or self.normalizer_clip < 0:
            raise ConfigError("[vectorizer] svd_niter, svd_exact_max and normalizer_clip must be >= 0")
