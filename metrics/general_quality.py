"""General quality: how good a model is on average, read from its probe profile.

    prior:     quality_m = profile_m @ coef + bias, ridge-fitted to prior_m = mean_d z_d(score of m on dataset d)
    transfer:  quality_m = accuracy_m @ softmax(transfer / temperature), transfer_j = how well probe j's accuracy
               ranks the training datasets of families other than its own
    mix:       quality_m = z(prior_m) + z(transfer_m), each reading standardized over the zoo

What a ranker falls back to for a target far from every probe by the datasets it learned from (metrics/novelty.py):
there the probe weighting has nothing to go on. Such a target is most likely of a family the probes lack, which
is what `transfer` is fitted for: each probe is judged only on families it does not belong to. `prior` ranks the
targets of a family no probe covers (the default world's sklearn_digits) better; `mix` averages the two ([transformer]
general_quality, chosen on the validation families). Read from the profile rather than looked up, either also
scores a model that has no training scores (`recommend.py add-model`).
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


def fit_probe_transfer(profiles: np.ndarray, scores: np.ndarray, dataset_families: list[str],
                       probe_families: list[str], temperature: float, stat: int = 0) -> tuple[np.ndarray, float]:
    """General quality as the probes that transfer: each probe weighted by how well its `stat` column ranks the
    training datasets of *other* families.

        transfer_j = mean over training datasets d not of probe j's family of pearson(z(scores_d), profile[:, j, stat])
        quality    = profile[:, :, stat] @ softmax(transfer / temperature)

    profiles [M, P, S] (as the ranker reads them), scores [N, M], dataset_families [N], probe_families [P] ->
    (coef [P * S], bias 0) in the layout of `fit_general_quality`; a probe with no training dataset of another
    family gets no weight.
    """
    x = np.asarray(profiles, dtype=np.float64)
    column = x[:, :, stat]
    targets = [zscore(row) for row in np.asarray(scores, dtype=np.float64)]
    transfer = np.full(x.shape[1], -np.inf)
    for j, family in enumerate(probe_families):
        col = zscore(column[:, j])
        rs = [float(col @ t) / len(t) for t, f in zip(targets, dataset_families) if f != family]
        if rs and col.any():
            transfer[j] = np.mean(rs)
    if not np.isfinite(transfer).any():
        raise ValueError("fit_probe_transfer needs a probe with a training dataset of another family")
    weights = np.exp((transfer - transfer.max()) / temperature)
    coef = np.zeros(x.shape[1:])
    coef[:, stat] = weights / weights.sum()
    return coef.reshape(-1), 0.0


def standardized_sum(x: np.ndarray, coefs: list[np.ndarray]) -> tuple[np.ndarray, float]:
    """x [M, F], linear readings' coefficients [F] each -> the (coef, bias) of the sum of their scores, each z-scored
    over the M models (so their own biases drop out; a constant reading counts as zero): still one linear reading."""
    coef, bias = np.zeros(x.shape[1]), 0.0
    for c in coefs:
        q = x @ c
        if q.std() > 1e-12:
            coef, bias = coef + c / q.std(), bias - q.mean() / q.std()
    return coef, bias


def fit_reading(reading: str, profiles: np.ndarray, scores: np.ndarray, dataset_families: list[str],
                probe_families: list[str], temperature: float) -> tuple[np.ndarray, float, str]:
    """[transformer] general_quality's reading: profiles [M, P, S], scores [N, M] -> (coef [P * S], bias, the
    reading used). `transfer` and `mix` read the prior alone where no probe can be judged on another family's
    dataset."""
    x = np.asarray(profiles, dtype=np.float64)
    flat = x.reshape(len(x), -1)
    if reading in ("transfer", "mix"):
        try:
            transfer = fit_probe_transfer(x, scores, dataset_families, probe_families, temperature)
        except ValueError:
            pass
        else:
            if reading == "transfer":
                return (*transfer, "transfer")
            return (*standardized_sum(flat, [fit_general_quality(flat, scores)[0], transfer[0]]), "mix")
    return (*fit_general_quality(flat, scores), "prior")
