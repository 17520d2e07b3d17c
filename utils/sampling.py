"""Class-balanced subsampling (NumPy): the same draw for dataset tokens, ground truth and estimators."""
from __future__ import annotations

import numpy as np


def class_balanced_indices(labels: np.ndarray, per_class: int, seed: int = 0) -> np.ndarray:
    """Up to `per_class` indices of every class, chosen at random (seeded), in ascending order.

    labels: [N] ints. Returns [<= K * per_class] indices; classes with fewer items give all they have.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    picked = [rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in np.unique(labels)]
    return np.sort(np.concatenate(picked)) if picked else np.zeros(0, dtype=np.int64)
