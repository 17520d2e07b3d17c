"""General quality: how good a model is on average, read from its probe profile.

    prior_m  = mean_d z_d(score of model m on training dataset d)        (the mean-training-score ranker)
    quality  = profile_m @ coef + bias,  ridge-fitted to prior_m (the penalty by leave-one-out, RidgeCV)

What a ranker falls back to for a target farther from every probe than all it learned from (metrics/novelty.py):
there the probe weighting has nothing to go on, and the mean training score ranks better (default world, the fold
whose validation family no probe covers). Read from the profile rather than looked up, it also scores a model
that has no training scores (`recommend.py add-model`).
"""
from __future__ import annotations

import numpy as np

from metrics.fusion import zscore

ALPHAS = np.logspace(-1, 4, 12)  # the ridge penalties leave-one-out chooses from


def mean_training_score(scores: np.ndarray) -> np.ndarray:
    """scores [N, M] (N training datasets x M models) -> [M]: each dataset z-scored over the models, averaged."""
    return np.mean([zscore(row) for row in np.asarray(scores, dtype=np.float64)], axis=0)


def fit_general_quality(profiles: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, float]:
    """profiles [M, F] (each model's profile, as the ranker reads it), scores [N, M] -> (coef [F], bias)."""
    # imported here: listing the trainers' registry must not load sklearn (tests/test_startup.py)
    from sklearn.linear_model import RidgeCV

    x = np.asarray(profiles, dtype=np.float64)
    fit = RidgeCV(alphas=ALPHAS).fit(x, mean_training_score(scores))
    return fit.coef_.astype(np.float64), float(fit.intercept_)
