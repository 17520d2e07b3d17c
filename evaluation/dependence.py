"""How task-dependent a method is: per test dataset, the Spearman correlation between its ranking and the
mean-training-score ranking of the same models (1: it ranks every dataset like the global prior; issue 13
measured 0.77 and 0.80 for the weights-only rankers, 0.37 for LogME)."""
from __future__ import annotations

from typing import Any

import numpy as np

from metrics import spearman

PRIOR = "mean_train_score"


def prior_spearman(pred: dict[str, float], prior: dict[str, float]) -> float:
    """Spearman over the models both rank ({model: score} each)."""
    common = [m for m in pred if m in prior]
    return spearman(np.array([prior[m] for m in common]), np.array([pred[m] for m in common]))


def task_dependence(methods: dict[str, Any]) -> dict[str, dict[str, float]]:
    """{method: {fold: mean Spearman to the prior, ..., "all": mean over every test dataset}} from the results'
    methods; {} when the mean_train_score row is not in the benchmark."""
    if PRIOR not in methods:
        return {}
    prior = {d: dict(zip(r["models"], r["predicted"])) for d, r in methods[PRIOR]["datasets"].items()}
    out = {}
    for name, entry in methods.items():
        if name == PRIOR:
            continue
        per: dict[str, list[float]] = {}
        for d, r in entry["datasets"].items():
            if d in prior:
                per.setdefault(r["fold"], []).append(prior_spearman(dict(zip(r["models"], r["predicted"])), prior[d]))
        if per:
            out[name] = {f: float(np.mean(v)) for f, v in sorted(per.items())}
            out[name]["all"] = float(np.mean([x for v in per.values() for x in v]))
    return out
