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


def shortlist(ranker: np.ndarray, k: int | None) -> np.ndarray:
    """Indices of the ranker's top k (all for None), best first; ties keep the candidates' order."""
    order = np.argsort(-np.asarray(ranker, dtype=np.float64), kind="stable")
    return order if k is None else order[: min(k, len(order))]


def _z(x: np.ndarray) -> np.ndarray:
    sd = x.std()
    return (x - x.mean()) / sd if sd > 1e-12 else np.zeros_like(x)


def fused_scores(ranker: np.ndarray, estimator: np.ndarray, k: int | None, a: float) -> np.ndarray:
    """Final scores [M]: the fusion on the ranker's top k, then the rest in the ranker's order below it.
    `estimator` [M] may hold NaN outside the shortlist (not computed there); NaN inside it ranks lowest."""
    ranker = np.asarray(ranker, dtype=np.float64)
    if k == 0:
        return ranker.copy()
    top = shortlist(ranker, k)
    est = np.asarray(estimator, dtype=np.float64)[top]
    est = np.where(np.isfinite(est), est, np.nanmin(est) - 1.0 if np.isfinite(est).any() else 0.0)
    fused = a * _z(ranker[top]) + (1.0 - a) * _z(est)
    out = np.empty_like(ranker)
    out[top] = fused
    rest = shortlist(ranker, None)[len(top):]  # the same stable order the shortlist was cut from
    out[rest] = fused.min() - 1.0 - np.arange(len(rest))  # below the shortlist, in the ranker's order
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
