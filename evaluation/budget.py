"""Budgeted re-ranking: the ranker shortlists its top K, a forward-pass estimator scores those K, and a fusion
fitted on validation datasets combines both (issue 13, part 3).

On the shortlist the final score is a * z(ranker) + (1 - a) * z(estimator), z standardized within the
shortlist; the other models keep the ranker's order below it. K = 0 is the pure ranker; K = None ("all") is
the fusion over every model. `a` is picked from a grid by the mean validation weighted tau (rank=None), and
the headline K is the smallest K whose mean validation weighted tau is within `tolerance` of the best K's:
both are decided on validation families only, never on a test dataset.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from metrics import weighted_tau
from metrics.fusion import fused_scores

ALPHAS = tuple(np.round(np.linspace(0.0, 1.0, 11), 2))
TOLERANCE = 0.005
RULE = ("headline K: the smallest K of [benchmark] budgets whose mean validation weighted tau (rank=None, "
        "over every fold's validation datasets) is within {tol} of the best K's; the fusion weight a of each "
        "fold and K: the grid value 0, 0.1, ..., 1 with the best mean weighted tau on that fold's validation datasets")


def k_label(k: int | None) -> str:
    return "all" if k is None else str(k)


def parse_budgets(values: Sequence[str]) -> list[int | None]:
    """[benchmark] budgets ('0, 4, all') -> [0, 4, None]."""
    out: list[int | None] = []
    for v in values:
        v = str(v).strip().lower()
        out.append(None if v == "all" else int(v))
    return out


Item = tuple[np.ndarray, np.ndarray, np.ndarray]  # (true [M], ranker [M], estimator [M]) of one dataset


def mean_tau(items: Sequence[Item], k: int | None, a: float) -> float:
    return float(np.mean([weighted_tau(t, fused_scores(r, e, k, a)) for t, r, e in items]))


def fit_alpha(items: Sequence[Item], k: int | None, alphas: Sequence[float] = ALPHAS) -> tuple[float, float]:
    """(a, its mean weighted tau rank=None) over the validation `items`; ties go to the larger a (more of the
    cheap ranker). K = 0 does not use a: 1.0."""
    if k == 0 or not items:
        return 1.0, mean_tau(items, 0, 1.0) if items else float("nan")
    taus = [mean_tau(items, k, a) for a in alphas]
    best = max(range(len(alphas)), key=lambda i: (round(taus[i], 12), alphas[i]))
    return float(alphas[best]), float(taus[best])


def choose_k(val_tau: dict[int | None, float], tolerance: float = TOLERANCE) -> int | None:
    """The smallest K (None = all, the largest) whose validation weighted tau is within `tolerance` of the best."""
    best = max(val_tau.values())
    ok = [k for k, v in val_tau.items() if v >= best - tolerance]
    return min(ok, key=lambda k: float("inf") if k is None else k)
