"""[model_autoencoder] and [transformer]: the learned part (parameter autoencoder, ranking transformer).

Both extend the shared loop settings (TrainerConfig) with their model and data settings.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Literal, Optional

from config.parser import config_section
from config.training import TrainerConfig
from utils.errors import ConfigError


@config_section("model_autoencoder")
@dataclasses.dataclass
class ModelAutoEncoderConfig(TrainerConfig):
    vectors_dir: Optional[Path] = None  # extract_model_vectors.py output; default <artifacts>/model_vectors
    holdout_models: tuple[str, ...] = ()  # model ids never trained on (evaluation, add-model tests)
    val_fraction: float = 0.1  # of the remaining models, for validation / early stopping
    hidden_dims: tuple[int, ...] = (2048, 1024)
    code_dim: int = 512  # the model embedding size
    activation: Literal["gelu", "relu", "leaky_relu"] = "gelu"
    dropout: float = 0.1
    reconstruction_loss: Literal["mse", "smooth_l1"] = "mse"
    code_l1_penalty: float = 0.0  # L1 on the code: sparser embeddings
    denoise_std: float = 0.0  # Gaussian input noise while training (denoising autoencoder)
    embeddings_file: Optional[Path] = None  # default <artifacts>/models/autoencoder/embeddings.npz
    epochs: int = 200
    batch_size: int = 16
    lr: float = 1e-3
    warmup_steps: int = 20

    def check(self) -> None:
        super().check()
        if not 0 <= self.val_fraction < 1:
            raise ConfigError(f"[model_autoencoder] val_fraction must be in [0, 1), got {self.val_fraction}")


@config_section("transformer")
@dataclasses.dataclass
class TransformerTrainerConfig(TrainerConfig):
    model: Literal["ranking_transformer", "custom_similarity"] = "ranking_transformer"
    d_model: int = 128
    heads: int = 4
    encoder_layers: int = 2  # ranking_transformer: layers over the dataset tokens
    decoder_layers: int = 2  # layers over the model tokens (custom_similarity: cross-attention blocks)
    ff_mult: int = 4
    dropout: float = 0.1
    loss: str = "listmle"  # a LOSS_REGISTRY ranking loss: listnet | listmle | pairwise_logistic | lambdarank | approx_ndcg
    # data
    performance_file: Path = Path("constants/dataset_model_performance.json")  # ground truth {dataset: {model: score}}
    dataset_tokens_dir: Optional[Path] = None  # extract_dataset_tokens.py output; default <artifacts>/dataset_tokens
    token_split: str = "train"  # which split's tokens describe a dataset
    model_embeddings: Optional[Path] = None  # autoencoder embeddings NPZ; default <artifacts>/models/autoencoder/embeddings.npz
    model_token_parts: tuple[str, ...] = ("embedding", "log_params")  # embedding | raw | log_params | source
    model_index: Optional[Path] = None  # 'source' part: JSON with models[].id/sources (the world's models/index.json)
    dataset_index: Optional[Path] = None  # JSON with datasets[].name / family (the world's index.json)
    val_families: tuple[str, ...] = ()  # whole families for validation (early stopping)
    test_families: tuple[str, ...] = ()  # whole families never seen in training
    candidates_per_item: int = 0  # random subset of candidate models per training item (0: all)
    items_per_epoch: int = 64  # training items per epoch (datasets are few; candidate subsets vary)
    target: Literal["raw", "zscore"] = "zscore"  # true scores per dataset as given or standardized
    epochs: int = 40
    batch_size: int = 8
    lr: float = 3e-4
    warmup_steps: int = 20
    monitor: str = "val/weighted_tau_rank_none"
    monitor_mode: Literal["min", "max"] = "max"
    early_stopping_patience: int = 10

    def check(self) -> None:
        super().check()
        bad = set(self.model_token_parts) - {"embedding", "raw", "log_params", "source"}
        if bad or not self.model_token_parts:
            raise ConfigError(f"[transformer] model_token_parts: unknown {sorted(bad)}; "
                              "use embedding, raw, log_params, source")
        if "source" in self.model_token_parts and self.model_index is None:
            raise ConfigError("[transformer] model_token_parts has 'source' but model_index is not set; point it "
                              "at a models index.json whose entries list their pretraining 'sources'")
        overlap = set(self.val_families) & set(self.test_families)
        if overlap:
            raise ConfigError(f"[transformer] families both in val_families and test_families: {sorted(overlap)}")
