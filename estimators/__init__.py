"""Transferability estimators behind `ESTIMATOR_REGISTRY`.

    est = ESTIMATOR_REGISTRY.get("logme")()
    est.score(labels, features=feats, source_probs=probs)  # -> float, higher = better transfer

Each class declares `requires` (a subset of {"features", "source_probs"}); a missing required input
raises `MissingInputError` so the benchmark can report "n/a".
"""
from utils.registry import Registry

ESTIMATOR_REGISTRY = Registry("estimator")

# Explicit imports (not auto-discovery) so that registration order and failures are visible here.
from estimators import (  # noqa: E402
    gbc,
    hscore,
    knn,
    leep,
    linear_probe,
    logme,
    nce,
    nleep,
)
from estimators.base import Estimator, EstimatorInputError, MissingInputError  # noqa: E402


def build_estimator(name: str, **kwargs) -> Estimator:
    """Instantiate the estimator registered as `name` with its hyperparameters."""
    return ESTIMATOR_REGISTRY.get(name)(**kwargs)


__all__ = [
    "ESTIMATOR_REGISTRY",
    "Estimator",
    "EstimatorInputError",
    "MissingInputError",
    "build_estimator",
    "gbc",
    "hscore",
    "knn",
    "leep",
    "linear_probe",
    "logme",
    "nce",
    "nleep",
]
