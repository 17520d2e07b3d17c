"""[model_autoencoder] and [transformer]: the learned part (parameter autoencoder, ranking transformer).

Both extend the shared loop settings (TrainerConfig) with their model settings; the ranker's data is
[ranking_data] (config/ranking_data.py). Registry names (model, loss) are checked where they are built,
against the registry, so that a model or loss registered by a --plugin is configurable.
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
    reconstruction_loss: str = "mse"  # a LOSS_REGISTRY reconstruction loss: mse | smooth_l1
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


# The weights-only rankers' settings next to the defaults (the probe ranker's): model tokens without probe
# profiles, no sampled tasks, and the loss and rate their networks train with. The benchmark's ranking_transformer and
# custom_similarity rows and a world without probe datasets use them.
NETWORK_TRAINING = ("transformer.loss=listmle", "transformer.lr=0.0003")  # what the learned networks train with
WEIGHTS_ONLY = ("ranking_data.model_token_parts=embedding,log_params", "ranking_data.tasks=false", *NETWORK_TRAINING)
# The far companion (train/companion.py): the weights-only ranker whose ranking the probe ranker adds to its
# general-quality reading on far targets; custom_similarity blended better than ranking_transformer (README)
COMPANION = ("transformer.model=custom_similarity", *WEIGHTS_ONLY, "transformer.far_companion=")


@config_section("transformer")
@dataclasses.dataclass
class TransformerTrainerConfig(TrainerConfig):
    # a RANKER_REGISTRY model: probe_ranker (probe profiles; the benchmark's headline) | ranking_transformer |
    # custom_similarity (weights only: set [ranking_data] model_token_parts = embedding, log_params, lr = 3e-4, listmle)
    model: str = "probe_ranker"
    d_model: int = 128
    heads: int = 4
    encoder_layers: int = 2  # ranking_transformer: layers over the dataset tokens
    decoder_layers: int = 2  # layers over the model tokens (custom_similarity: cross-attention blocks)
    ff_mult: int = 4
    dropout: float = 0.1
    # probe_ranker: while training, hide the family of the probe nearest to each target with this probability, so
    # that it also learns to rank a target that no probe resembles (strict novelty)
    probe_dropout: float = 0.5
    # probe_ranker: also the learned networks over tokens and statistics (false: only its temperature, far-gate and
    # statistic mix are learned: a few numbers, which the training families cannot overfit)
    probe_corrections: bool = False
    # probe_ranker: how a target resembles a probe. mean: the cosine of their mean tokens; tokens: each target token's
    # best-matching probe token, cosines averaged (a blurred count is then nearer the blurred counts than the blurred
    # glyphs, whose mean token the blur makes alike)
    probe_match: Literal["mean", "tokens"] = "tokens"
    # probe_ranker: the softmax temperature over the probes it starts from (then learned). Chosen on the folds'
    # validation families (README): with token matching, the lower the better down to about 0.001 (near the argmax)
    probe_temperature: float = 0.001
    # probe_ranker: a target far from the probes (metrics/novelty.py, far_quantile) is ranked by
    # the models' general quality (a linear reading of their profiles, general_quality) instead
    far_fallback: bool = True
    # probe_ranker: that reading. prior: a ridge reading of the profiles fitted to the mean training score;
    # transfer: the probes weighted by how well they rank the training datasets of other families, softmax at
    # transfer_temperature; mix: both, standardized and summed (metrics/general_quality.py). Chosen on the
    # validation families (README)
    general_quality: Literal["prior", "transfer", "mix"] = "mix"
    transfer_temperature: float = 0.03
    # probe_ranker: far is also below this quantile of the training datasets' nearest-probe cosines with their own
    # family's probes hidden (metrics/novelty.py); 0: only below every training dataset. Chosen on the validation
    # families (README)
    far_quantile: float = 0.5
    # probe_ranker: on a far target, also the ranking of this weights-only ranker run (z-scores summed with the
    # reading): a run name under the transformer runs folder, trained first when missing or trained with another
    # config (COMPANION: custom_similarity on the same data), or a run folder, used as it is; empty: none
    far_companion: str = "weights_only"
    # probe_ranker: the companion's z-scores count this much against the reading's. Chosen on validation families the
    # companion never saw, not even for its early stopping (README): 0.25 and 0.5 tie there, 1 loses
    far_companion_weight: float = 0.25
    # probe_ranker: on a far target, also how much the target's images look like what each model was trained to name
    # (the cosine of its mean token and the model's label vector, features/labels.py; needs the 'labels' model token
    # part), its z-scores this much. Chosen on validation families (README); 0: not read
    far_label_weight: float = 0.4
    # ranking_transformer: models attend to each other, quadratic in the candidates; chunks make it linear
    candidate_chunk: int = 0  # score candidates in chunks of this many (models attend within their chunk); 0 = all
    loss: str = "approx_ndcg"  # a LOSS_REGISTRY ranking loss: listnet | listmle | pairwise_logistic | lambdarank | approx_ndcg
    epochs: int = 40
    batch_size: int = 8
    lr: float = 0.03  # probe_ranker without corrections learns a few numbers; the networks want about 3e-4
    warmup_steps: int = 20
    monitor: str = "val/weighted_tau_rank_none"
    monitor_mode: Literal["min", "max"] = "max"
    early_stopping_patience: int = 10
    validate_initial: bool = True  # the probe ranker's training-free start can be its best checkpoint

    def check(self) -> None:
        super().check()
        if self.probe_temperature <= 0:
            raise ConfigError(f"[transformer] probe_temperature must be > 0, got {self.probe_temperature}")
        if self.far_companion_weight < 0:
            raise ConfigError(f"[transformer] far_companion_weight must be >= 0, got {self.far_companion_weight}")
        if self.far_label_weight < 0:
            raise ConfigError(f"[transformer] far_label_weight must be >= 0, got {self.far_label_weight}")
        if not 0 <= self.far_quantile <= 1:
            raise ConfigError(f"[transformer] far_quantile must be in [0, 1], got {self.far_quantile}")
        if self.transfer_temperature <= 0:
            raise ConfigError(f"[transformer] transfer_temperature must be > 0, got {self.transfer_temperature}")
        if self.candidate_chunk < 0:
            raise ConfigError(f"[transformer] candidate_chunk must be >= 0 (0 = all at once), got {self.candidate_chunk}")
