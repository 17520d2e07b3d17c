"""The training-free probe ranker: each model's probe accuracies (z-scored per probe over the candidates),
weighted by how much the target looks like each probe dataset to the CLIP:

    score_m = sum_j softmax_j(cos(mean target token, mean probe_j token) / temperature) * z(acc_mj)

The baseline a learned ranker must beat to earn its place (issue 13: 0.753 weighted tau on the default world).
"""
from __future__ import annotations

import numpy as np

from metrics.novelty import probe_cosines


def probe_similarity_scores(target_tokens: np.ndarray, probe_means: np.ndarray, accuracy: np.ndarray,
                            temperature: float = 0.05) -> np.ndarray:
    """target_tokens [T, D], probe_means [P, D] (each probe's mean token), accuracy [M, P] -> scores [M]."""
    logits = probe_cosines(target_tokens, probe_means) / temperature
    w = np.exp(logits - logits.max())
    w /= w.sum()
    z = (accuracy - accuracy.mean(0)) / (accuracy.std(0) + 1e-12)
    return z @ w
