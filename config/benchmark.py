"""[benchmark]: the leave-families-out comparison of the learned ranker with the field's estimators
(`python benchmark.py`, the last stages of `python pipeline.py`)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from config.parser import config_section
from utils.errors import ConfigError


@config_section("benchmark")
class BenchmarkConfig:
    # variants (evaluation/variants.py) or RANKER_REGISTRY models, each trained per fold
    rankers: tuple[str, ...] = ("ranking_transformer", "custom_similarity", "probe_ranker", "probe_no_labels",
                                "probe_alone", "probe_weights", "probe_no_tasks", "probe_ranker_strict",
                                "probe_no_labels_strict", "probe_alone_strict")
    estimators: tuple[str, ...] = ("*",)  # ESTIMATOR_REGISTRY names or wildcards
    trivial: tuple[str, ...] = ("mean_train_score", "num_params", "random")  # TRIVIAL_REGISTRY rankers
    estimator_split: Optional[str] = None  # the test dataset's split the estimators see; none: [ranking_data] token_split
    # estimators: images per class of that split; none: [dataset_tokens] per_class, drawn with its seed, so that
    # every method sees the same images; 0: the whole split
    images_per_class: Optional[int] = None
    features: str = "auto"  # which model features the estimators score (as [ground_truth] features)
    ranker_epochs: int = 0  # epochs of each fold's ranker; 0: [transformer] epochs
    # per fold: test datasets on which the rankers' time to rank is measured; 0: every one (then every method's
    # s / dataset is a mean over the same datasets)
    timing_datasets: int = 0
    timing_repeats: int = 3  # timed repeats of the ranker's forward pass (median)
    timing_sizes: tuple[int, ...] = ()  # zoo sizes for time-vs-candidates; empty: 1/8, 1/4, 1/2 and all models
    probe_baseline: bool = True  # the training-free probe ranker rows (needs the probe profiles)
    probe_temperature: float = 0.05  # its softmax temperature (issue 13's; never tuned on test data)
    budgets: tuple[str, ...] = ("0", "4", "8", "12", "24", "all")  # K of budgeted re-ranking; empty: none
    # uncertainty-driven rows budget:K=<K>+far: as K, but a target farther from every probe dataset than all the
    # fold's training datasets (metrics/novelty.py) gets the estimator alone on every model
    far_budgets: tuple[str, ...] = ("0", "4")
    budget_ranker: str = "probe_ranker"  # the variant that shortlists (one of rankers)
    budget_estimator: str = "logme"  # the estimator that scores the shortlist (one of estimators)
    workers: int = 2  # processes for the estimators' forward passes and the folds' rankers (CPU; 1 on GPU)
    output_dir: Optional[Path] = None  # default <artifacts_dir>/benchmark/<preset>
    progress: bool = True

    def check(self) -> None:
        for key in ("ranker_epochs", "images_per_class", "timing_datasets"):
            if (getattr(self, key) or 0) < 0:
                raise ConfigError(f"[benchmark] {key} must be >= 0, got {getattr(self, key)}")
        for key in ("timing_repeats", "workers"):
            if getattr(self, key) < 1:
                raise ConfigError(f"[benchmark] {key} must be >= 1, got {getattr(self, key)}")
        for key in ("budgets", "far_budgets"):
            for k in getattr(self, key):
                if str(k).strip().lower() != "all" and not (str(k).strip().isdigit()):
                    raise ConfigError(f"[benchmark] {key}: '{k}' is not a number of models >= 0 or 'all'")
        if self.probe_temperature <= 0:
            raise ConfigError(f"[benchmark] probe_temperature must be > 0, got {self.probe_temperature}")
        if (self.budgets or self.far_budgets) and self.budget_ranker not in self.rankers:
            raise ConfigError(f"[benchmark] budget_ranker '{self.budget_ranker}' is not one of [benchmark] rankers "
                              f"({', '.join(self.rankers)}); add it there or set budgets = (empty)")
        if not (self.rankers or self.estimators or self.trivial):
            raise ConfigError("[benchmark] rankers, estimators and trivial are all empty: nothing to compare")
